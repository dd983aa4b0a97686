// Copyright kabar authors.
// ServerRunner: the bootstrap every kabar service shares. It binds the listen
// address (port 0 picks a free port, written to a port file for tests and
// scripts), serves the standard grpc.health.v1 protocol and server
// reflection, counts and times every call (see rpc_observability.h), serves
// the process's metrics over HTTP when asked to, and shuts down gracefully on
// SIGTERM/SIGINT.
#ifndef KABAR_SERVICES_COMMON_SERVER_RUNNER_H_
#define KABAR_SERVICES_COMMON_SERVER_RUNNER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/server.h>
#include <grpcpp/support/config.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/common/security.h"
#include "services/common/metrics_server.h"

namespace kabar::common {

struct ServerOptions {
  // HOST:PORT to listen on. Port 0 picks a free port.
  std::string listen = "127.0.0.1:0";
  // When set, the bound port is written here (atomically) once serving.
  std::string port_file;
  // Fully qualified service name reported by the health service, e.g.
  // "kabar.v1.StoreService". "" (the whole server) is always reported too.
  std::string health_service_name;
  // How long in-flight RPCs may run after SIGTERM before they are cancelled.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Largest request or response message accepted.
  int max_message_bytes = 64 << 20;
  // TLS, mutual TLS and bearer tokens (see security.h); default plaintext.
  ServerSecurityOptions security;
  // Whether health_service_name is SERVING as soon as the server starts.
  // False for a service whose dependency checks call SetServing(true) once
  // they pass, so it is never reported ready before they ran.
  bool serving_at_start = true;
  // HOST:PORT of the Prometheus /metrics endpoint; "" = none. Port 0 picks
  // a free port, written to metrics_port_file when that is set.
  std::string metrics_listen;
  std::string metrics_port_file;
};

// Owns one running grpc::Server. Thread-safe.
class ServerRunner {
 public:
  // Binds and starts serving `services` (not owned; they must outlive the
  // runner). Errors: UNAVAILABLE when the address cannot be bound,
  // INTERNAL when the port file cannot be written, those of
  // MakeServerCredentials for bad security options.
  static absl::StatusOr<std::unique_ptr<ServerRunner>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services);

  ~ServerRunner();
  ServerRunner(const ServerRunner&) = delete;
  ServerRunner& operator=(const ServerRunner&) = delete;

  // The bound port.
  int port() const { return port_; }

  // The bound metrics port, 0 when metrics are off.
  int metrics_port() const;

  // Reports SERVING or NOT_SERVING for health_service_name: whether the
  // service can do its work (its dependencies answer). The whole server
  // ("") stays SERVING while the process runs, for liveness probes. Once
  // shutdown has begun both are NOT_SERVING for good.
  void SetServing(bool serving);

  // Blocks until SIGTERM or SIGINT arrives (or Shutdown() is called), then
  // reports NOT_SERVING and shuts the server down, letting in-flight RPCs
  // finish within shutdown_grace. Calls `on_reload` on each SIGHUP.
  void WaitForTermination(const std::function<void()>& on_reload = nullptr);

  // Makes WaitForTermination return as if SIGTERM had arrived.
  void Shutdown();

 private:
  ServerRunner(ServerOptions options, std::unique_ptr<grpc::Server> server,
               int port, std::unique_ptr<MetricsServer> metrics)
      : options_(std::move(options)),
        server_(std::move(server)),
        port_(port),
        metrics_(std::move(metrics)) {}

  const ServerOptions options_;
  const std::unique_ptr<grpc::Server> server_;
  const int port_;
  const std::unique_ptr<MetricsServer> metrics_;
  absl::Mutex mu_;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_SERVER_RUNNER_H_
