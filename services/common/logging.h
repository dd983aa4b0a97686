// Copyright kabar authors.
// Logging: one line per call on stderr, with a level, a message and
// key=value fields. Abseil 20220623 has no absl/log. Two formats:
//   text: ts=2026-01-02T03:04:05.678Z level=info msg="stored batch" rows=64
//   json: {"ts":"2026-01-02T03:04:05.678Z","level":"info","msg":"stored batch","rows":"64"}
// Every line written while a ScopedRequestId is active on the thread carries
// request_id=..., so the lines about one request can be found across
// services. Thread-safe.
#ifndef KABAR_SERVICES_COMMON_LOGGING_H_
#define KABAR_SERVICES_COMMON_LOGGING_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace kabar::common {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class LogFormat { kText, kJson };

// Extra key=value pairs of one line. Keys are plain identifiers.
using LogFields = std::vector<std::pair<std::string, std::string>>;

// Lines below `level` are dropped. Default: info, text.
void SetLogLevel(LogLevel level);
void SetLogFormat(LogFormat format);
// Parses --log_level (debug|info|warning|error) and --log_format
// (text|json) values; INVALID_ARGUMENT naming the accepted values.
absl::Status ConfigureLogging(absl::string_view level, absl::string_view format);
bool LogEnabled(LogLevel level);

void Log(LogLevel level, absl::string_view message, const LogFields& fields = {});
void LogDebug(absl::string_view message, const LogFields& fields = {});
void LogInfo(absl::string_view message, const LogFields& fields = {});
void LogWarning(absl::string_view message, const LogFields& fields = {});
void LogError(absl::string_view message, const LogFields& fields = {});

// One formatted line (with its newline), without writing it; for tests.
std::string FormatLogLine(absl::Time time, LogLevel level, LogFormat format,
                          absl::string_view message, absl::string_view request_id,
                          const LogFields& fields);

// The request id lines logged on this thread carry, "" when none.
const std::string& CurrentRequestId();

// Makes `request_id` the current thread's request id until destroyed, then
// restores the previous one. An empty id clears it for the scope.
class ScopedRequestId final {
 public:
  explicit ScopedRequestId(std::string request_id);
  ~ScopedRequestId();
  ScopedRequestId(const ScopedRequestId&) = delete;
  ScopedRequestId& operator=(const ScopedRequestId&) = delete;

 private:
  std::string previous_;
};

// The gRPC metadata key request ids travel in.
inline constexpr char kRequestIdMetadataKey[] = "x-request-id";

// A fresh random request id: 16 lowercase hex digits.
std::string NewRequestId();

// `id` when it is usable as a request id (1 to 128 printable ASCII
// characters other than space, quote and backslash), else "". Ids come from
// clients, so they are checked before they reach a log line.
std::string SanitizeRequestId(absl::string_view id);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_LOGGING_H_
