// Copyright kabar authors.
#include "services/common/dependency_monitor.h"

#include <utility>

#include "services/common/logging.h"
#include "services/common/metrics.h"

namespace kabar::common {

DependencyMonitor::DependencyMonitor(std::vector<Dependency> dependencies,
                                     absl::Duration interval,
                                     std::function<void(bool all_up)> on_change)
    : dependencies_(std::move(dependencies)),
      interval_(interval),
      on_change_(std::move(on_change)),
      up_(dependencies_.size(), true) {
  thread_ = std::thread([this] { Loop(); });
}

DependencyMonitor::~DependencyMonitor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

bool DependencyMonitor::all_up() const {
  absl::MutexLock lock(&mu_);
  return all_up_;
}

bool DependencyMonitor::CheckAll() {
  bool all_up = true;
  for (size_t i = 0; i < dependencies_.size(); ++i) {
    const Dependency& dependency = dependencies_[i];
    const absl::Status status = dependency.check();
    const bool up = status.ok();
    Metrics()
        .GetGauge("kabar_dependency_up",
                  "Whether a dependency answered its latest health check (1) or not (0).",
                  {{"dependency", dependency.name}})
        .Set(up ? 1 : 0);
    if (up != up_[i]) {
      if (up) {
        LogInfo("dependency is back", {{"dependency", dependency.name}});
      } else {
        LogWarning("dependency is down; reporting NOT_SERVING",
                   {{"dependency", dependency.name}, {"error", std::string(status.message())}});
      }
      up_[i] = up;
    }
    all_up = all_up && up;
  }
  return all_up;
}

void DependencyMonitor::Loop() {
  bool first = true;
  while (true) {
    const bool all_up = CheckAll();
    bool changed;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      changed = first || all_up != all_up_;
      all_up_ = all_up;
    }
    if (changed) on_change_(all_up);
    first = false;
    absl::MutexLock lock(&mu_);
    if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), interval_)) return;
  }
}

}  // namespace kabar::common
