// Copyright kabar authors.
#include "services/common/thread_pool.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "gtest/gtest.h"

namespace kabar::common {
namespace {

TEST(ThreadPoolTest, ParallelForCallsEveryIndexOnce) {
  ThreadPool pool(3);
  std::vector<std::atomic<int>> calls(1000);
  pool.ParallelFor(1000, [&](int i) { calls[i].fetch_add(1); });
  for (const auto& count : calls) EXPECT_EQ(count.load(), 1);
}

TEST(ThreadPoolTest, ScheduledWorkRuns) {
  ThreadPool pool(2);
  std::atomic<int> sum{0};
  absl::BlockingCounter done(100);
  for (int i = 1; i <= 100; ++i) {
    pool.Schedule([&, i] {
      sum += i;
      done.DecrementCount();
    });
  }
  done.Wait();
  EXPECT_EQ(sum.load(), 5050);
}

TEST(ThreadPoolTest, DestructorFinishesQueuedWork) {
  std::atomic<int> ran{0};
  {
    ThreadPool pool(1);
    for (int i = 0; i < 50; ++i) pool.Schedule([&] { ++ran; });
  }
  EXPECT_EQ(ran.load(), 50);
}

}  // namespace
}  // namespace kabar::common
