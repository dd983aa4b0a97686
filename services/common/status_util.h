// Copyright kabar authors.
// The one place where absl::Status and grpc::Status meet. Services convert
// once at their edge with ToGrpcStatus; clients convert back with
// FromGrpcStatus.
#ifndef KABAR_SERVICES_COMMON_STATUS_UTIL_H_
#define KABAR_SERVICES_COMMON_STATUS_UTIL_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kabar::common {

// Longest message sent over the wire; longer ones are cut with "...".
inline constexpr size_t kMaxGrpcMessageBytes = 1024;

// Same code, message truncated to kMaxGrpcMessageBytes.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Same code and message. `peer`, when not empty, is prefixed to the message
// of an error so callers can tell which service failed ("store at
// 127.0.0.1:7703: ...").
absl::Status FromGrpcStatus(const grpc::Status& status,
                            absl::string_view peer = "");

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_STATUS_UTIL_H_
