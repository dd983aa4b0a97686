// Copyright kabar authors.
// Test support: runs a real kabar binary as a child process on a free
// loopback port (--listen=127.0.0.1:0 --port_file=...), waits until it
// answers health checks, and stops or kills it. Its stderr goes to a log
// file, printed when start-up fails. Not thread-safe.
#ifndef KABAR_TESTS_UTIL_SERVICE_PROCESS_H_
#define KABAR_TESTS_UTIL_SERVICE_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "clients/cpp/clients.h"

namespace kabar::testing {

// Path of a binary built by this project, e.g. BinaryPath("kabar-store").
std::string BinaryPath(const std::string& name);

// A loopback port nothing listens on (bound, then released).
int UnusedPort();

// A fresh empty directory under the test's temporary directory.
std::string MakeTempDir(const std::string& prefix);

// Runs `argv` (argv[0] a path) to completion, returning its exit code;
// stdout and stderr are captured into *output when not null.
absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv,
                               std::string* output,
                               const std::string& stdin_path = "");

class ServiceProcess final {
 public:
  // Starts `binary` with `args` plus --listen/--port_file, in `work_dir`
  // (logs go to work_dir/<name>.log). Returns once the health service for
  // `health_service` answers SERVING, or an error with the log's tail.
  // Health is checked over `security` (TLS, client certificate) when the
  // service serves TLS.
  static absl::StatusOr<std::unique_ptr<ServiceProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::string& work_dir, const std::string& health_service,
      absl::Duration timeout = absl::Seconds(60),
      const client::ClientSecurity& security = {});

  // Sends SIGKILL if still running.
  ~ServiceProcess();
  ServiceProcess(const ServiceProcess&) = delete;
  ServiceProcess& operator=(const ServiceProcess&) = delete;

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }
  const std::string& log_path() const { return log_path_; }

  // SIGTERM, then waits; returns the exit code (128+signal when killed by
  // one), or an error when it did not exit within `timeout`.
  absl::StatusOr<int> Stop(absl::Duration timeout = absl::Seconds(30));
  // SIGKILL and reap.
  void Kill();

 private:
  ServiceProcess(pid_t pid, int port, std::string log_path)
      : pid_(pid), port_(port), log_path_(std::move(log_path)) {}

  pid_t pid_;
  const int port_;
  const std::string log_path_;
};

// A service on a fixed loopback port, so it can be killed or stopped and
// started again where its peers look for it.
struct RestartableService {
  RestartableService() = default;
  RestartableService(std::string binary, std::vector<std::string> args,
                     std::string health, std::string dir);

  std::string binary;  // a name under BinaryPath()
  std::vector<std::string> args;
  std::string health;  // the health service that must answer SERVING
  std::string dir;     // working directory, created on Start (logs)
  int port = UnusedPort();
  std::unique_ptr<ServiceProcess> process;

  std::string address() const;
  // Starts it with `args`, `extra_args` and --listen=address(). The error
  // carries the log's tail.
  absl::Status Start(const std::vector<std::string>& extra_args = {});
  // SIGKILL, then Start().
  absl::Status KillAndRestart();
};

}  // namespace kabar::testing

#endif  // KABAR_TESTS_UTIL_SERVICE_PROCESS_H_
