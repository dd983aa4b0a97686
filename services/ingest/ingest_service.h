// Copyright kabar authors.
// The gRPC edge of the ingest service: turns IngestStream and IngestArticle
// calls into Ingester submissions and acks, and nothing else.
#ifndef KABAR_SERVICES_INGEST_INGEST_SERVICE_H_
#define KABAR_SERVICES_INGEST_INGEST_SERVICE_H_

#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "kabar/v1/ingest_service.grpc.pb.h"
#include "services/ingest/ingester.h"

namespace kabar::ingest {

struct IngestServiceOptions {
  // Articles one stream may have submitted but not yet acked. When reached,
  // the service stops reading that stream (gRPC flow control then slows
  // the client), so a fast client cannot grow the queue without bound.
  int max_in_flight_per_stream = 512;
  // IngestStream calls one client (one peer IP address) may have open at
  // once; more are refused with RESOURCE_EXHAUSTED. 0 = no limit.
  int max_streams_per_client = 16;
};

// Thread-safe. `ingester` is not owned and must outlive the service.
class IngestServiceImpl final : public v1::IngestService::CallbackService {
 public:
  IngestServiceImpl(const IngestServiceOptions& options, Ingester* ingester)
      : options_(options), ingester_(ingester) {}

  // The client a call counts against for max_streams_per_client: the peer's
  // address without its port ("ipv4:127.0.0.1:5678" -> "ipv4:127.0.0.1").
  static std::string ClientOf(const std::string& peer);

  grpc::ServerBidiReactor<v1::IngestStreamRequest, v1::IngestAck>* IngestStream(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* IngestArticle(grpc::CallbackServerContext* context,
                                          const v1::IngestArticleRequest* request,
                                          v1::IngestAck* response) override;

 private:
  // Takes one of `client`'s stream slots; false when it has none left.
  bool AcquireStream(const std::string& client);
  void ReleaseStream(const std::string& client);

  const IngestServiceOptions options_;
  Ingester* const ingester_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, int> open_streams_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kabar::ingest

#endif  // KABAR_SERVICES_INGEST_INGEST_SERVICE_H_
