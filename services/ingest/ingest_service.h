// Copyright kabar authors.
// The gRPC edge of the ingest service: turns IngestStream and IngestArticle
// calls into Ingester submissions and acks, and nothing else.
#ifndef KABAR_SERVICES_INGEST_INGEST_SERVICE_H_
#define KABAR_SERVICES_INGEST_INGEST_SERVICE_H_

#include "kabar/v1/ingest_service.grpc.pb.h"
#include "services/ingest/ingester.h"

namespace kabar::ingest {

struct IngestServiceOptions {
  // Articles one stream may have submitted but not yet acked. When reached,
  // the service stops reading that stream (gRPC flow control then slows
  // the client), so a fast client cannot grow the queue without bound.
  int max_in_flight_per_stream = 512;
};

// Thread-safe. `ingester` is not owned and must outlive the service.
class IngestServiceImpl final : public v1::IngestService::CallbackService {
 public:
  IngestServiceImpl(const IngestServiceOptions& options, Ingester* ingester)
      : options_(options), ingester_(ingester) {}

  grpc::ServerBidiReactor<v1::IngestStreamRequest, v1::IngestAck>* IngestStream(
      grpc::CallbackServerContext* context) override;

  grpc::ServerUnaryReactor* IngestArticle(grpc::CallbackServerContext* context,
                                          const v1::IngestArticleRequest* request,
                                          v1::IngestAck* response) override;

 private:
  const IngestServiceOptions options_;
  Ingester* const ingester_;
};

}  // namespace kabar::ingest

#endif  // KABAR_SERVICES_INGEST_INGEST_SERVICE_H_
