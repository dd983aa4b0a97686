// Copyright kabar authors.
// DependencyMonitor: checks a service's dependencies (peer services, its
// database) in the background and reports whether all of them answer, so
// the service's health status can say NOT_SERVING while one is down instead
// of failing calls. Each dependency's state is also the gauge
// kabar_dependency_up{dependency="..."} (1 up, 0 down), and every change is
// logged. Thread-safe.
#ifndef KABAR_SERVICES_COMMON_DEPENDENCY_MONITOR_H_
#define KABAR_SERVICES_COMMON_DEPENDENCY_MONITOR_H_

#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kabar::common {

struct Dependency {
  // Short name for logs and the gauge label ("classifier", "store", "database").
  std::string name;
  // OK when the dependency answers. Should return within the check interval.
  std::function<absl::Status()> check;
};

class DependencyMonitor final {
 public:
  // Checks every dependency now, then every `interval`, calling
  // `on_change(all_up)` after the first round and whenever the answer
  // changes.
  DependencyMonitor(std::vector<Dependency> dependencies, absl::Duration interval,
                    std::function<void(bool all_up)> on_change);
  // Stops checking (waits for a check in progress).
  ~DependencyMonitor();
  DependencyMonitor(const DependencyMonitor&) = delete;
  DependencyMonitor& operator=(const DependencyMonitor&) = delete;

  // Whether every dependency answered its latest check.
  bool all_up() const;

 private:
  void Loop();
  bool CheckAll();

  const std::vector<Dependency> dependencies_;
  const absl::Duration interval_;
  const std::function<void(bool)> on_change_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool all_up_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<bool> up_;  // per dependency; only the loop thread touches it
  std::thread thread_;
};

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_DEPENDENCY_MONITOR_H_
