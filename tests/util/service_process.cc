// Copyright kabar authors.
#include "tests/util/service_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/cpp/clients.h"

extern char** environ;

namespace kabar::testing {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

std::string Tail(const std::string& text, size_t bytes = 4000) {
  return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

absl::StatusOr<pid_t> Spawn(const std::vector<std::string>& argv,
                            const std::string& work_dir,
                            const std::string& stdin_path,
                            const std::string& output_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (!work_dir.empty()) posix_spawn_file_actions_addchdir_np(&actions, work_dir.c_str());
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO,
                                   stdin_path.empty() ? "/dev/null" : stdin_path.c_str(),
                                   O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, output_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  std::vector<char*> raw;
  for (const std::string& arg : argv) raw.push_back(const_cast<char*>(arg.c_str()));
  raw.push_back(nullptr);
  pid_t pid = 0;
  const int error = posix_spawn(&pid, raw[0], &actions, nullptr, raw.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    return absl::InternalError(absl::StrCat("cannot start ", argv[0], ": ", strerror(error)));
  }
  return pid;
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

std::string BinaryPath(const std::string& name) {
  return absl::StrCat(KABAR_BINARY_DIR, "/bin/", name);
}

int UnusedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

std::string MakeTempDir(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const char* base = std::getenv("TEST_TMPDIR");
  const std::string root = base != nullptr ? base : std::filesystem::temp_directory_path().string();
  const std::string dir = absl::StrCat(root, "/kabar-", prefix, "-", getpid(), "-",
                                       counter.fetch_add(1), "-", absl::ToUnixNanos(absl::Now()));
  std::filesystem::create_directories(dir);
  return dir;
}

absl::StatusOr<int> RunCommand(const std::vector<std::string>& argv,
                               std::string* output, const std::string& stdin_path) {
  const std::string dir = MakeTempDir("run");
  const std::string output_path = dir + "/output";
  absl::StatusOr<pid_t> pid = Spawn(argv, "", stdin_path, output_path);
  if (!pid.ok()) return pid.status();
  int status = 0;
  while (waitpid(*pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = ReadFile(output_path);
  std::filesystem::remove_all(dir);
  return ExitCode(status);
}

absl::StatusOr<std::unique_ptr<ServiceProcess>> ServiceProcess::Start(
    const std::string& binary, const std::vector<std::string>& args,
    const std::string& work_dir, const std::string& health_service,
    absl::Duration timeout, const client::ClientSecurity& security) {
  const std::string name = std::filesystem::path(binary).filename().string();
  const std::string port_file = absl::StrCat(work_dir, "/", name, ".port");
  const std::string log_path = absl::StrCat(work_dir, "/", name, ".log");
  std::filesystem::remove(port_file);
  std::vector<std::string> argv = {binary, "--listen=127.0.0.1:0",
                                   "--port_file=" + port_file};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<pid_t> pid = Spawn(argv, work_dir, "", log_path);
  if (!pid.ok()) return pid.status();

  const absl::Time deadline = absl::Now() + timeout;
  int port = 0;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      return absl::InternalError(absl::StrCat(name, " exited with code ", ExitCode(status),
                                              " during start-up:\n", Tail(ReadFile(log_path))));
    }
    if (port == 0) {
      std::string text = ReadFile(port_file);
      while (!text.empty() && (text.back() == '\n')) text.pop_back();
      if (!text.empty() && !absl::SimpleAtoi(text, &port)) port = 0;
    }
    client::ClientOptions health;
    health.address = absl::StrCat("127.0.0.1:", port);
    health.timeout = absl::Seconds(2);
    health.security = security;
    if (port != 0 && client::CheckHealth(health, health_service).ok()) {
      return std::unique_ptr<ServiceProcess>(new ServiceProcess(*pid, port, log_path));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(*pid, SIGKILL);
  waitpid(*pid, nullptr, 0);
  return absl::DeadlineExceededError(
      absl::StrCat(name, " did not become healthy in ", absl::FormatDuration(timeout), ":\n",
                   Tail(ReadFile(log_path))));
}

ServiceProcess::~ServiceProcess() { Kill(); }

absl::StatusOr<int> ServiceProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return ExitCode(status);
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  Kill();
  return absl::DeadlineExceededError("did not exit after SIGTERM");
}

void ServiceProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

RestartableService::RestartableService(std::string binary,
                                       std::vector<std::string> args,
                                       std::string health, std::string dir)
    : binary(std::move(binary)),
      args(std::move(args)),
      health(std::move(health)),
      dir(std::move(dir)) {}

std::string RestartableService::address() const {
  return absl::StrCat("127.0.0.1:", port);
}

absl::Status RestartableService::Start(const std::vector<std::string>& extra_args) {
  std::filesystem::create_directories(dir);
  std::vector<std::string> all = args;
  all.insert(all.end(), extra_args.begin(), extra_args.end());
  all.push_back(absl::StrCat("--listen=", address()));
  absl::StatusOr<std::unique_ptr<ServiceProcess>> started =
      ServiceProcess::Start(BinaryPath(binary), all, dir, health);
  if (!started.ok()) return started.status();
  process = *std::move(started);
  return absl::OkStatus();
}

absl::Status RestartableService::KillAndRestart() {
  if (process != nullptr) process->Kill();
  return Start();
}

}  // namespace kabar::testing
