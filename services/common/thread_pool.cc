// Copyright kabar authors.
#include "services/common/thread_pool.h"

#include <atomic>

#include "absl/synchronization/blocking_counter.h"

namespace kabar::common {

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) {
    num_threads = std::max(1u, std::thread::hardware_concurrency());
  }
  workers_.reserve(num_threads);
  for (int i = 0; i < num_threads; ++i) {
    workers_.emplace_back([this] { WorkLoop(); });
  }
}

ThreadPool::~ThreadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& worker : workers_) worker.join();
}

void ThreadPool::Schedule(std::function<void()> work) {
  absl::MutexLock lock(&mu_);
  queue_.push(std::move(work));
}

void ThreadPool::WorkLoop() {
  while (true) {
    std::function<void()> work;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mu_) {
            return pool->stopping_ || !pool->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, and all work done
      work = std::move(queue_.front());
      queue_.pop();
    }
    work();
  }
}

void ThreadPool::ParallelFor(int count, const std::function<void(int)>& fn) {
  if (count <= 0) return;
  // Work is claimed index by index so uneven items balance themselves.
  std::atomic<int> next{0};
  auto drain = [&] {
    for (int i = next.fetch_add(1); i < count; i = next.fetch_add(1)) fn(i);
  };
  const int helpers = std::min(count - 1, size());
  absl::BlockingCounter done(helpers);
  for (int h = 0; h < helpers; ++h) {
    Schedule([&] {
      drain();
      done.DecrementCount();
    });
  }
  drain();
  done.Wait();
}

}  // namespace kabar::common
