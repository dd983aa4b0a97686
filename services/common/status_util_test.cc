// Copyright kabar authors.
#include "services/common/status_util.h"

#include <string>

#include "gtest/gtest.h"

namespace kabar::common {
namespace {

TEST(StatusUtilTest, EveryCodeSurvivesTheRoundTrip) {
  for (int code = 0; code <= 16; ++code) {
    const absl::Status original(static_cast<absl::StatusCode>(code),
                                code == 0 ? "" : "message");
    const grpc::Status wire = ToGrpcStatus(original);
    EXPECT_EQ(static_cast<int>(wire.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(wire), original);
  }
}

TEST(StatusUtilTest, TruncatesLongMessagesOnACharacterBoundary) {
  std::string message;
  while (message.size() < 3 * kMaxGrpcMessageBytes) message += "é";
  const grpc::Status wire = ToGrpcStatus(absl::InvalidArgumentError(message));
  EXPECT_LE(wire.error_message().size(), kMaxGrpcMessageBytes);
  EXPECT_EQ(wire.error_message().substr(wire.error_message().size() - 3), "...");
  // What precedes the dots is whole two-byte characters.
  EXPECT_EQ((wire.error_message().size() - 3) % 2, 0u);
}

TEST(StatusUtilTest, FromGrpcStatusNamesThePeer) {
  const absl::Status status = FromGrpcStatus(
      grpc::Status(grpc::StatusCode::UNAVAILABLE, "connection refused"),
      "store at 127.0.0.1:7703");
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "store at 127.0.0.1:7703: connection refused");
}

}  // namespace
}  // namespace kabar::common
