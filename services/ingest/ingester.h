// Copyright kabar authors.
// Ingester: the ingest service's pipeline. Articles from every stream and
// unary call go into one queue; worker threads take whatever is queued (up
// to a batch limit), have the classifier label the batch, have the store
// commit it, and report one ack per article. Batches grow by themselves
// under load and stay small when idle: a worker never waits to fill one.
// Thread-safe.
#ifndef KABAR_SERVICES_INGEST_INGESTER_H_
#define KABAR_SERVICES_INGEST_INGESTER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "clients/cpp/clients.h"
#include "kabar/v1/ingest_service.pb.h"
#include "services/ingest/article_validation.h"

namespace kabar::ingest {

struct IngesterOptions {
  ValidationOptions validation;
  // Most articles per classify/store round trip. Larger batches amortize
  // RPC cost; smaller ones cut latency. Batches only reach this under load.
  int max_batch_size = 64;
  // Batches in flight at once. Two or more overlap classifying one batch
  // with storing the previous.
  int workers = 4;
  // Attempts per downstream call when it fails transiently (UNAVAILABLE,
  // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED: a restart or a blip),
  // with exponential backoff from `retry_backoff`. Store puts are
  // idempotent, so retrying them is safe.
  int max_attempts = 4;
  absl::Duration retry_backoff = absl::Milliseconds(100);
  // Topics per article asked of the classifier.
  int top_k_topics = 3;
};

class Ingester final {
 public:
  // Called exactly once per submitted article, from any thread: the ack
  // (ACCEPTED or DUPLICATE once stored; REJECTED when invalid), or a
  // non-OK status when the classifier or store failed (UNAVAILABLE naming
  // the peer): the article was then not stored.
  using AckCallback = std::function<void(absl::StatusOr<v1::IngestAck>)>;

  Ingester(const IngesterOptions& options,
           std::unique_ptr<client::ClassifyClient> classifier,
           std::unique_ptr<client::StoreClient> store);
  // Finishes queued work, then stops the workers.
  ~Ingester();
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // Validates `article` and queues it. A rejection is reported before
  // Submit returns; other outcomes later, from a worker thread.
  void Submit(uint64_t sequence, v1::Article article, AckCallback done);

 private:
  struct Pending {
    uint64_t sequence;
    v1::Article article;
    AckCallback done;
  };

  void WorkLoop();
  void ProcessBatch(std::vector<Pending> batch);
  // Runs `call` until it succeeds, fails permanently, or runs out of
  // attempts (then UNAVAILABLE with the last error's message).
  template <typename Call>
  auto WithRetries(Call call) -> decltype(call());

  const IngesterOptions options_;
  const std::unique_ptr<client::ClassifyClient> classifier_;
  const std::unique_ptr<client::StoreClient> store_;

  absl::Mutex mu_;
  std::deque<Pending> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace kabar::ingest

#endif  // KABAR_SERVICES_INGEST_INGESTER_H_
