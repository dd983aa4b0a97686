// Copyright kabar authors.
#include "services/common/server_flags.h"

#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "services/common/logging.h"

ABSL_FLAG(std::string, log_level, "info", "Least severe log level written: debug, info, "
          "warning or error");
ABSL_FLAG(std::string, log_format, "text",
          "Log line format: text (key=value) or json (one object per line)");
ABSL_FLAG(std::string, metrics_listen, "",
          "HOST:PORT of the Prometheus /metrics endpoint (port 0: any); empty: no metrics");
ABSL_FLAG(std::string, metrics_port_file, "", "Write the bound metrics port to this file");
ABSL_FLAG(int, max_message_bytes, 64 << 20, "Largest gRPC message sent or received");

namespace kabar::common {

absl::Status ApplyServerFlags(ServerOptions* options) {
  absl::Status logging =
      ConfigureLogging(absl::GetFlag(FLAGS_log_level), absl::GetFlag(FLAGS_log_format));
  if (!logging.ok()) return logging;
  const int max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (max_message_bytes < 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_message_bytes must be at least 1024, got ", max_message_bytes));
  }
  options->max_message_bytes = max_message_bytes;
  options->metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  options->metrics_port_file = absl::GetFlag(FLAGS_metrics_port_file);
  return absl::OkStatus();
}

}  // namespace kabar::common
