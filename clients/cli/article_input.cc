// Copyright kabar authors.
#include "clients/cli/article_input.h"

#include <cstring>
#include <exception>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "services/common/status_macros.h"
#include "services/common/text.h"

namespace kabar::cli {
namespace {

// Not ordered_json: its objects insert by linear search, so a line with n
// members took O(n^2) time (100k metadata keys: ~20 s of CPU).
using Json = nlohmann::json;

constexpr absl::string_view kByteOrderMark = "\xEF\xBB\xBF";

// google.protobuf.Timestamp's range: 0001-01-01T00:00:00Z to
// 9999-12-31T23:59:59.999999999Z.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Longest excerpt of the input quoted in an error message.
constexpr size_t kMaxQuotedBytes = 60;

// `text` cut to at most `max_bytes` without splitting a UTF-8 sequence,
// with "..." appended when something was cut.
std::string Excerpt(absl::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  size_t cut = max_bytes;
  // Back up over continuation bytes so the cut lands on a sequence start.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(text.substr(0, cut), "...");
}

// INVALID_ARGUMENT when arrays and objects in `text` nest deeper than
// kMaxJsonNestingDepth. Brackets inside strings do not count. This runs
// before the (recursive) parser so that "[[[[..." cannot exhaust the stack.
absl::Status CheckNestingDepth(absl::string_view text) {
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > kMaxJsonNestingDepth) {
          return absl::InvalidArgumentError(absl::StrCat(
              "JSON nests deeper than ", kMaxJsonNestingDepth, " levels"));
        }
        break;
      case ']':
      case '}':
        --depth;
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

// "malformed JSON at column 7: syntax error while parsing ..." from
// nlohmann's "[json.exception.parse_error.101] parse error at line 1,
// column 7: syntax error while parsing ...".
// nlohmann quotes the bytes it read last, which can stop in the middle of a
// UTF-8 character: those bytes are replaced so the message is valid text.
std::string DescribeParseError(const Json::parse_error& error) {
  const std::string valid = common::ReplaceInvalidUtf8(error.what());
  absl::string_view what = valid;
  const size_t detail = what.find(": ");
  if (detail == absl::string_view::npos) {
    return absl::StrCat("malformed JSON: ", Excerpt(what, 200));
  }
  return absl::StrCat("malformed JSON at byte ", error.byte, ": ",
                      Excerpt(what.substr(detail + 2), 200));
}

// Parses `text` as JSON, turning every failure into a Status.
absl::StatusOr<Json> ParseJson(absl::string_view text) {
  try {
    return Json::parse(text.begin(), text.end());
  } catch (const Json::parse_error& error) {
    return absl::InvalidArgumentError(DescribeParseError(error));
  } catch (const std::exception& error) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed JSON: ", Excerpt(common::ReplaceInvalidUtf8(error.what()), 200)));
  }
}

// Compact JSON text of `value`. Strings in a parsed document are valid
// UTF-8, but replace rather than throw should that ever not hold.
std::string CompactJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

absl::Status WrongType(absl::string_view field, absl::string_view expected,
                       const Json& value) {
  return absl::InvalidArgumentError(absl::StrCat(
      "\"", field, "\" must be ", expected, ", got ", value.type_name()));
}

// Sets `*out` from a string member; null leaves it unchanged.
absl::Status GetString(absl::string_view field, const Json& value,
                       std::string* out) {
  if (value.is_null()) return absl::OkStatus();
  if (!value.is_string()) return WrongType(field, "a string", value);
  *out = value.get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status ParsePublishedAt(const Json& value, v1::Article* article) {
  if (value.is_null()) return absl::OkStatus();
  if (!value.is_string()) {
    return WrongType("published_at", "an RFC 3339 string", value);
  }
  const std::string& text = value.get_ref<const std::string&>();
  // The value is quoted escaped: it may hold "\n" or a terminal escape.
  const auto bad_time = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"published_at\" is not an RFC 3339 time (\"",
                     absl::Utf8SafeCHexEscape(Excerpt(text, kMaxQuotedBytes)),
                     "\"): ", why));
  };
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, text, &time, &error)) {
    return bad_time(error);
  }
  // ParseTime also accepts "infinite-future" and "infinite-past".
  if (time == absl::InfiniteFuture() || time == absl::InfinitePast()) {
    return bad_time("not a finite time");
  }
  const int64_t seconds = absl::ToUnixSeconds(time);
  if (seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return bad_time("outside years 0001 to 9999");
  }
  article->mutable_published_at()->set_seconds(seconds);
  article->mutable_published_at()->set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return absl::OkStatus();
}

