// Copyright kabar authors.
// Finding model files. --language_model and --topic_model default to
// relative paths ("models/lid.176.ftz"), which should work whether
// kabar-classify runs from the source tree, from a build directory
// (build/bin/kabar-classify finds build/bin/../../models) or installed (with
// models in /usr/share/kabar/models). Pure functions over a ModelSearchPath,
// so tests need not change the process's working directory.
#ifndef KABAR_SERVICES_CLASSIFY_MODEL_PATHS_H_
#define KABAR_SERVICES_CLASSIFY_MODEL_PATHS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kabar::classify {

// Where relative model paths are looked up, in this order.
struct ModelSearchPath {
  // The working directory. Absolute.
  std::string working_dir;
  // The directory holding the running binary; it and each of its parents
  // are searched. Absolute; empty to skip.
  std::string binary_dir;
  // Installed data, searched last. Empty to skip.
  std::string data_dir = "/usr/share/kabar";
};

// The working directory, the directory of /proc/self/exe, and
// /usr/share/kabar.
ModelSearchPath DefaultModelSearchPath();

// The absolute, lexically normalized paths `path` may name, in search
// order and without duplicates: `path` itself when absolute; otherwise
// working_dir/path, then binary_dir/path, binary_dir/../path, ... up to
// /path, then data_dir/path.
std::vector<std::string> CandidateModelPaths(const std::string& path,
                                             const ModelSearchPath& search);

// The first candidate that is an existing regular file. NOT_FOUND naming
// every path tried when none is; INVALID_ARGUMENT when `path` is empty.
absl::StatusOr<std::string> ResolveModelPath(const std::string& path,
                                             const ModelSearchPath& search);

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_MODEL_PATHS_H_
