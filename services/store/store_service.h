// Copyright kabar authors.
// StoreServiceImpl: the gRPC edge of the store. It translates
// kabar.v1.StoreService calls into ArticleStore calls and their absl::Status
// into grpc::Status; the rules (validation, idempotency, paging) live in the
// store. Database work may block on disk or on SQLite's write lock, so it
// runs on the service's own thread pool, never on gRPC's callback threads.
#ifndef KABAR_SERVICES_STORE_STORE_SERVICE_H_
#define KABAR_SERVICES_STORE_STORE_SERVICE_H_

#include <atomic>
#include <cstdint>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include "kabar/v1/store_service.grpc.pb.h"
#include "services/common/thread_pool.h"
#include "services/store/article_store.h"

namespace kabar::store {

// Thread-safe. Register it with a server (common::ServerRunner); the server
// must be shut down before the service is destroyed. Destroying the service
// waits for database work already scheduled.
class StoreServiceImpl final : public v1::StoreService::CallbackService {
 public:
  struct Options {
    // Threads running database work; 0 means one per hardware thread.
    // SQLite writes one batch at a time whatever this is; more threads let
    // reads proceed beside a long write.
    int num_threads = 0;
  };

  // `store` is not owned and must outlive the service.
  StoreServiceImpl(ArticleStore* store, const Options& options);

  StoreServiceImpl(const StoreServiceImpl&) = delete;
  StoreServiceImpl& operator=(const StoreServiceImpl&) = delete;

  grpc::ServerUnaryReactor* PutArticles(
      grpc::CallbackServerContext* context,
      const v1::PutArticlesRequest* request,
      v1::PutArticlesResponse* response) override;
  grpc::ServerUnaryReactor* GetArticle(
      grpc::CallbackServerContext* context,
      const v1::GetArticleRequest* request,
      v1::GetArticleResponse* response) override;
  grpc::ServerUnaryReactor* QueryArticles(
      grpc::CallbackServerContext* context,
      const v1::QueryArticlesRequest* request,
      v1::QueryArticlesResponse* response) override;
  grpc::ServerUnaryReactor* CountArticles(
      grpc::CallbackServerContext* context,
      const v1::CountArticlesRequest* request,
      v1::CountArticlesResponse* response) override;
  grpc::ServerUnaryReactor* UpdateLabels(
      grpc::CallbackServerContext* context,
      const v1::UpdateLabelsRequest* request,
      v1::UpdateLabelsResponse* response) override;
  // Answered inline from this process's counters: no database work.
  grpc::ServerUnaryReactor* GetStoreStats(
      grpc::CallbackServerContext* context,
      const v1::GetStoreStatsRequest* request,
      v1::GetStoreStatsResponse* response) override;

 private:
  ArticleStore* const store_;
  common::ThreadPool pool_;
  // Successful PutArticles calls and the articles in them.
  std::atomic<uint64_t> put_calls_{0};
  std::atomic<uint64_t> articles_put_{0};
};

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_STORE_SERVICE_H_