absl::Status ParseMetadata(const Json& value, v1::Article* article) {
  if (value.is_null()) return absl::OkStatus();
  if (!value.is_object()) return WrongType("metadata", "an object", value);
  auto& metadata = *article->mutable_metadata();
  for (const auto& [key, entry] : value.items()) {
    if (entry.is_null()) continue;
    metadata[key] = entry.is_string() ? entry.get_ref<const std::string&>()
                                      : CompactJson(entry);
  }
  return absl::OkStatus();
}

bool IsBlank(absl::string_view text) {
  return absl::StripAsciiWhitespace(text).empty();
}

}  // namespace

absl::StatusOr<v1::Article> ParseArticleJson(
    absl::string_view line, std::vector<std::string>* unknown_fields) {
  absl::ConsumePrefix(&line, kByteOrderMark);
  KABAR_RETURN_IF_ERROR(common::ValidateUtf8(line));
  // nlohmann's lexer reads a raw NUL as the end of the input and would
  // silently drop whatever follows it; JSON text never holds one.
  if (const size_t nul = line.find('\0'); nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raw NUL at byte ", nul, " (escape it as \\u0000 inside strings)"));
  }
  KABAR_RETURN_IF_ERROR(CheckNestingDepth(line));
  KABAR_ASSIGN_OR_RETURN(const Json document, ParseJson(line));
  if (!document.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a JSON object (got ", document.type_name(), ")"));
  }

  v1::Article article;
  const Json* body = nullptr;
  const Json* text = nullptr;
  for (const auto& [key, value] : document.items()) {
    if (key == "id") {
      KABAR_RETURN_IF_ERROR(GetString(key, value, article.mutable_id()));
    } else if (key == "url") {
      KABAR_RETURN_IF_ERROR(GetString(key, value, article.mutable_url()));
    } else if (key == "source") {
      KABAR_RETURN_IF_ERROR(GetString(key, value, article.mutable_source()));
    } else if (key == "title") {
      KABAR_RETURN_IF_ERROR(GetString(key, value, article.mutable_title()));
    } else if (key == "body") {
      body = &value;
    } else if (key == "text") {
      text = &value;
    } else if (key == "published_at") {
      KABAR_RETURN_IF_ERROR(ParsePublishedAt(value, &article));
    } else if (key == "metadata") {
      KABAR_RETURN_IF_ERROR(ParseMetadata(value, &article));
    } else if (unknown_fields != nullptr) {
      unknown_fields->push_back(key);
    }
  }

  // "body" wins over its alias "text"; a null counts as absent.
  absl::string_view body_field = "body";
  if (body == nullptr || body->is_null()) {
    if (text != nullptr && !text->is_null()) {
      body = text;
      body_field = "text";
    }
  }
  if (body == nullptr || body->is_null()) {
    return absl::InvalidArgumentError("missing \"body\"");
  }
  KABAR_RETURN_IF_ERROR(GetString(body_field, *body, article.mutable_body()));
  if (IsBlank(article.body())) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", body_field, "\" is empty"));
  }
  return article;
}

std::string BinaryReason(absl::string_view head) {
  const size_t nul = head.find('\0');
  if (nul != absl::string_view::npos && nul < head.find('\n')) {
    return absl::StrCat("NUL byte at offset ", nul, " on line 1");
  }
  size_t odd = 0;
  common::ReplaceInvalidUtf8(head, &odd);
  for (const char c : head) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') ||
        byte == 0x7F) {
      ++odd;
    }
  }
  if (odd * 4 > head.size()) {
    return absl::StrCat(odd, " of its first ", head.size(),
                        " bytes are control characters or invalid UTF-8");
  }
  return "";
}

