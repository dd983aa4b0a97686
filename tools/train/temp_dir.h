// Copyright kabar authors.
// A private temporary directory that is removed, with its contents, when
// the owner goes away. kabar-train keeps its intermediate fastText files
// there. Not thread-safe.
#ifndef KABAR_TOOLS_TRAIN_TEMP_DIR_H_
#define KABAR_TOOLS_TRAIN_TEMP_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kabar::train {

class TempDir final {
 public:
  // Creates a directory under $TMPDIR (default /tmp). INTERNAL on failure.
  static absl::StatusOr<std::unique_ptr<TempDir>> Create();

  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string File(const std::string& name) const;

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  const std::string path_;
};

}  // namespace kabar::train

#endif  // KABAR_TOOLS_TRAIN_TEMP_DIR_H_
