// Copyright kabar authors.
#include "services/common/metrics.h"

#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kabar::common {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(MetricsTest, CounterFamilyHasHelpTypeAndOneLinePerLabelSet) {
  MetricsRegistry registry;
  registry.GetCounter("kabar_test_total", "Things counted.", {{"code", "OK"}}).Increment(3);
  registry.GetCounter("kabar_test_total", "Things counted.", {{"code", "UNAVAILABLE"}})
      .Increment();
  EXPECT_EQ(registry.Exposition(),
            "# HELP kabar_test_total Things counted.\n"
            "# TYPE kabar_test_total counter\n"
            "kabar_test_total{code=\"OK\"} 3\n"
            "kabar_test_total{code=\"UNAVAILABLE\"} 1\n");
}

TEST(MetricsTest, SameNameAndLabelsIsTheSameSeries) {
  MetricsRegistry registry;
  Counter& first = registry.GetCounter("c_total", "h", {{"a", "1"}});
  Counter& second = registry.GetCounter("c_total", "h", {{"a", "1"}});
  EXPECT_EQ(&first, &second);
  first.Increment(2.5);
  EXPECT_EQ(second.value(), 2.5);
}

TEST(MetricsTest, CounterIgnoresNegativeAndNaNIncrements) {
  MetricsRegistry registry;
  Counter& counter = registry.GetCounter("c_total", "h");
  counter.Increment(-5);
  counter.Increment(std::nan(""));
  EXPECT_EQ(counter.value(), 0);
}

TEST(MetricsTest, GaugeWithoutLabelsHasNoBraces) {
  MetricsRegistry registry;
  Gauge& gauge = registry.GetGauge("kabar_depth", "Depth.");
  gauge.Set(10);
  gauge.Add(-2.5);
  EXPECT_EQ(registry.Exposition(),
            "# HELP kabar_depth Depth.\n"
            "# TYPE kabar_depth gauge\n"
            "kabar_depth 7.5\n");
}

TEST(MetricsTest, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  Histogram& histogram =
      registry.GetHistogram("kabar_latency_seconds", "Latency.", {0.1, 1}, {{"m", "x"}});
  histogram.Observe(0.05);
  histogram.Observe(0.1);  // on the bound: counts in that bucket
  histogram.Observe(0.5);
  histogram.Observe(7);
  EXPECT_EQ(registry.Exposition(),
            "# HELP kabar_latency_seconds Latency.\n"
            "# TYPE kabar_latency_seconds histogram\n"
            "kabar_latency_seconds_bucket{m=\"x\",le=\"0.1\"} 2\n"
            "kabar_latency_seconds_bucket{m=\"x\",le=\"1\"} 3\n"
            "kabar_latency_seconds_bucket{m=\"x\",le=\"+Inf\"} 4\n"
            "kabar_latency_seconds_sum{m=\"x\"} 7.65\n"
            "kabar_latency_seconds_count{m=\"x\"} 4\n");
}

TEST(MetricsTest, EmptyHistogramStillWritesZeroBuckets) {
  MetricsRegistry registry;
  registry.GetHistogram("h", "x", {1});
  EXPECT_THAT(registry.Exposition(), HasSubstr("h_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n"));
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  MetricsRegistry registry;
  registry.GetCounter("c_total", "a \\ b\nc \"q\"", {{"reason", "bad \"utf-8\"\\\nline"}})
      .Increment();
  EXPECT_EQ(registry.Exposition(),
            "# HELP c_total a \\\\ b\\nc \"q\"\n"
            "# TYPE c_total counter\n"
            "c_total{reason=\"bad \\\"utf-8\\\"\\\\\\nline\"} 1\n");
}

TEST(MetricsTest, FamiliesAreSortedByName) {
  MetricsRegistry registry;
  registry.GetGauge("zeta", "z");
  registry.GetGauge("alpha", "a");
  const std::string text = registry.Exposition();
  EXPECT_LT(text.find("# HELP alpha"), text.find("# HELP zeta"));
}

TEST(MetricsTest, NameReusedForAnotherKindIsNotWritten) {
  MetricsRegistry registry;
  registry.GetCounter("dual", "counter").Increment();
  registry.GetGauge("dual", "gauge").Set(42);
  const std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("dual 1\n"));
  EXPECT_THAT(text, Not(HasSubstr("42")));
}

TEST(MetricsTest, CollectorsRunBeforeEachExposition) {
  MetricsRegistry registry;
  int depth = 0;
  registry.AddCollector([&] { registry.GetGauge("depth", "d").Set(++depth); });
  EXPECT_THAT(registry.Exposition(), HasSubstr("depth 1\n"));
  EXPECT_THAT(registry.Exposition(), HasSubstr("depth 2\n"));
}

TEST(MetricsTest, ValuesFormatLikePrometheus) {
  EXPECT_EQ(FormatMetricValue(0), "0");
  EXPECT_EQ(FormatMetricValue(1234567890123), "1234567890123");
  EXPECT_EQ(FormatMetricValue(-3), "-3");
  EXPECT_EQ(FormatMetricValue(0.1), "0.1");
  EXPECT_EQ(FormatMetricValue(1e-7), "1e-07");
  EXPECT_EQ(FormatMetricValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatMetricValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatMetricValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ConcurrentIncrementsAreNotLost) {
  MetricsRegistry registry;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        registry.GetCounter("c_total", "h").Increment();
        registry.GetHistogram("h_seconds", "h", LatencyBuckets()).Observe(0.002);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const std::string text = registry.Exposition();
  EXPECT_THAT(text, HasSubstr("c_total 40000\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_count 40000\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"0.001\"} 0\n"));
  EXPECT_THAT(text, HasSubstr("h_seconds_bucket{le=\"0.0025\"} 40000\n"));
}

}  // namespace
}  // namespace kabar::common
