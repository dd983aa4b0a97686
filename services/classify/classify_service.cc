// Copyright kabar authors.
#include "services/classify/classify_service.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "services/common/rpc_observability.h"
#include "services/common/status_util.h"

namespace kabar::classify {
namespace {

// The plumbing every rpc shares, written once: refuse work whose deadline
// has already passed, run `handler`, log a failure with the method name and
// latency, convert the status once and finish the call.
void RunUnary(grpc::CallbackServerContext* context,
              grpc::ServerUnaryReactor* reactor, absl::string_view method,
              const std::function<absl::Status()>& handler) {
  const absl::Time start = absl::Now();
  common::ScopedRequestId request_id(common::RequestIdOf(*context));
  absl::Status status;
  if (context->deadline() <= std::chrono::system_clock::now()) {
    status = absl::DeadlineExceededError(
        absl::StrCat(method, ": deadline passed before work began"));
  } else {
    status = handler();
  }
  if (!status.ok()) {
    common::LogWarning(absl::StrCat(
        method, " from ", context->peer(), " failed after ",
        absl::FormatDuration(absl::Now() - start), ": ", status.ToString()));
  }
  reactor->Finish(common::ToGrpcStatus(status));
}

// Runs `handler` on the calling gRPC thread, for short CPU work.
grpc::ServerUnaryReactor* Serve(grpc::CallbackServerContext* context,
                                absl::string_view method,
                                const std::function<absl::Status()>& handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  RunUnary(context, reactor, method, handler);
  return reactor;
}

// Runs `handler` on `executor`, for work too slow for a gRPC thread. The
// context stays valid until the reactor finishes.
grpc::ServerUnaryReactor* ServeOn(common::ThreadPool* executor,
                                  grpc::CallbackServerContext* context,
                                  absl::string_view method,
                                  std::function<absl::Status()> handler) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  executor->Schedule([context, reactor, method, handler = std::move(handler)] {
    RunUnary(context, reactor, method, handler);
  });
  return reactor;
}

}  // namespace

ClassifierServiceImpl::ClassifierServiceImpl(ModelRegistry* registry,
                                             const Options& options)
    : options_(options),
      registry_(registry),
      workers_(options.num_threads),
      reloader_(1) {}

ClassifierServiceImpl::~ClassifierServiceImpl() = default;

grpc::ServerUnaryReactor* ClassifierServiceImpl::ClassifyBatch(
    grpc::CallbackServerContext* context,
    const v1::ClassifyBatchRequest* request,
    v1::ClassifyBatchResponse* response) {
  // The batch runs on this gRPC thread plus the workers: ParallelFor must
  // not be called from a worker.
  return Serve(context, "ClassifyBatch",
               [&] { return DoClassifyBatch(*request, response); });
}

absl::Status ClassifierServiceImpl::DoClassifyBatch(
    const v1::ClassifyBatchRequest& request,
    v1::ClassifyBatchResponse* response) {
  const int count = request.texts_size();
  if (count > options_.max_batch_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch of ", count, " texts exceeds the limit of ",
                     options_.max_batch_size, "; split it"));
  }
  if (request.top_k_topics() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k_topics must be >= 0 (0 = default); got ",
                     request.top_k_topics()));
  }
  // One classifier for the whole batch, even if a reload swaps it meanwhile.
  const std::shared_ptr<const Classifier> classifier = registry_->current();
  if (classifier == nullptr) {
    return absl::FailedPreconditionError("no model is loaded");
  }
  static common::Histogram& batch_sizes = common::Metrics().GetHistogram(
      "kabar_classify_batch_size", "Texts per ClassifyBatch call.",
      {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024});
  batch_sizes.Observe(count);
  response->mutable_labels()->Reserve(count);
  for (int i = 0; i < count; ++i) response->add_labels();
  std::vector<absl::Status> failures(count);
  workers_.ParallelFor(count, [&](int i) {
    // Each index writes only its own slots.
    const v1::TextToClassify& text = request.texts(i);
    absl::StatusOr<v1::Labels> labels =
        classifier->Classify(text.title(), text.body(), request.top_k_topics());
    if (labels.ok()) {
      *response->mutable_labels(i) = std::move(labels).value();
    } else {
      failures[i] = labels.status();
    }
  });
  for (int i = 0; i < count; ++i) {
    if (!failures[i].ok()) {
      response->clear_labels();
      return absl::Status(
          failures[i].code(),
          absl::StrCat("texts[", i, "]: ", failures[i].message()));
    }
  }
  texts_classified_.fetch_add(static_cast<uint64_t>(count),
                              std::memory_order_relaxed);
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::GetModels(
    grpc::CallbackServerContext* context, const v1::GetModelsRequest* request,
    v1::GetModelsResponse* response) {
  return Serve(context, "GetModels", [&] {
    for (v1::ModelInfo& model : registry_->current()->Models()) {
      *response->add_models() = std::move(model);
    }
    response->set_texts_classified(
        texts_classified_.load(std::memory_order_relaxed));
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* ClassifierServiceImpl::ReloadModels(
    grpc::CallbackServerContext* context,
    const v1::ReloadModelsRequest* request,
    v1::ReloadModelsResponse* response) {
  return ServeOn(&reloader_, context, "ReloadModels", [this, response] {
    absl::StatusOr<std::shared_ptr<const Classifier>> reloaded =
        registry_->Reload();
    if (!reloaded.ok()) return reloaded.status();
    for (v1::ModelInfo& model : (*reloaded)->Models()) {
      *response->add_models() = std::move(model);
    }
    return absl::OkStatus();
  });
}

}  // namespace kabar::classify
