// Copyright kabar authors.
#include "services/store/store_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "services/common/rpc_observability.h"
#include "services/common/status_macros.h"
#include "services/common/status_util.h"

namespace kabar::store {
namespace {

// Whether a failure is ours (worth a log line) rather than the caller's.
bool IsServerFault(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kUnknown:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

// The plumbing every RPC shares: runs `work` (a callable returning
// absl::Status that fills the response) on `pool`, then finishes the call
// from the pool thread with the converted status. Calls that were cancelled
// or ran out of time while queued are answered without touching the
// database. Server-side failures are logged with the method and duration.
template <typename Work>
grpc::ServerUnaryReactor* RunOnPool(common::ThreadPool& pool,
                                    grpc::CallbackServerContext* context,
                                    const char* method, Work work) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const absl::Time received = absl::Now();
  // `context` and the request/response `work` points at stay valid until
  // Finish is called.
  pool.Schedule([context, reactor, method, received, work = std::move(work)] {
    common::ScopedRequestId request_id(common::RequestIdOf(*context));
    absl::Status status;
    if (context->IsCancelled()) {
      status = absl::CancelledError(
          absl::StrCat(method, " was cancelled before it ran"));
    } else if (std::chrono::system_clock::now() >= context->deadline()) {
      status = absl::DeadlineExceededError(
          absl::StrCat(method, ": deadline passed before it ran"));
    } else {
      const absl::Time start = absl::Now();
      status = work();
      common::Metrics()
          .GetHistogram("kabar_store_db_seconds",
                        "Time the database took to answer one call, by method.",
                        common::LatencyBuckets(), {{"method", method}})
          .Observe(absl::ToDoubleSeconds(absl::Now() - start));
    }
    if (IsServerFault(status)) {
      common::LogWarning(
          absl::StrCat(method, " failed after ",
                       absl::FormatDuration(absl::Now() - received), ": ",
                       status.ToString()));
    }
    reactor->Finish(common::ToGrpcStatus(status));
  });
  return reactor;
}

// kabar_store_rows_written_total{outcome="inserted"|"already_exists"|...}.
void CountRow(v1::PutOutcome outcome) {
  absl::string_view name = v1::PutOutcome_Name(outcome);
  absl::ConsumePrefix(&name, "PUT_OUTCOME_");
  common::Metrics()
      .GetCounter("kabar_store_rows_written_total",
                  "Articles PutArticles was given, by outcome (inserted: a new row).",
                  {{"outcome", absl::AsciiStrToLower(name)}})
      .Increment();
}

}  // namespace

// One WatchArticles call. It alternates between reading (a ReadAfter on the
// service's pool) and writing what it read, one message at a time, so at
// most one batch (kWatchBatchSize articles) waits in memory per stream
// however slow the client is. Between batches it is idle until the service
// wakes it (a Put in this process, or the poll tick for writes made by other
// processes). Deletes itself in OnDone.
class StoreServiceImpl::WatchReactor final
    : public grpc::ServerWriteReactor<v1::WatchArticlesResponse> {
 public:
  WatchReactor(StoreServiceImpl* service, v1::ArticleFilter filter)
      : service_(service), filter_(std::move(filter)) {}

  // Starts the stream at `cursor` ("" = now): reads where it starts, then
  // sends the first message.
  void Begin(const std::string& cursor) {
    absl::MutexLock lock(&mu_);
    reading_ = true;
    service_->pool_.Schedule([this, cursor] {
      absl::StatusOr<int64_t> start = cursor.empty()
                                          ? absl::StatusOr<int64_t>(-1)
                                          : DecodeWatchCursor(cursor);
      if (start.ok() && *start < 0) {
        // "now": the newest article stored.
        absl::StatusOr<ArticlesAfter> newest =
            service_->store_->ReadAfter(filter_, 0, 0);
        start = newest.ok() ? absl::StatusOr<int64_t>(newest->scanned_through)
                            : newest.status();
      }
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (!start.ok()) {
        FinishLocked(start.status());
        return;
      }
      cursor_ = *start;
      v1::WatchArticlesResponse first;
      first.set_cursor(EncodeWatchCursor(cursor_));
      pending_.push_back(std::move(first));
      // A resumed stream may have a backlog: read it right after.
      more_ = true;
      WriteNextLocked();
    });
  }

  // Reads what arrived since the cursor, unless busy or finished. Called by
  // the service's watch thread on every wake-up.
  void Poll() {
    absl::MutexLock lock(&mu_);
    if (finished_ || cancelled_) return;
    if (reading_ || writing_) {
      // A read under way may have started before the article that caused
      // this wake-up was committed: read once more when idle.
      woken_while_busy_ = true;
      return;
    }
    StartReadLocked();
  }

  void OnWriteDone(bool ok) override {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!ok) {
      // The client went away; nothing more can be sent.
      FinishLocked(absl::CancelledError("the watch stream broke"));
      return;
    }
    if (cancelled_) {
      FinishLocked(absl::CancelledError("watch cancelled"));
    } else if (!pending_.empty()) {
      WriteNextLocked();
    } else if (more_ || woken_while_busy_) {
      // A full batch (the rest is already stored), or a wake-up missed.
      StartReadLocked();
    }
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
    if (!reading_ && !writing_) {
      FinishLocked(absl::CancelledError("watch cancelled"));
    }
  }