absl::StatusOr<v1::Article> ParseTextFileArticle(absl::string_view contents) {
  const size_t nul = contents.find('\0');
  if (nul != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("binary file (NUL byte at offset ", nul, ")"));
  }
  if (const absl::Status utf8 = common::ValidateUtf8(contents); !utf8.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("binary or non-UTF-8 file (", utf8.message(), ")"));
  }
  absl::ConsumePrefix(&contents, kByteOrderMark);

  // The title is the first line with something on it.
  absl::string_view rest = contents;
  absl::string_view title;
  while (!rest.empty() && title.empty()) {
    const size_t newline = rest.find('\n');
    title = absl::StripAsciiWhitespace(rest.substr(0, newline));
    rest = newline == absl::string_view::npos ? absl::string_view()
                                              : rest.substr(newline + 1);
  }
  if (title.empty()) return absl::InvalidArgumentError("file is empty");
  const absl::string_view body = absl::StripAsciiWhitespace(rest);
  if (body.empty()) {
    return absl::InvalidArgumentError(
        "no body: the first line is the title and nothing follows it");
  }

  v1::Article article;
  article.set_title(std::string(title));
  article.set_body(absl::StrReplaceAll(body, {{"\r\n", "\n"}}));
  return article;
}

InputKind InputKindForPath(absl::string_view path) {
  if (path == "-") return InputKind::kJsonLines;
  for (const absl::string_view extension : {".jsonl", ".ndjson", ".json"}) {
    if (absl::EndsWithIgnoreCase(path, extension)) return InputKind::kJsonLines;
  }
  return InputKind::kPlainText;
}

LineReader::LineReader(ReadFunction read, size_t max_line_bytes,
                       size_t chunk_bytes)
    : read_(std::move(read)),
      max_line_bytes_(max_line_bytes),
      buffer_(chunk_bytes > 0 ? chunk_bytes : 1) {}

bool LineReader::Fill() {
  if (ended_ || failed_) return false;
  const int64_t got = read_(buffer_.data(), buffer_.size());
  if (got <= 0) {
    (got == 0 ? ended_ : failed_) = true;
    return false;
  }
  begin_ = 0;
  end_ = static_cast<size_t>(got);
  return true;
}

LineReader::Result LineReader::Next(std::string* line) {
  line->clear();
  uint64_t bytes = 0;
  bool too_long = false;
  bool started = false;  // Whether this line has any bytes or a line end.
  while (true) {
    if (begin_ == end_ && !Fill()) {
      if (failed_) return Result::kError;
      if (!started) return Result::kEnd;
      break;  // The last line has no line end.
    }
    started = true;
    const char* const start = buffer_.data() + begin_;
    const size_t available = end_ - begin_;
    const void* const newline = std::memchr(start, '\n', available);
    const size_t length =
        newline == nullptr
            ? available
            : static_cast<size_t>(static_cast<const char*>(newline) - start);
    bytes += length;
    // One byte of slack for a "\r" that is not part of the line.
    if (!too_long && bytes > max_line_bytes_ + 1) {
      too_long = true;
      std::string().swap(*line);  // Give the memory back right away.
    }
    if (!too_long) line->append(start, length);
    begin_ += length;
    if (newline != nullptr) {
      ++begin_;
      break;
    }
  }

  ++line_number_;
  if (!too_long) {
    if (!line->empty() && line->back() == '\r') line->pop_back();
    if (line_number_ == 1 && absl::StartsWith(*line, kByteOrderMark)) {
      line->erase(0, kByteOrderMark.size());
    }
    line_bytes_ = line->size();
    if (line_bytes_ <= max_line_bytes_) return Result::kLine;
    line->clear();
    return Result::kTooLong;
  }
  line_bytes_ = bytes;
  return Result::kTooLong;
}

}  // namespace kabar::cli
