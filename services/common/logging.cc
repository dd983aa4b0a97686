// Copyright kabar authors.
#include "services/common/logging.h"

#include <atomic>
#include <cstdio>
#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

namespace kabar::common {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<int> log_format{static_cast<int>(LogFormat::kText)};

thread_local std::string current_request_id;

absl::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

// A quoted string with quotes, backslashes and control bytes escaped: as
// \u00XX in JSON, as \xXX (DEL too) in key=value text.
void AppendQuoted(std::string* out, absl::string_view value, bool json) {
  out->push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default: {
        const unsigned char byte = static_cast<unsigned char>(c);
        if (json && byte < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", byte);
        } else if (!json && (byte < 0x20 || byte == 0x7f)) {
          absl::StrAppendFormat(out, "\\x%02x", byte);
        } else {
          out->push_back(c);
        }
      }
    }
  }
  out->push_back('"');
}

// Text values are bare when they are one plain token, quoted otherwise.
void AppendTextValue(std::string* out, absl::string_view value) {
  bool bare = !value.empty();
  for (char c : value) {
    if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) bare = false;
  }
  if (bare) {
    out->append(value.data(), value.size());
    return;
  }
  AppendQuoted(out, value, /*json=*/false);
}

void AppendJsonString(std::string* out, absl::string_view value) {
  AppendQuoted(out, value, /*json=*/true);
}

}  // namespace

void SetLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

void SetLogFormat(LogFormat format) { log_format.store(static_cast<int>(format)); }

absl::Status ConfigureLogging(absl::string_view level, absl::string_view format) {
  const std::string lower_level = absl::AsciiStrToLower(level);
  LogLevel parsed_level;
  if (lower_level == "debug") {
    parsed_level = LogLevel::kDebug;
  } else if (lower_level == "info") {
    parsed_level = LogLevel::kInfo;
  } else if (lower_level == "warning" || lower_level == "warn") {
    parsed_level = LogLevel::kWarning;
  } else if (lower_level == "error") {
    parsed_level = LogLevel::kError;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log_level must be debug, info, warning or error, got \"", level, "\""));
  }
  const std::string lower_format = absl::AsciiStrToLower(format);
  LogFormat parsed_format;
  if (lower_format == "text") {
    parsed_format = LogFormat::kText;
  } else if (lower_format == "json") {
    parsed_format = LogFormat::kJson;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("--log_format must be text or json, got \"", format, "\""));
  }
  SetLogLevel(parsed_level);
  SetLogFormat(parsed_format);
  return absl::OkStatus();
}

bool LogEnabled(LogLevel level) { return static_cast<int>(level) >= min_level.load(); }

std::string FormatLogLine(absl::Time time, LogLevel level, LogFormat format,
                          absl::string_view message, absl::string_view request_id,
                          const LogFields& fields) {
  const std::string timestamp =
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", time, absl::UTCTimeZone());
  std::string line;
  if (format == LogFormat::kJson) {
    auto field = [&](absl::string_view key, absl::string_view value) {
      line.push_back(line.empty() ? '{' : ',');
      AppendJsonString(&line, key);
      line.push_back(':');
      AppendJsonString(&line, value);
    };
    field("ts", timestamp);
    field("level", LevelName(level));
    field("msg", message);
    if (!request_id.empty()) field("request_id", request_id);
    for (const auto& [key, value] : fields) field(key, value);
    line.append("}\n");
    return line;
  }
  auto field = [&](absl::string_view key, absl::string_view value) {
    if (!line.empty()) line.push_back(' ');
    absl::StrAppend(&line, key, "=");
    AppendTextValue(&line, value);
  };
  field("ts", timestamp);
  field("level", LevelName(level));
  field("msg", message);
  if (!request_id.empty()) field("request_id", request_id);
  for (const auto& [key, value] : fields) field(key, value);
  line.push_back('\n');
  return line;
}

void Log(LogLevel level, absl::string_view message, const LogFields& fields) {
  if (!LogEnabled(level)) return;
  const std::string line =
      FormatLogLine(absl::Now(), level, static_cast<LogFormat>(log_format.load()), message,
                    current_request_id, fields);
  // One fwrite per line so concurrent lines do not interleave.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

void LogDebug(absl::string_view message, const LogFields& fields) {
  Log(LogLevel::kDebug, message, fields);
}
void LogInfo(absl::string_view message, const LogFields& fields) {
  Log(LogLevel::kInfo, message, fields);
}
void LogWarning(absl::string_view message, const LogFields& fields) {
  Log(LogLevel::kWarning, message, fields);
}
void LogError(absl::string_view message, const LogFields& fields) {
  Log(LogLevel::kError, message, fields);
}

const std::string& CurrentRequestId() { return current_request_id; }

ScopedRequestId::ScopedRequestId(std::string request_id)
    : previous_(std::exchange(current_request_id, std::move(request_id))) {}

ScopedRequestId::~ScopedRequestId() { current_request_id = std::move(previous_); }

std::string NewRequestId() {
  thread_local std::mt19937_64 random(std::random_device{}());
  return absl::StrFormat("%016x", random());
}

std::string SanitizeRequestId(absl::string_view id) {
  if (id.empty() || id.size() > 128) return "";
  for (char c : id) {
    if (c <= ' ' || c > '~' || c == '"' || c == '\\') return "";
  }
  return std::string(id);
}

}  // namespace kabar::common
