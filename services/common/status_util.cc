// Copyright kabar authors.
#include "services/common/status_util.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace kabar::common {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  std::string message(status.message());
  if (message.size() > kMaxGrpcMessageBytes) {
    message.resize(kMaxGrpcMessageBytes - 3);
    // Do not leave half a UTF-8 sequence at the cut.
    while (!message.empty() &&
           (static_cast<unsigned char>(message.back()) & 0xC0) == 0x80) {
      message.pop_back();
    }
    if (!message.empty() &&
        (static_cast<unsigned char>(message.back()) & 0x80) != 0) {
      message.pop_back();
    }
    message += "...";
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), message);
}

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view peer) {
  if (status.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(status.error_code());
  if (peer.empty()) return absl::Status(code, status.error_message());
  return absl::Status(code, absl::StrCat(peer, ": ", status.error_message()));
}

}  // namespace kabar::common
