// Copyright kabar authors.
#include "services/classify/model_paths.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kabar::classify {

namespace fs = std::filesystem;

ModelSearchPath DefaultModelSearchPath() {
  ModelSearchPath search;
  std::error_code error;
  search.working_dir = fs::current_path(error).string();
  const fs::path binary = fs::read_symlink("/proc/self/exe", error);
  if (!error) search.binary_dir = binary.parent_path().string();
  return search;
}

std::vector<std::string> CandidateModelPaths(const std::string& path,
                                             const ModelSearchPath& search) {
  std::vector<std::string> candidates;
  const auto add = [&](const fs::path& candidate) {
    std::string normal = candidate.lexically_normal().string();
    if (std::find(candidates.begin(), candidates.end(), normal) ==
        candidates.end()) {
      candidates.push_back(std::move(normal));
    }
  };
  const fs::path relative(path);
  if (path.empty()) return candidates;
  if (relative.is_absolute()) {
    add(relative);
    return candidates;
  }
  if (!search.working_dir.empty()) add(fs::path(search.working_dir) / relative);
  if (!search.binary_dir.empty()) {
    fs::path dir = fs::path(search.binary_dir).lexically_normal();
    while (true) {
      add(dir / relative);
      if (!dir.has_relative_path()) break;  // reached the root
      dir = dir.parent_path();
    }
  }
  if (!search.data_dir.empty()) add(fs::path(search.data_dir) / relative);
  return candidates;
}

absl::StatusOr<std::string> ResolveModelPath(const std::string& path,
                                             const ModelSearchPath& search) {
  if (path.empty()) return absl::InvalidArgumentError("model path is empty");
  const std::vector<std::string> candidates = CandidateModelPaths(path, search);
  for (const std::string& candidate : candidates) {
    std::error_code error;
    if (fs::is_regular_file(candidate, error)) return candidate;
  }
  return absl::NotFoundError(absl::StrCat(
      "model ", path, " not found; tried: ", absl::StrJoin(candidates, ", ")));
}

}  // namespace kabar::classify
