// Copyright kabar authors.
#include "services/common/server_runner.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>

#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"
#include "services/common/rpc_observability.h"

namespace kabar::common {
namespace {

// Signals reach the waiting thread through a self-pipe: the handler only
// write()s, which is async-signal-safe whatever thread receives the signal.
int signal_pipe[2] = {-1, -1};

void OnSignal(int signo) {
  const char byte = static_cast<char>(signo);
  const int saved_errno = errno;
  [[maybe_unused]] ssize_t n = write(signal_pipe[1], &byte, 1);
  errno = saved_errno;
}

void InstallSignalHandlers() {
  static const bool installed = [] {
    if (pipe2(signal_pipe, O_CLOEXEC) != 0) return false;
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGHUP, &action, nullptr);
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)installed;
}

absl::Status WritePortFile(const std::string& path, int port) {
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    out << port << "\n";
    if (!out.good()) {
      return absl::InternalError(absl::StrCat("cannot write port file ", temporary));
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename port file to ", path));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ServerRunner>> ServerRunner::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services) {
  InstallSignalHandlers();
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options.security);
  if (!credentials.ok()) return credentials.status();

  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.listen, *credentials, &port);
  // Without this, gRPC sets SO_REUSEPORT and a second server "binds" a port
  // already in use instead of failing.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // Clients re-resolve names only when a connection ends; closing each one
  // after a few minutes lets them find replicas added since (a scaled
  // compose service, a grown Kubernetes deployment). Calls in flight get a
  // grace period to finish.
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS, 5 * 60 * 1000);
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, 60 * 1000);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  for (grpc::Service* service : services) builder.RegisterService(service);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(MakeRpcObservabilityInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Metrics first: a port that cannot be bound fails before gRPC serves.
  std::unique_ptr<MetricsServer> metrics;
  if (!options.metrics_listen.empty()) {
    absl::StatusOr<std::unique_ptr<MetricsServer>> started =
        MetricsServer::Start(options.metrics_listen, &Metrics());
    if (!started.ok()) return started.status();
    metrics = *std::move(started);
    if (!options.metrics_port_file.empty()) {
      absl::Status written = WritePortFile(options.metrics_port_file, metrics->port());
      if (!written.ok()) return written;
    }
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen,
                     " (address in use or invalid?)"));
  }
  auto runner = std::unique_ptr<ServerRunner>(
      new ServerRunner(options, std::move(server), port, std::move(metrics)));
  if (grpc::HealthCheckServiceInterface* health = runner->server_->GetHealthCheckService()) {
    health->SetServingStatus("", true);
  }
  runner->SetServing(options.serving_at_start);
  if (!options.port_file.empty()) {
    absl::Status written = WritePortFile(options.port_file, port);
    if (!written.ok()) return written;
  }
  LogInfo("listening", {{"service", options.health_service_name},
                        {"listen", options.listen},
                        {"port", absl::StrCat(port)},
                        {"metrics_port", absl::StrCat(runner->metrics_port())},
                        {"security", DescribeServerSecurity(options.security)}});
  return runner;
}

ServerRunner::~ServerRunner() { server_->Shutdown(absl::ToChronoTime(absl::Now())); }

int ServerRunner::metrics_port() const {
  return metrics_ == nullptr ? 0 : metrics_->port();
}

void ServerRunner::SetServing(bool serving) {
  // Under mu_, so a dependency check cannot report SERVING after draining
  // began.
  absl::MutexLock lock(&mu_);
  grpc::HealthCheckServiceInterface* health = server_->GetHealthCheckService();
  if (health == nullptr) return;
  if (draining_) {
    health->SetServingStatus(false);  // every service, "" included
    return;
  }
  if (options_.health_service_name.empty()) {
    health->SetServingStatus("", serving);
  } else {
    health->SetServingStatus(options_.health_service_name, serving);
  }
}

void ServerRunner::Shutdown() { OnSignal(SIGTERM); }

void ServerRunner::WaitForTermination(const std::function<void()>& on_reload) {
  while (true) {
    char byte = 0;
    const ssize_t n = read(signal_pipe[0], &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n == 1 && byte == SIGHUP) {
      if (on_reload) {
        LogInfo("SIGHUP: reloading");
        on_reload();
      }
      continue;
    }
    break;
  }
  LogInfo(absl::StrCat("shutting down, letting in-flight calls finish for up to ",
                       absl::FormatDuration(options_.shutdown_grace)));
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
  }
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(absl::Now() + options_.shutdown_grace));
  server_->Wait();
  LogInfo("stopped");
}

}  // namespace kabar::common
