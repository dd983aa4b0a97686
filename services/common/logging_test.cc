// Copyright kabar authors.
#include "services/common/logging.h"

#include "gtest/gtest.h"

namespace kabar::common {
namespace {

const absl::Time kTime = absl::FromUnixMillis(1767323045678);  // 2026-01-02T03:04:05.678Z

TEST(LoggingTest, TextLineIsKeyValueWithQuotedValuesWhenNeeded) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kWarning, LogFormat::kText, "store failed",
                          "abc123", {{"peer", "127.0.0.1:7703"}, {"error", "a \"b\"\nc"}}),
            "ts=2026-01-02T03:04:05.678Z level=warning msg=\"store failed\" "
            "request_id=abc123 peer=127.0.0.1:7703 error=\"a \\\"b\\\"\\nc\"\n");
}

TEST(LoggingTest, TextLineOmitsAbsentRequestIdAndQuotesEmptyValues) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kInfo, LogFormat::kText, "ready", "", {{"x", ""}}),
            "ts=2026-01-02T03:04:05.678Z level=info msg=ready x=\"\"\n");
}

TEST(LoggingTest, TextLineEscapesControlBytesAsHex) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kInfo, LogFormat::kText, "m", "",
                          {{"ctl", std::string("a\x01\x7f", 3)}}),
            "ts=2026-01-02T03:04:05.678Z level=info msg=m ctl=\"a\\x01\\x7f\"\n");
}

TEST(LoggingTest, JsonLineIsOneObjectWithEscapedStrings) {
  EXPECT_EQ(FormatLogLine(kTime, LogLevel::kError, LogFormat::kJson, "bad\tthing", "r1",
                          {{"n", "3"}, {"ctl", std::string("\x01", 1)}}),
            "{\"ts\":\"2026-01-02T03:04:05.678Z\",\"level\":\"error\",\"msg\":\"bad\\tthing\","
            "\"request_id\":\"r1\",\"n\":\"3\",\"ctl\":\"\\u0001\"}\n");
}

TEST(LoggingTest, ConfigureLoggingAcceptsKnownValuesAndRejectsOthers) {
  EXPECT_TRUE(ConfigureLogging("debug", "json").ok());
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  EXPECT_TRUE(ConfigureLogging("WARNING", "text").ok());
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  EXPECT_TRUE(LogEnabled(LogLevel::kError));
  const absl::Status bad_level = ConfigureLogging("verbose", "text");
  EXPECT_EQ(bad_level.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad_level.message().find("debug, info, warning or error"), std::string::npos);
  EXPECT_EQ(ConfigureLogging("info", "xml").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ConfigureLogging("info", "text").ok());
}

TEST(LoggingTest, ScopedRequestIdNestsAndRestores) {
  EXPECT_EQ(CurrentRequestId(), "");
  {
    ScopedRequestId outer("outer");
    EXPECT_EQ(CurrentRequestId(), "outer");
    {
      ScopedRequestId inner("inner");
      EXPECT_EQ(CurrentRequestId(), "inner");
    }
    EXPECT_EQ(CurrentRequestId(), "outer");
  }
  EXPECT_EQ(CurrentRequestId(), "");
}

TEST(LoggingTest, NewRequestIdsAreSixteenHexDigitsAndDiffer) {
  const std::string a = NewRequestId();
  const std::string b = NewRequestId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef"), std::string::npos);
  EXPECT_NE(a, b);
}

TEST(LoggingTest, SanitizeRequestIdRefusesWhatCouldForgeALogLine) {
  EXPECT_EQ(SanitizeRequestId("cli-42_a.b"), "cli-42_a.b");
  EXPECT_EQ(SanitizeRequestId(""), "");
  EXPECT_EQ(SanitizeRequestId("a b"), "");
  EXPECT_EQ(SanitizeRequestId("a\nlevel=error"), "");
  EXPECT_EQ(SanitizeRequestId("a\"b"), "");
  EXPECT_EQ(SanitizeRequestId(std::string(129, 'x')), "");
  EXPECT_EQ(SanitizeRequestId(std::string(128, 'x')), std::string(128, 'x'));
}

}  // namespace
}  // namespace kabar::common
