// Copyright kabar authors.
// The flags every kabar service shares beyond its own: logging, metrics
// and message size limits. Defined once here so the three services agree on
// names and defaults.
//   --log_level=info        debug | info | warning | error
//   --log_format=text       text (key=value) | json (one object per line)
//   --metrics_listen=""     HOST:PORT of the Prometheus /metrics endpoint
//   --metrics_port_file=""  write the bound metrics port here
//   --max_message_bytes=67108864  largest gRPC message sent or received
#ifndef KABAR_SERVICES_COMMON_SERVER_FLAGS_H_
#define KABAR_SERVICES_COMMON_SERVER_FLAGS_H_

#include "absl/status/status.h"
#include "services/common/server_runner.h"

namespace kabar::common {

// Configures logging from the flags and copies the metrics and message size
// flags into `options`. INVALID_ARGUMENT for a value out of range.
absl::Status ApplyServerFlags(ServerOptions* options);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_SERVER_FLAGS_H_