  void OnDone() override {
    service_->RemoveWatch(this);
    delete this;
  }

 private:
  void StartReadLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    reading_ = true;
    more_ = false;
    woken_while_busy_ = false;
    const int64_t after = cursor_;
    service_->pool_.Schedule([this, after] {
      absl::StatusOr<ArticlesAfter> batch =
          service_->store_->ReadAfter(filter_, after, kWatchBatchSize);
      absl::MutexLock lock(&mu_);
      reading_ = false;
      if (cancelled_) {
        FinishLocked(absl::CancelledError("watch cancelled"));
        return;
      }
      if (!batch.ok()) {
        // Most likely the database is briefly away; the next wake-up tries
        // again, from the same cursor.
        common::LogWarning(absl::StrCat("WatchArticles: cannot read: ",
                                        batch.status().ToString()));
        return;
      }
      more_ = static_cast<int>(batch->articles.size()) == kWatchBatchSize;
      for (auto& [sequence, article] : batch->articles) {
        v1::WatchArticlesResponse message;
        *message.mutable_article() = std::move(article);
        message.set_cursor(EncodeWatchCursor(sequence));
        pending_.push_back(std::move(message));
      }
      cursor_ = batch->scanned_through;
      if (!pending_.empty()) {
        WriteNextLocked();
      } else if (woken_while_busy_) {
        StartReadLocked();
      }
    });
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    current_ = std::move(pending_.front());
    pending_.pop_front();
    writing_ = true;
    StartWrite(&current_);
  }

  void FinishLocked(const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    Finish(common::ToGrpcStatus(status));
  }

  StoreServiceImpl* const service_;
  const v1::ArticleFilter filter_;
  absl::Mutex mu_;
  // Where the next read starts: everything up to it was sent or skipped.
  int64_t cursor_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<v1::WatchArticlesResponse> pending_ ABSL_GUARDED_BY(mu_);
  // The message being written; gRPC reads it until OnWriteDone.
  v1::WatchArticlesResponse current_ ABSL_GUARDED_BY(mu_);
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // The last read was full: read again as soon as it is written.
  bool more_ ABSL_GUARDED_BY(mu_) = false;
  // Poll was called while reading or writing.
  bool woken_while_busy_ ABSL_GUARDED_BY(mu_) = false;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

StoreServiceImpl::StoreServiceImpl(ArticleStore* store, const Options& options)
    : store_(store),
      watch_poll_interval_(options.watch_poll_interval),
      pool_(options.num_threads),
      watch_thread_([this] { WatchLoop(); }) {}

StoreServiceImpl::~StoreServiceImpl() {
  {
    absl::MutexLock lock(&watch_mu_);
    stopping_ = true;
  }
  watch_thread_.join();
}

void StoreServiceImpl::NotifyWatches() {
  absl::MutexLock lock(&watch_mu_);
  ++put_generation_;
}

void StoreServiceImpl::RemoveWatch(WatchReactor* watch) {
  absl::MutexLock lock(&watch_mu_);
  watches_.erase(watch);
}

void StoreServiceImpl::WatchLoop() {
  uint64_t seen = 0;
  absl::MutexLock lock(&watch_mu_);
  while (!stopping_) {
    auto woken = [this, &seen]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch_mu_) {
      return stopping_ || put_generation_ != seen;
    };
    watch_mu_.AwaitWithTimeout(absl::Condition(&woken), watch_poll_interval_);
    if (stopping_) break;
    seen = put_generation_;
    // Poll only schedules work; holding watch_mu_ keeps every watch alive
    // (RemoveWatch waits for it).
    for (WatchReactor* watch : watches_) watch->Poll();
  }
}

