// Copyright kabar authors.
#include "services/ingest/ingester.h"

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"

namespace kabar::ingest {
namespace {

// Most articles written to the spool in one group (one fsync).
constexpr size_t kMaxSpoolGroup = 1024;

// A downstream call that failed this way may succeed on another attempt:
// the peer is restarting, shutting down (which cancels calls in flight) or
// overloaded.
bool IsTransient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kCancelled ||
         code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kResourceExhausted;
}

// Full jitter: a random wait in [backoff/2, backoff], so replicas retrying
// after the same outage do not arrive in lockstep.
absl::Duration Jittered(absl::Duration backoff) {
  thread_local std::minstd_rand random(std::random_device{}());
  std::uniform_real_distribution<double> fraction(0.5, 1.0);
  return backoff * fraction(random);
}

void CountArticle(absl::string_view outcome, absl::string_view reason = "") {
  common::MetricLabels labels = {{"outcome", std::string(outcome)}};
  if (!reason.empty()) labels.emplace_back("reason", std::string(reason));
  common::Metrics()
      .GetCounter("kabar_ingest_articles_total",
                  "Articles answered, by outcome (accepted, duplicate, rejected) and, for "
                  "rejections, reason.",
                  labels)
      .Increment();
}

void ObserveCall(absl::string_view peer, absl::Duration elapsed) {
  common::Metrics()
      .GetHistogram("kabar_ingest_downstream_seconds",
                    "Time of each batch's classify or store call, retries included.",
                    common::LatencyBuckets(), {{"peer", std::string(peer)}})
      .Observe(absl::ToDoubleSeconds(elapsed));
}

}  // namespace

std::string Ingester::BatchRequestId(const std::vector<Pending>& batch) {
  // One request (the usual case: one client streaming): its own id. Several:
  // a batch id, logged once with the request ids it covers.
  std::vector<absl::string_view> ids;
  for (const Pending& pending : batch) {
    if (pending.request_id.empty()) continue;
    if (std::find(ids.begin(), ids.end(), pending.request_id) == ids.end()) {
      ids.push_back(pending.request_id);
    }
  }
  if (ids.size() == 1) return std::string(ids.front());
  const std::string batch_id = absl::StrCat("batch-", common::NewRequestId());
  if (!ids.empty() && common::LogEnabled(common::LogLevel::kDebug)) {
    common::ScopedRequestId scope(batch_id);
    common::LogDebug("batch of several requests",
                     {{"articles", absl::StrCat(batch.size())},
                      {"request_ids", absl::StrJoin(ids, ",")}});
  }
  return batch_id;
}

absl::StatusOr<std::unique_ptr<Ingester>> Ingester::Create(
    const IngesterOptions& options, std::unique_ptr<client::ClassifyClient> classifier,
    std::unique_ptr<client::StoreClient> store) {
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options.spool);
  if (!spool.ok()) return spool.status();
  return std::unique_ptr<Ingester>(new Ingester(options, std::move(classifier),
                                                std::move(store), *std::move(spool)));
}

Ingester::Ingester(const IngesterOptions& options,
                   std::unique_ptr<client::ClassifyClient> classifier,
                   std::unique_ptr<client::StoreClient> store, std::unique_ptr<Spool> spool)
    : options_(options),
      classifier_(std::move(classifier)),
      store_(std::move(store)),
      spool_(std::move(spool)) {
  {
    absl::MutexLock lock(&alive_->mu);
    alive_->spool = spool_.get();
  }
  {
    absl::MutexLock lock(&mu_);
    for (SpoolRecord& record : spool_->TakeRecovered()) {
      Pending pending;
      pending.spool_id = record.id;
      if (!pending.article.ParseFromString(record.payload)) {
        common::LogError(absl::StrCat("spool record ", record.id,
                                      " is not an article; dropping it"));
        spool_->MarkDone(record.id);
        continue;
      }
      spooled_.push_back(std::move(pending));
    }
  }
  // Read at scrape time. The spool outlives nothing the registry keeps, so
  // the collector reads through a weak flag cleared by the destructor.
  common::Metrics().AddCollector([alive = alive_] {
    absl::MutexLock lock(&alive->mu);
    if (alive->spool == nullptr) return;
    common::Metrics()
        .GetGauge("kabar_ingest_spool_records", "Articles spooled and not yet stored.")
        .Set(static_cast<double>(alive->spool->pending()));
    common::Metrics()
        .GetGauge("kabar_ingest_spool_bytes", "Bytes the spool holds on disk.")
        .Set(static_cast<double>(alive->spool->bytes()));
  });
  threads_.emplace_back([this] { SpoolLoop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i) {
    threads_.emplace_back([this] { WorkLoop(); });
  }
}

Ingester::~Ingester() {
  {
    absl::MutexLock lock(&alive_->mu);
    alive_->spool = nullptr;
  }
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& thread : threads_) thread.join();
  const absl::Status stopped =
      absl::UnavailableError("ingest is shutting down; resend unacknowledged articles");
  for (Pending& pending : incoming_) pending.done(stopped);
  for (Pending& pending : spooled_) {
    if (pending.done) pending.done(stopped);
  }
}

