// Copyright kabar authors.
#include "services/common/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"

namespace kabar::common {
namespace {

template <typename Atomic>
void AtomicAdd(Atomic& target, double amount) {
  double current = target.load(std::memory_order_relaxed);
  while (!target.compare_exchange_weak(current, current + amount,
                                       std::memory_order_relaxed)) {
  }
}

// {a="x",b="y"}, with `extra` (e.g. le="0.5") last; "" when there are none.
std::string LabelSet(const MetricLabels& labels,
                     const std::pair<std::string, std::string>* extra = nullptr) {
  if (labels.empty() && extra == nullptr) return "";
  std::string out = "{";
  bool first = true;
  auto append = [&](const std::pair<std::string, std::string>& label) {
    if (!first) out += ",";
    first = false;
    absl::StrAppend(&out, label.first, "=\"", EscapeLabelValue(label.second), "\"");
  };
  for (const auto& label : labels) append(label);
  if (extra != nullptr) append(*extra);
  out += "}";
  return out;
}

}  // namespace

const std::vector<double>& LatencyBuckets() {
  static const std::vector<double> buckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                              0.25,  0.5,    1,     2.5,  5,     10,   30};
  return buckets;
}

void Counter::Increment(double amount) {
  if (!(amount >= 0)) return;  // also drops NaN
  AtomicAdd(value_, amount);
}

void Gauge::Add(double amount) { AtomicAdd(value_, amount); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double value) {
  // Buckets are "less than or equal": a value on a bound counts in it.
  const size_t bucket =
      std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin();
  absl::MutexLock lock(&mu_);
  ++counts_[bucket];
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot snapshot;
  snapshot.bounds = bounds_;
  absl::MutexLock lock(&mu_);
  uint64_t running = 0;
  for (uint64_t count : counts_) {
    running += count;
    snapshot.cumulative_counts.push_back(running);
  }
  snapshot.sum = sum_;
  return snapshot;
}

MetricsRegistry::Family& MetricsRegistry::FamilyLocked(absl::string_view name,
                                                       absl::string_view help, Kind kind) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    it = families_.emplace(std::string(name), Family{kind, std::string(help), {}, {}, {}})
             .first;
  }
  return it->second.kind == kind ? it->second : orphans_;
}

Counter& MetricsRegistry::GetCounter(absl::string_view name, absl::string_view help,
                                     const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Counter>& counter =
      FamilyLocked(name, help, Kind::kCounter).counters[labels];
  if (counter == nullptr) counter = std::make_unique<Counter>();
  return *counter;
}

Gauge& MetricsRegistry::GetGauge(absl::string_view name, absl::string_view help,
                                 const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Gauge>& gauge = FamilyLocked(name, help, Kind::kGauge).gauges[labels];
  if (gauge == nullptr) gauge = std::make_unique<Gauge>();
  return *gauge;
}

Histogram& MetricsRegistry::GetHistogram(absl::string_view name, absl::string_view help,
                                         const std::vector<double>& bounds,
                                         const MetricLabels& labels) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Histogram>& histogram =
      FamilyLocked(name, help, Kind::kHistogram).histograms[labels];
  if (histogram == nullptr) histogram = std::make_unique<Histogram>(bounds);
  return *histogram;
}

void MetricsRegistry::AddCollector(std::function<void()> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string MetricsRegistry::Exposition() {
  std::vector<std::function<void()>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  // Outside mu_: a collector sets gauges, which may create them.
  for (const auto& collect : collectors) collect();

  absl::MutexLock lock(&mu_);
  std::string out;
  for (const auto& [name, family] : families_) {
    absl::StrAppend(&out, "# HELP ", name, " ", EscapeHelp(family.help), "\n");
    switch (family.kind) {
      case Kind::kCounter:
        absl::StrAppend(&out, "# TYPE ", name, " counter\n");
        for (const auto& [labels, counter] : family.counters) {
          absl::StrAppend(&out, name, LabelSet(labels), " ",
                          FormatMetricValue(counter->value()), "\n");
        }
        break;
      case Kind::kGauge:
        absl::StrAppend(&out, "# TYPE ", name, " gauge\n");
        for (const auto& [labels, gauge] : family.gauges) {
          absl::StrAppend(&out, name, LabelSet(labels), " ",
                          FormatMetricValue(gauge->value()), "\n");
        }
        break;
      case Kind::kHistogram:
        absl::StrAppend(&out, "# TYPE ", name, " histogram\n");
        for (const auto& [labels, histogram] : family.histograms) {
          const Histogram::Snapshot snapshot = histogram->snapshot();
          for (size_t i = 0; i < snapshot.cumulative_counts.size(); ++i) {
            const std::pair<std::string, std::string> le = {
                "le", i < snapshot.bounds.size() ? FormatMetricValue(snapshot.bounds[i])
                                                 : "+Inf"};
            absl::StrAppend(&out, name, "_bucket", LabelSet(labels, &le), " ",
                            snapshot.cumulative_counts[i], "\n");
          }
          absl::StrAppend(&out, name, "_sum", LabelSet(labels), " ",
                          FormatMetricValue(snapshot.sum), "\n");
          absl::StrAppend(&out, name, "_count", LabelSet(labels), " ",
                          snapshot.cumulative_counts.back(), "\n");
        }
        break;
    }
  }
  return out;
}

MetricsRegistry& Metrics() {
  static MetricsRegistry* const registry = new MetricsRegistry();
  return *registry;
}

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::trunc(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  // The shortest form that reads back as the same double.
  char buffer[32];
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string EscapeLabelValue(absl::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace kabar::common
