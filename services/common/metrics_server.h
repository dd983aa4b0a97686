// Copyright kabar authors.
// MetricsServer: serves a MetricsRegistry's exposition over HTTP at
// GET /metrics (Prometheus text format 0.0.4), on its own thread, with
// cpp-httplib. Thread-safe.
#ifndef KABAR_SERVICES_COMMON_METRICS_SERVER_H_
#define KABAR_SERVICES_COMMON_METRICS_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/common/metrics.h"

namespace httplib {
class Server;
}

namespace kabar::common {

class MetricsServer final {
 public:
  // Listens on `listen` (HOST:PORT; port 0 picks a free one). Errors:
  // INVALID_ARGUMENT for a malformed address, UNAVAILABLE when it cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& listen,
                                                              MetricsRegistry* registry);
  // Stops serving and joins the thread.
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  int port() const { return port_; }

 private:
  MetricsServer(std::unique_ptr<httplib::Server> server, int port);

  const std::unique_ptr<httplib::Server> server_;
  const int port_;
  std::thread thread_;
};

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_METRICS_SERVER_H_