void Ingester::Submit(uint64_t sequence, v1::Article article, AckCallback done,
                      std::string request_id) {
  const std::string client_id = article.id();
  absl::StatusOr<v1::Article> prepared =
      PrepareArticle(std::move(article), options_.validation);
  if (!prepared.ok()) {
    CountArticle("rejected", RejectionReason(prepared.status()));
    if (common::LogEnabled(common::LogLevel::kDebug)) {
      common::ScopedRequestId scope(request_id);
      common::LogDebug("article rejected",
                       {{"sequence", absl::StrCat(sequence)},
                        {"reason", std::string(prepared.status().message())}});
    }
    v1::IngestAck ack;
    ack.set_sequence(sequence);
    ack.set_id(client_id);
    ack.set_status(v1::ACK_STATUS_REJECTED);
    ack.set_reason(std::string(prepared.status().message()));
    done(std::move(ack));
    return;
  }
  Pending pending;
  pending.sequence = sequence;
  pending.article = *std::move(prepared);
  pending.done = std::move(done);
  pending.request_id = std::move(request_id);
  absl::MutexLock lock(&mu_);
  incoming_.push_back(std::move(pending));
}

void Ingester::SpoolLoop() {
  while (true) {
    std::vector<Pending> group;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Ingester* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->incoming_.empty();
          },
          this));
      if (stopping_) return;
      const size_t take = std::min(incoming_.size(), kMaxSpoolGroup);
      for (size_t i = 0; i < take; ++i) {
        group.push_back(std::move(incoming_.front()));
        incoming_.pop_front();
      }
    }
    std::vector<std::string> payloads;
    payloads.reserve(group.size());
    for (const Pending& pending : group) {
      payloads.push_back(pending.article.SerializeAsString());
    }
    absl::StatusOr<std::vector<uint64_t>> ids = spool_->Append(payloads);
    if (!ids.ok()) {
      if (!absl::IsResourceExhausted(ids.status())) {
        common::LogError(absl::StrCat("spool append failed: ", ids.status().message()));
      }
      for (Pending& pending : group) pending.done(ids.status());
      continue;
    }
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < group.size(); ++i) {
      group[i].spool_id = (*ids)[i];
      spooled_.push_back(std::move(group[i]));
    }
  }
}

void Ingester::WorkLoop() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Ingester* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->spooled_.empty();
          },
          this));
      if (stopping_) return;
      const size_t take =
          std::min(spooled_.size(), static_cast<size_t>(options_.max_batch_size));
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(spooled_.front()));
        spooled_.pop_front();
      }
    }
    ProcessBatch(std::move(batch));
  }
}

bool Ingester::SleepUnlessStopping(absl::Duration duration) {
  absl::MutexLock lock(&mu_);
  return !mu_.AwaitWithTimeout(absl::Condition(&stopping_), duration);
}

template <typename Call>
auto Ingester::WithRetries(int max_attempts, Call call) -> decltype(call()) {
  absl::Duration backoff = options_.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    auto result = call();
    if (result.ok() || !IsTransient(result.status().code())) return result;
    if (attempt >= max_attempts) {
      // To a client, a peer that kept failing is unavailable, whatever the
      // last attempt's code.
      return absl::UnavailableError(result.status().message());
    }
    common::LogWarning(absl::StrCat("attempt ", attempt, " failed, retrying: ",
                                    result.status().message()));
    if (!SleepUnlessStopping(Jittered(backoff))) {
      return absl::UnavailableError(absl::StrCat("ingest is shutting down; last error: ",
                                                 result.status().message()));
    }
    backoff = std::min(backoff * 2, options_.max_retry_backoff);
  }
}

