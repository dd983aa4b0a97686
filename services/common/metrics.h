// Copyright kabar authors.
// Metrics in the Prometheus text exposition format (version 0.0.4):
// counters, gauges and histograms, each a family of series told apart by
// labels. No Prometheus client library for C++ is packaged in Debian 12, so
// this is a small one. A metric is created on first use and lives as long as
// its registry, so callers may keep the returned reference. Thread-safe.
#ifndef KABAR_SERVICES_COMMON_METRICS_H_
#define KABAR_SERVICES_COMMON_METRICS_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kabar::common {

// Label name/value pairs, in the order they are written.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// Upper bounds (seconds) for request and call latencies: 1 ms to 30 s.
const std::vector<double>& LatencyBuckets();

class Counter final {
 public:
  // REQUIRES: amount >= 0 (counters only go up).
  void Increment(double amount = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge final {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram final {
 public:
  // `bounds`: bucket upper bounds, ascending; +Inf is implicit.
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative_counts;  // one per bound, then +Inf
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);  // per bucket, not cumulative
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

class MetricsRegistry final {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // The series of family `name` with `labels`, created on first use.
  // REQUIRES: `name` matches [a-zA-Z_:][a-zA-Z0-9_:]*, label names match
  // [a-zA-Z_][a-zA-Z0-9_]*, and a name is always used with the same kind
  // (a mismatch returns a series that is never written out).
  Counter& GetCounter(absl::string_view name, absl::string_view help,
                      const MetricLabels& labels = {});
  Gauge& GetGauge(absl::string_view name, absl::string_view help,
                  const MetricLabels& labels = {});
  Histogram& GetHistogram(absl::string_view name, absl::string_view help,
                          const std::vector<double>& bounds,
                          const MetricLabels& labels = {});

  // Runs `collect` before every exposition, to refresh gauges that are
  // cheaper to read on demand (queue depths, row counts).
  void AddCollector(std::function<void()> collect);

  // Every family, sorted by name, with # HELP and # TYPE lines.
  std::string Exposition();

 private:
  enum class Kind { kCounter, kGauge, kHistogram };
  struct Family {
    Kind kind;
    std::string help;
    std::map<MetricLabels, std::unique_ptr<Counter>> counters;
    std::map<MetricLabels, std::unique_ptr<Gauge>> gauges;
    std::map<MetricLabels, std::unique_ptr<Histogram>> histograms;
  };
  Family& FamilyLocked(absl::string_view name, absl::string_view help, Kind kind)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, Family, std::less<>> families_ ABSL_GUARDED_BY(mu_);
  // Series asked for under a name already used for another kind.
  Family orphans_ ABSL_GUARDED_BY(mu_){Kind::kCounter, "", {}, {}, {}};
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// The process-wide registry every kabar service exports on /metrics.
MetricsRegistry& Metrics();

// Exposition-format helpers, exposed for tests.
// A sample value: integers without exponent, +Inf, -Inf, NaN.
std::string FormatMetricValue(double value);
// A label value: backslash, double quote and newline escaped.
std::string EscapeLabelValue(absl::string_view value);
// A # HELP text: backslash and newline escaped.
std::string EscapeHelp(absl::string_view help);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_METRICS_H_
