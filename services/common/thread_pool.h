// Copyright kabar authors.
// A fixed-size pool of worker threads running closures in FIFO order.
// Thread-safe. The destructor finishes queued work, then joins.
#ifndef KABAR_SERVICES_COMMON_THREAD_POOL_H_
#define KABAR_SERVICES_COMMON_THREAD_POOL_H_

#include <functional>
#include <queue>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace kabar::common {

class ThreadPool final {
 public:
  // `num_threads` <= 0 means one per hardware thread.
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()); }

  void Schedule(std::function<void()> work);

  // Runs fn(0..count-1) spread over the pool and the calling thread; returns
  // when all calls returned. REQUIRES: not called from a pool thread.
  void ParallelFor(int count, const std::function<void(int)>& fn);

 private:
  void WorkLoop();

  absl::Mutex mu_;
  std::queue<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_THREAD_POOL_H_