absl::StatusOr<std::vector<v1::IngestAck>> Ingester::ForwardOnce(
    const std::vector<Pending>& batch, int max_attempts) {
  v1::ClassifyBatchRequest classify_request;
  classify_request.set_top_k_topics(options_.top_k_topics);
  for (const Pending& pending : batch) {
    v1::TextToClassify* text = classify_request.add_texts();
    text->set_title(pending.article.title());
    text->set_body(pending.article.body());
  }
  const absl::Time classify_start = absl::Now();
  absl::StatusOr<v1::ClassifyBatchResponse> labels = WithRetries(
      max_attempts, [&] { return classifier_->ClassifyBatch(classify_request); });
  ObserveCall("classify", absl::Now() - classify_start);
  if (!labels.ok()) return labels.status();
  if (labels->labels_size() != static_cast<int>(batch.size())) {
    return absl::InternalError(absl::StrCat(classifier_->peer(), " answered ",
                                            labels->labels_size(), " labels for ",
                                            batch.size(), " texts"));
  }

  v1::PutArticlesRequest put_request;
  for (size_t i = 0; i < batch.size(); ++i) {
    v1::StoredArticle* stored = put_request.add_articles();
    *stored->mutable_article() = batch[i].article;
    *stored->mutable_labels() = labels->labels(static_cast<int>(i));
  }
  const absl::Time store_start = absl::Now();
  absl::StatusOr<v1::PutArticlesResponse> put =
      WithRetries(max_attempts, [&] { return store_->PutArticles(put_request); });
  ObserveCall("store", absl::Now() - store_start);
  if (!put.ok()) return put.status();
  if (put->results_size() != static_cast<int>(batch.size())) {
    return absl::InternalError(absl::StrCat(store_->peer(), " answered ",
                                            put->results_size(), " results for ",
                                            batch.size(), " articles"));
  }

  std::vector<v1::IngestAck> acks(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const int index = static_cast<int>(i);
    v1::IngestAck& ack = acks[i];
    ack.set_sequence(batch[i].sequence);
    ack.set_id(batch[i].article.id());
    if (put->results(index).outcome() == v1::PUT_OUTCOME_INSERTED) {
      ack.set_status(v1::ACK_STATUS_ACCEPTED);
      *ack.mutable_labels() = labels->labels(index);
      CountArticle("accepted");
    } else {
      ack.set_status(v1::ACK_STATUS_DUPLICATE);
      CountArticle("duplicate");
    }
  }
  return acks;
}

void Ingester::ProcessBatch(std::vector<Pending> batch) {
  // The classify and store calls carry the request id (clients.h reads it
  // from the thread), and so do the log lines about them.
  common::ScopedRequestId scope(BatchRequestId(batch));
  absl::StatusOr<std::vector<v1::IngestAck>> acks =
      ForwardOnce(batch, options_.max_attempts);
  while (!acks.ok()) {
    const absl::StatusCode code = acks.status().code();
    if (code == absl::StatusCode::kUnauthenticated ||
        code == absl::StatusCode::kPermissionDenied) {
      // Classify or store refused ingest's own token or certificate: a
      // deployment mistake, not the client's, and not the articles' fault.
      // Keep them spooled and retry; a restart with working credentials
      // replays them.
      acks = absl::UnavailableError(absl::StrCat(
          "ingest's credentials were refused (fix its --token_file or "
          "--tls_client_cert); the articles stay spooled: ",
          acks.status().message()));
    }
    // Tell whoever waits, once; keep the articles, which are spooled.
    for (Pending& pending : batch) {
      if (pending.done) std::exchange(pending.done, nullptr)(acks.status());
    }
    if (!IsTransient(acks.status().code())) {
      // Not something a retry fixes (e.g. the store rejects the batch): the
      // articles cannot be stored; drop them from the spool.
      common::LogError(absl::StrCat("dropping ", batch.size(),
                                    " spooled articles: ", acks.status().message()));
      break;
    }
    if (!SleepUnlessStopping(Jittered(options_.max_retry_backoff))) return;
    acks = ForwardOnce(batch, 1);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (acks.ok() && batch[i].done) batch[i].done(std::move((*acks)[i]));
    spool_->MarkDone(batch[i].spool_id);
  }
}

}  // namespace kabar::ingest
