// Copyright kabar authors.
// ModelRegistry: holds the classifier the service currently answers with and
// replaces it on reload (SIGHUP or the ReloadModels rpc). Loading happens in
// Reload(), on the caller's thread and off the request path; only the final
// pointer swap takes a lock. A request copies the pointer once, so calls in
// flight finish on the classifier they started with and the old one is freed
// when the last of them ends. A failed load keeps the old classifier.
#ifndef KABAR_SERVICES_CLASSIFY_MODEL_REGISTRY_H_
#define KABAR_SERVICES_CLASSIFY_MODEL_REGISTRY_H_

#include <functional>
#include <memory>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/classify/classifier.h"

namespace kabar::classify {

// Thread-safe.
class ModelRegistry final {
 public:
  // Builds a classifier from its configuration, e.g. by calling
  // FastTextClassifier::Create with fixed options. Called once by Create and
  // once per Reload, possibly from different threads (never concurrently).
  using Loader =
      std::function<absl::StatusOr<std::unique_ptr<const Classifier>>()>;

  // Loads the first classifier. Returns the loader's error when that fails;
  // a registry always has a classifier.
  static absl::StatusOr<std::unique_ptr<ModelRegistry>> Create(Loader loader);

  ModelRegistry(const ModelRegistry&) = delete;
  ModelRegistry& operator=(const ModelRegistry&) = delete;

  // The classifier to use for one request. Never null. Hold the returned
  // pointer for the whole request rather than calling this per item, so one
  // request never mixes two model versions.
  std::shared_ptr<const Classifier> current() const;

  // Loads a new classifier with the loader and, on success, makes it
  // current and returns it. On failure current() is unchanged, the failure
  // is logged, and the error is FAILED_PRECONDITION carrying the loader's
  // message (which names the bad file). Concurrent calls are serialized.
  absl::StatusOr<std::shared_ptr<const Classifier>> Reload();

 private:
  ModelRegistry(Loader loader, std::shared_ptr<const Classifier> first)
      : loader_(std::move(loader)), current_(std::move(first)) {}

  const Loader loader_;
  // Held for a whole Reload so two reloads do not load in parallel.
  absl::Mutex reload_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Held only to read or swap current_.
  mutable absl::Mutex mu_;
  std::shared_ptr<const Classifier> current_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_MODEL_REGISTRY_H_
