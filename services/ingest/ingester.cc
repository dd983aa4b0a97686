// Copyright kabar authors.
#include "services/ingest/ingester.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

namespace kabar::ingest {

Ingester::Ingester(const IngesterOptions& options,
                   std::unique_ptr<client::ClassifyClient> classifier,
                   std::unique_ptr<client::StoreClient> store)
    : options_(options),
      classifier_(std::move(classifier)),
      store_(std::move(store)) {
  const int workers = std::max(1, options_.workers);
  workers_.reserve(workers);
  for (int i = 0; i < workers; ++i) workers_.emplace_back([this] { WorkLoop(); });
}

Ingester::~Ingester() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

void Ingester::Submit(uint64_t sequence, v1::Article article, AckCallback done) {
  const std::string client_id = article.id();
  absl::StatusOr<v1::Article> prepared =
      PrepareArticle(std::move(article), options_.validation);
  if (!prepared.ok()) {
    v1::IngestAck ack;
    ack.set_sequence(sequence);
    ack.set_id(client_id);
    ack.set_status(v1::ACK_STATUS_REJECTED);
    ack.set_reason(std::string(prepared.status().message()));
    done(std::move(ack));
    return;
  }
  absl::MutexLock lock(&mu_);
  queue_.push_back(Pending{sequence, *std::move(prepared), std::move(done)});
}

void Ingester::WorkLoop() {
  while (true) {
    std::vector<Pending> batch;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Ingester* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping and drained
      const size_t take =
          std::min(queue_.size(), static_cast<size_t>(options_.max_batch_size));
      batch.reserve(take);
      for (size_t i = 0; i < take; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    ProcessBatch(std::move(batch));
  }
}

namespace {

// A downstream call that failed this way may succeed on another attempt:
// the peer is restarting, shutting down (which cancels calls in flight) or
// overloaded.
bool IsTransient(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable ||
         code == absl::StatusCode::kCancelled ||
         code == absl::StatusCode::kDeadlineExceeded ||
         code == absl::StatusCode::kResourceExhausted;
}

}  // namespace

template <typename Call>
auto Ingester::WithRetries(Call call) -> decltype(call()) {
  absl::Duration backoff = options_.retry_backoff;
  for (int attempt = 1;; ++attempt) {
    auto result = call();
    if (result.ok() || !IsTransient(result.status().code())) return result;
    if (attempt >= options_.max_attempts) {
      // To the client, a peer that kept failing is unavailable, whatever
      // the last attempt's code: the articles were not stored, resend them.
      return absl::UnavailableError(result.status().message());
    }
    common::LogWarning(absl::StrCat("attempt ", attempt, " failed, retrying in ",
                                    absl::FormatDuration(backoff), ": ",
                                    result.status().message()));
    absl::SleepFor(backoff);
    backoff *= 2;
  }
}

void Ingester::ProcessBatch(std::vector<Pending> batch) {
  const auto fail_all = [&batch](const absl::Status& status) {
    for (Pending& pending : batch) pending.done(status);
  };

  v1::ClassifyBatchRequest classify_request;
  classify_request.set_top_k_topics(options_.top_k_topics);
  for (const Pending& pending : batch) {
    v1::TextToClassify* text = classify_request.add_texts();
    text->set_title(pending.article.title());
    text->set_body(pending.article.body());
  }
  absl::StatusOr<v1::ClassifyBatchResponse> labels =
      WithRetries([&] { return classifier_->ClassifyBatch(classify_request); });
  if (!labels.ok()) return fail_all(labels.status());
  if (labels->labels_size() != static_cast<int>(batch.size())) {
    return fail_all(absl::InternalError(absl::StrCat(
        classifier_->peer(), " answered ", labels->labels_size(),
        " labels for ", batch.size(), " texts")));
  }

  v1::PutArticlesRequest put_request;
  for (size_t i = 0; i < batch.size(); ++i) {
    v1::StoredArticle* stored = put_request.add_articles();
    *stored->mutable_article() = batch[i].article;
    *stored->mutable_labels() = labels->labels(static_cast<int>(i));
  }
  absl::StatusOr<v1::PutArticlesResponse> put =
      WithRetries([&] { return store_->PutArticles(put_request); });
  if (!put.ok()) return fail_all(put.status());
  if (put->results_size() != static_cast<int>(batch.size())) {
    return fail_all(absl::InternalError(absl::StrCat(
        store_->peer(), " answered ", put->results_size(), " results for ",
        batch.size(), " articles")));
  }

  for (size_t i = 0; i < batch.size(); ++i) {
    const int index = static_cast<int>(i);
    v1::IngestAck ack;
    ack.set_sequence(batch[i].sequence);
    ack.set_id(batch[i].article.id());
    if (put->results(index).outcome() == v1::PUT_OUTCOME_INSERTED) {
      ack.set_status(v1::ACK_STATUS_ACCEPTED);
      *ack.mutable_labels() = labels->labels(index);
    } else {
      ack.set_status(v1::ACK_STATUS_DUPLICATE);
    }
    batch[i].done(std::move(ack));
  }
}

}  // namespace kabar::ingest
