// Copyright kabar authors.
#include "services/common/dependency_monitor.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/metrics.h"

namespace kabar::common {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records what the monitor reported.
class Reports {
 public:
  void Add(bool all_up) {
    absl::MutexLock lock(&mu_);
    values_.push_back(all_up);
  }
  // Waits until `count` reports arrived; returns them.
  std::vector<bool> Await(size_t count) {
    absl::MutexLock lock(&mu_);
    auto enough = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return values_.size() >= count; };
    mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Seconds(10));
    return values_;
  }

 private:
  absl::Mutex mu_;
  std::vector<bool> values_ ABSL_GUARDED_BY(mu_);
};

TEST(DependencyMonitorTest, ReportsTheFirstRoundThenOnlyChanges) {
  std::atomic<bool> store_up{true};
  Reports reports;
  DependencyMonitor monitor(
      {{"classifier", [] { return absl::OkStatus(); }},
       {"monitor_test_store",
        [&] { return store_up ? absl::OkStatus() : absl::UnavailableError("refused"); }}},
      absl::Milliseconds(5), [&](bool all_up) { reports.Add(all_up); });
  EXPECT_THAT(reports.Await(1), ElementsAre(true));
  absl::SleepFor(absl::Milliseconds(50));  // several rounds, no change
  EXPECT_THAT(reports.Await(1), ElementsAre(true));

  store_up = false;
  EXPECT_THAT(reports.Await(2), ElementsAre(true, false));
  EXPECT_FALSE(monitor.all_up());
  EXPECT_THAT(Metrics().Exposition(),
              HasSubstr("kabar_dependency_up{dependency=\"monitor_test_store\"} 0\n"));

  store_up = true;
  EXPECT_THAT(reports.Await(3), ElementsAre(true, false, true));
  EXPECT_TRUE(monitor.all_up());
}

TEST(DependencyMonitorTest, ADependencyDownFromTheStartIsReportedAtOnce) {
  Reports reports;
  DependencyMonitor monitor({{"nowhere", [] { return absl::UnavailableError("no"); }}},
                            absl::Hours(1), [&](bool all_up) { reports.Add(all_up); });
  EXPECT_THAT(reports.Await(1), ElementsAre(false));
  // Destruction does not wait for the hour.
}

}  // namespace
}  // namespace kabar::common
