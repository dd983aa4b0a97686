// Copyright kabar authors.
// ClassifierServiceImpl: the gRPC edge of the classify service
// (kabar.v1.ClassifierService). It validates requests, takes the current
// classifier from the ModelRegistry once per call, spreads a batch over a
// worker pool, and converts absl::Status to grpc::Status once, in one
// helper shared by every rpc.
#ifndef KABAR_SERVICES_CLASSIFY_CLASSIFY_SERVICE_H_
#define KABAR_SERVICES_CLASSIFY_CLASSIFY_SERVICE_H_

#include <atomic>
#include <cstdint>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "absl/status/status.h"
#include "kabar/v1/classify_service.grpc.pb.h"
#include "services/classify/model_registry.h"
#include "services/common/thread_pool.h"

namespace kabar::classify {

// Fully qualified service name, as reported by the health service.
inline constexpr char kClassifierServiceName[] = "kabar.v1.ClassifierService";

// Thread-safe. Owns its worker threads; does not own the registry.
class ClassifierServiceImpl final
    : public v1::ClassifierService::CallbackService {
 public:
  struct Options {
    // Largest batch ClassifyBatch accepts; larger ones get INVALID_ARGUMENT.
    // Default 1024: a few MB of news articles, classified in about a second
    // on two cores, so one call cannot hog the server for long.
    int max_batch_size = 1024;
    // Worker threads a batch is spread over (the gRPC thread handling the
    // call works too). <= 0 means one per hardware thread.
    int num_threads = 0;
  };

  // REQUIRES: `registry` outlives the service.
  ClassifierServiceImpl(ModelRegistry* registry, const Options& options);
  ~ClassifierServiceImpl() override;

  grpc::ServerUnaryReactor* ClassifyBatch(
      grpc::CallbackServerContext* context,
      const v1::ClassifyBatchRequest* request,
      v1::ClassifyBatchResponse* response) override;

  grpc::ServerUnaryReactor* GetModels(grpc::CallbackServerContext* context,
                                      const v1::GetModelsRequest* request,
                                      v1::GetModelsResponse* response) override;

  // Loads on a dedicated thread, so neither gRPC's callback threads nor the
  // classification workers wait for the disk.
  grpc::ServerUnaryReactor* ReloadModels(
      grpc::CallbackServerContext* context,
      const v1::ReloadModelsRequest* request,
      v1::ReloadModelsResponse* response) override;

 private:
  absl::Status DoClassifyBatch(const v1::ClassifyBatchRequest& request,
                               v1::ClassifyBatchResponse* response);

  const Options options_;
  ModelRegistry* const registry_;
  // Classification workers. ParallelFor is only called from gRPC threads,
  // never from these.
  common::ThreadPool workers_;
  // One thread for reloads, which the registry serializes anyway.
  common::ThreadPool reloader_;
  // Texts labeled by successful ClassifyBatch calls; GetModels reports it.
  std::atomic<uint64_t> texts_classified_{0};
};

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_CLASSIFY_SERVICE_H_
