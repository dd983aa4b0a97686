// Copyright kabar authors.
// StoreServiceImpl: the gRPC edge of the store. It translates
// kabar.v1.StoreService calls into ArticleStore calls and their absl::Status
// into grpc::Status; the rules (validation, idempotency, paging) live in the
// store. Database work may block on disk or on SQLite's write lock, so it
// runs on the service's own thread pool, never on gRPC's callback threads.
#ifndef KABAR_SERVICES_STORE_STORE_SERVICE_H_
#define KABAR_SERVICES_STORE_STORE_SERVICE_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_callback.h>

#include <atomic>
#include <cstdint>
#include <set>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
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
    // How often open watches look for articles stored by other processes
    // (replicas sharing a PostgreSQL database, or another kabar-store on the
    // same SQLite file). Articles stored through this service reach its
    // watches at once.
    absl::Duration watch_poll_interval = absl::Seconds(1);
  };

  // `store` is not owned and must outlive the service.
  StoreServiceImpl(ArticleStore* store, const Options& options);
  ~StoreServiceImpl() override;

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
  // Streams until the client cancels. On server shutdown the call is
  // cancelled when shutdown_grace ends (clients see it end and reconnect).
  grpc::ServerWriteReactor<v1::WatchArticlesResponse>* WatchArticles(
      grpc::CallbackServerContext* context,
      const v1::WatchArticlesRequest* request) override;

 private:
  class WatchReactor;

  // Articles read per watch at a time: the most a stream buffers.
  static constexpr int kWatchBatchSize = 100;

  // Wakes every open watch (called after a Put inserted something).
  void NotifyWatches();
  void RemoveWatch(WatchReactor* watch);
  // The watch thread: wakes the watches on every Put and every
  // watch_poll_interval.
  void WatchLoop();

  ArticleStore* const store_;
  const absl::Duration watch_poll_interval_;
  common::ThreadPool pool_;

  absl::Mutex watch_mu_;
  std::set<WatchReactor*> watches_ ABSL_GUARDED_BY(watch_mu_);
  uint64_t put_generation_ ABSL_GUARDED_BY(watch_mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(watch_mu_) = false;
  // Last member: starts after everything it reads.
  std::thread watch_thread_;
  // Successful PutArticles calls and the articles in them.
  std::atomic<uint64_t> put_calls_{0};
  std::atomic<uint64_t> articles_put_{0};
};

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_STORE_SERVICE_H_