grpc::ServerWriteReactor<v1::WatchArticlesResponse>*
StoreServiceImpl::WatchArticles(grpc::CallbackServerContext* context,
                                const v1::WatchArticlesRequest* request) {
  auto* watch = new WatchReactor(this, request->filter());
  const absl::Status valid = [&]() -> absl::Status {
    KABAR_RETURN_IF_ERROR(ValidateFilter(request->filter()));
    if (!request->filter().text().empty()) {
      return absl::InvalidArgumentError(
          "WatchArticles does not support filter.text; watch by language, "
          "topic, source, time or confidence");
    }
    return absl::OkStatus();
  }();
  if (!valid.ok()) {
    watch->Finish(common::ToGrpcStatus(valid));
    return watch;
  }
  {
    absl::MutexLock lock(&watch_mu_);
    watches_.insert(watch);
  }
  watch->Begin(request->cursor());
  return watch;
}

grpc::ServerUnaryReactor* StoreServiceImpl::PutArticles(
    grpc::CallbackServerContext* context, const v1::PutArticlesRequest* request,
    v1::PutArticlesResponse* response) {
  return RunOnPool(
      pool_, context, "PutArticles",
      [this, request, response]() -> absl::Status {
        const std::vector<v1::StoredArticle> articles(
            request->articles().begin(), request->articles().end());
        KABAR_ASSIGN_OR_RETURN(const std::vector<v1::PutOutcome> outcomes,
                               store_->Put(articles));
        if (outcomes.size() != articles.size()) {
          return absl::InternalError(
              absl::StrCat("store returned ", outcomes.size(), " outcomes for ",
                           articles.size(), " articles"));
        }
        for (size_t i = 0; i < articles.size(); ++i) {
          v1::PutResult* result = response->add_results();
          result->set_id(articles[i].article().id());
          result->set_outcome(outcomes[i]);
          CountRow(outcomes[i]);
        }
        put_calls_.fetch_add(1, std::memory_order_relaxed);
        articles_put_.fetch_add(articles.size(), std::memory_order_relaxed);
        if (std::find(outcomes.begin(), outcomes.end(),
                      v1::PUT_OUTCOME_INSERTED) != outcomes.end()) {
          NotifyWatches();
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* StoreServiceImpl::GetArticle(
    grpc::CallbackServerContext* context, const v1::GetArticleRequest* request,
    v1::GetArticleResponse* response) {
  return RunOnPool(pool_, context, "GetArticle",
                   [this, request, response]() -> absl::Status {
                     KABAR_ASSIGN_OR_RETURN(*response->mutable_article(),
                                            store_->Get(request->id()));
                     return absl::OkStatus();
                   });
}

grpc::ServerUnaryReactor* StoreServiceImpl::QueryArticles(
    grpc::CallbackServerContext* context,
    const v1::QueryArticlesRequest* request,
    v1::QueryArticlesResponse* response) {
  return RunOnPool(pool_, context, "QueryArticles",
                   [this, request, response]() -> absl::Status {
                     KABAR_ASSIGN_OR_RETURN(*response, store_->Query(*request));
                     return absl::OkStatus();
                   });
}

grpc::ServerUnaryReactor* StoreServiceImpl::CountArticles(
    grpc::CallbackServerContext* context,
    const v1::CountArticlesRequest* request,
    v1::CountArticlesResponse* response) {
  return RunOnPool(pool_, context, "CountArticles",
                   [this, request, response]() -> absl::Status {
                     KABAR_ASSIGN_OR_RETURN(*response, store_->Count(*request));
                     return absl::OkStatus();
                   });
}

grpc::ServerUnaryReactor* StoreServiceImpl::UpdateLabels(
    grpc::CallbackServerContext* context,
    const v1::UpdateLabelsRequest* request,
    v1::UpdateLabelsResponse* response) {
  return RunOnPool(
      pool_, context, "UpdateLabels",
      [this, request, response]() -> absl::Status {
        const std::vector<v1::LabelUpdate> updates(request->updates().begin(),
                                                   request->updates().end());
        KABAR_ASSIGN_OR_RETURN(const std::vector<v1::UpdateOutcome> outcomes,
                               store_->UpdateLabels(updates));
        if (outcomes.size() != updates.size()) {
          return absl::InternalError(
              absl::StrCat("store returned ", outcomes.size(), " outcomes for ",
                           updates.size(), " updates"));
        }
        for (size_t i = 0; i < updates.size(); ++i) {
          v1::UpdateResult* result = response->add_results();
          result->set_id(updates[i].id());
          result->set_outcome(outcomes[i]);
        }
        return absl::OkStatus();
      });
}

grpc::ServerUnaryReactor* StoreServiceImpl::GetStoreStats(
    grpc::CallbackServerContext* context,
    const v1::GetStoreStatsRequest* request,
    v1::GetStoreStatsResponse* response) {
  response->set_put_calls(put_calls_.load(std::memory_order_relaxed));
  response->set_articles_put(articles_put_.load(std::memory_order_relaxed));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace kabar::store
