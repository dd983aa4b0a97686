// Copyright kabar authors.
#include "services/store/store_service.h"

#include <chrono>
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

StoreServiceImpl::StoreServiceImpl(ArticleStore* store, const Options& options)
    : store_(store), pool_(options.num_threads) {}

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
                     KABAR_ASSIGN_OR_RETURN(
                         *response,
                         store_->Query(request->filter(), request->page_size(),
                                       request->page_token()));
                     return absl::OkStatus();
                   });
}

grpc::ServerUnaryReactor* StoreServiceImpl::CountArticles(
    grpc::CallbackServerContext* context,
    const v1::CountArticlesRequest* request,
    v1::CountArticlesResponse* response) {
  return RunOnPool(pool_, context, "CountArticles",
                   [this, request, response]() -> absl::Status {
                     KABAR_ASSIGN_OR_RETURN(*response,
                                            store_->Count(request->filter()));
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
