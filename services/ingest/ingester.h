// Copyright kabar authors.
// Ingester: the ingest service's pipeline. Articles from every stream and
// unary call are validated, then written to the spool (the write-ahead log;
// one fsync per group of articles, however many streams they came from),
// then worker threads take whatever is spooled (up to a batch limit), have
// the classifier label the batch and the store commit it, ack each article,
// and mark it done in the spool. Batches grow by themselves under load and
// stay small when idle: nobody waits to fill one.
//
// An article is acked only once the store committed it, so ACCEPTED means
// stored and labeled. When classify or store keeps failing, the waiting
// clients get UNAVAILABLE naming the peer, but the spooled articles stay
// and are retried until they are stored, also after a restart of ingest.
// The store is idempotent by id, so a replay or a client's resend never
// stores an article twice. Thread-safe.
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
#include "services/ingest/spool.h"

namespace kabar::ingest {

struct IngesterOptions {
  ValidationOptions validation;
  SpoolOptions spool;
  // Most articles per classify/store round trip. Larger batches amortize
  // RPC cost; smaller ones cut latency. Batches only reach this under load.
  int max_batch_size = 64;
  // Batches in flight at once. Two or more overlap classifying one batch
  // with storing the previous.
  int workers = 4;
  // Attempts per downstream call before the waiting clients are told
  // UNAVAILABLE; transient failures (UNAVAILABLE, CANCELLED,
  // DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED) are retried with exponential
  // backoff from `retry_backoff` up to `max_retry_backoff`, with jitter.
  // After that the batch stays spooled and is retried at the maximum
  // backoff until it is stored.
  int max_attempts = 4;
  absl::Duration retry_backoff = absl::Milliseconds(100);
  absl::Duration max_retry_backoff = absl::Seconds(5);
  // Topics per article asked of the classifier.
  int top_k_topics = 3;
};

class Ingester final {
 public:
  // Called exactly once per submitted article, from any thread: the ack
  // (ACCEPTED or DUPLICATE once stored; REJECTED when invalid), or a
  // non-OK status: UNAVAILABLE naming the peer when classify or store keeps
  // failing (the article is spooled and will be stored later; resending it
  // is safe), RESOURCE_EXHAUSTED when the spool is full (not accepted).
  using AckCallback = std::function<void(absl::StatusOr<v1::IngestAck>)>;

  // Opens the spool (replaying what it holds) and starts the workers.
  static absl::StatusOr<std::unique_ptr<Ingester>> Create(
      const IngesterOptions& options, std::unique_ptr<client::ClassifyClient> classifier,
      std::unique_ptr<client::StoreClient> store);

  // Stops the workers. Articles not yet stored stay in the spool; waiting
  // callbacks get UNAVAILABLE.
  ~Ingester();
  Ingester(const Ingester&) = delete;
  Ingester& operator=(const Ingester&) = delete;

  // Validates `article` and queues it. A rejection is reported before
  // Submit returns; other outcomes later, from a worker thread.
  // `request_id` (the client's x-request-id) goes with the article to the
  // classify and store calls and into log lines about its batch.
  void Submit(uint64_t sequence, v1::Article article, AckCallback done,
              std::string request_id = "");

  // Articles spooled and not yet stored.
  size_t pending() const { return spool_->pending(); }

 private:
  struct Pending {
    uint64_t sequence = 0;
    v1::Article article;
    AckCallback done;  // null for articles replayed from the spool
    uint64_t spool_id = 0;
    std::string request_id;
  };

  Ingester(const IngesterOptions& options, std::unique_ptr<client::ClassifyClient> classifier,
           std::unique_ptr<client::StoreClient> store, std::unique_ptr<Spool> spool);

  void SpoolLoop();
  void WorkLoop();
  // Classifies and stores `batch` until it is stored or the ingester stops.
  void ProcessBatch(std::vector<Pending> batch);
  // One classify + store round with retries; the acks on success.
  absl::StatusOr<std::vector<v1::IngestAck>> ForwardOnce(const std::vector<Pending>& batch,
                                                         int max_attempts);
  // The x-request-id of `batch`'s downstream calls.
  static std::string BatchRequestId(const std::vector<Pending>& batch);
  template <typename Call>
  auto WithRetries(int max_attempts, Call call) -> decltype(call());
  // Sleeps up to `duration`; false when the ingester is stopping.
  bool SleepUnlessStopping(absl::Duration duration);

  const IngesterOptions options_;
  const std::unique_ptr<client::ClassifyClient> classifier_;
  const std::unique_ptr<client::StoreClient> store_;
  const std::unique_ptr<Spool> spool_;
  // What the metrics collector reads the spool through; cleared on
  // destruction (the collector outlives the ingester).
  struct Alive {
    absl::Mutex mu;
    const Spool* spool ABSL_GUARDED_BY(mu) = nullptr;
  };
  const std::shared_ptr<Alive> alive_ = std::make_shared<Alive>();

  absl::Mutex mu_;
  std::deque<Pending> incoming_ ABSL_GUARDED_BY(mu_);  // validated, not spooled
  std::deque<Pending> spooled_ ABSL_GUARDED_BY(mu_);   // durable, not stored
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace kabar::ingest

#endif  // KABAR_SERVICES_INGEST_INGESTER_H_
