// Copyright kabar authors.
#include "services/classify/model_registry.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/logging.h"
#include "services/common/status_macros.h"

namespace kabar::classify {
namespace {

// "language models/lid.176.ftz (sha256 8f3472cfe873), topic ..." for logs.
std::string Describe(const Classifier& classifier) {
  std::string out;
  for (const v1::ModelInfo& model : classifier.Models()) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", model.role(), " ",
                    model.path(), " (sha256 ",
                    model.identity().sha256().substr(0, 12), ")");
  }
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelRegistry>> ModelRegistry::Create(
    Loader loader) {
  KABAR_ASSIGN_OR_RETURN(std::shared_ptr<const Classifier> first, loader());
  common::LogInfo(absl::StrCat("loaded ", Describe(*first)));
  return std::unique_ptr<ModelRegistry>(
      new ModelRegistry(std::move(loader), std::move(first)));
}

std::shared_ptr<const Classifier> ModelRegistry::current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

absl::StatusOr<std::shared_ptr<const Classifier>> ModelRegistry::Reload() {
  absl::MutexLock reload_lock(&reload_mu_);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<const Classifier>> loaded = loader_();
  if (!loaded.ok()) {
    const std::string message =
        absl::StrCat("reload failed, still serving the previous models: ",
                     loaded.status().message());
    common::LogError(message);
    return absl::FailedPreconditionError(message);
  }
  std::shared_ptr<const Classifier> next = std::move(loaded).value();
  std::shared_ptr<const Classifier> previous;
  {
    absl::MutexLock lock(&mu_);
    previous = std::exchange(current_, next);
  }
  // `previous` is released here, outside mu_; if requests still hold it,
  // the last of them frees it.
  common::LogInfo(absl::StrCat("reloaded in ",
                               absl::FormatDuration(absl::Now() - start), ": ",
                               Describe(*next)));
  return next;
}

}  // namespace kabar::classify
