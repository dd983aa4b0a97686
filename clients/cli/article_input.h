// Copyright kabar authors.
// Turning input bytes into v1::Article: one JSON object per line (JSON
// Lines) or one plain-text file per article, plus a line reader that hands
// out numbered lines without ever holding an over-long line in memory.
// `kabar ingest` is the caller; the parsers are pure, never throw and never
// crash on any input, so they can be fuzzed directly.
#ifndef KABAR_CLIENTS_CLI_ARTICLE_INPUT_H_
#define KABAR_CLIENTS_CLI_ARTICLE_INPUT_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kabar/v1/article.pb.h"

namespace kabar::cli {

// Deepest JSON nesting ParseArticleJson accepts. An article needs 2 levels
// (the object, its metadata); nested metadata values get some room beyond
// that. The limit exists because nlohmann's parser recurses once per level.
inline constexpr int kMaxJsonNestingDepth = 64;

// Parses one JSON Lines record into an article.
//
// The record is an object with these members, all optional except the body:
//   id, url, source, title  strings (null = absent)
//   body                    non-blank string; `text` is accepted as an alias
//   published_at            RFC 3339 string, e.g. "2024-05-01T08:00:00+07:00"
//   metadata                object; string values are kept as they are,
//                           numbers and booleans become their JSON text,
//                           arrays and objects their compact JSON text, and
//                           null values are dropped
// Members with other names are ignored; when `unknown_fields` is not null,
// their names are appended to it, sorted by name. A leading UTF-8 byte-order
// mark and surrounding whitespace (including a trailing "\r") are ignored.
//
// Returns INVALID_ARGUMENT with a one-line, human-readable reason when the
// line is not valid UTF-8, nests deeper than kMaxJsonNestingDepth, is not a
// JSON object, has a member of the wrong type, has no body, or has a bad
// published_at. Never throws.
absl::StatusOr<v1::Article> ParseArticleJson(
    absl::string_view line, std::vector<std::string>* unknown_fields = nullptr);

// Parses the contents of a plain-text article file: the first non-blank
// line is the title, everything after it the body. CRLF line ends and a
// leading byte-order mark are accepted.
//
// Returns INVALID_ARGUMENT when the contents look binary (a NUL byte), are
// not valid UTF-8, or have no body after the title line. Never throws.
absl::StatusOr<v1::Article> ParseTextFileArticle(absl::string_view contents);

// How many bytes at the start of a JSON Lines input BinaryReason looks at.
inline constexpr size_t kBinarySniffBytes = 4096;

// Why `head`, the first bytes of a JSON Lines input, looks like a binary
// file rather than text: a NUL byte on its first line, or more than a
// quarter of its bytes are control characters (NUL included; tab, line
// feed, carriage return and form feed are not) or not part of well-formed
// UTF-8. Empty when it looks like text. A stray NUL further down, or a text
// file in another encoding (say Latin-1, a few bytes in a hundred), still
// looks like text: those lines are rejected one by one, with their reason.
std::string BinaryReason(absl::string_view head);

// How `kabar ingest` reads one input.
enum class InputKind {
  kJsonLines,  // "-" (stdin) and *.jsonl, *.ndjson, *.json
  kPlainText,  // everything else: one article per file
};

// The kind for an input path, decided by its extension (case-insensitive).
InputKind InputKindForPath(absl::string_view path);

// Reads numbered lines from a byte source in chunks. Line ends are "\n" or
// "\r\n" and are not part of the line; a UTF-8 byte-order mark at the start
// of the first line is dropped. A line longer than `max_line_bytes` is
// skipped without being buffered: only its length is reported, so a 50 MB
// line costs no more memory than a short one.
//
// Not thread-safe.
class LineReader final {
 public:
  // Reads up to `size` bytes into `buffer`. Returns how many were read, 0 at
  // the end of the input, or -1 on an error. Like POSIX read(), it may
  // return fewer bytes than asked for, so lines from a pipe are handed out
  // as soon as they arrive.
  using ReadFunction = std::function<int64_t(char* buffer, size_t size)>;

  // Default size of each read.
  static constexpr size_t kDefaultChunkBytes = 64 << 10;

  LineReader(ReadFunction read, size_t max_line_bytes,
             size_t chunk_bytes = kDefaultChunkBytes);

  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  enum class Result {
    kLine,     // `*line` holds the next line.
    kTooLong,  // The next line was over the limit; `*line` is empty.
    kEnd,      // No more lines.
    kError,    // The source failed (not simply ended).
  };

  // Reads the next line into `*line`. After kLine and kTooLong,
  // line_number() is that line's 1-based number and line_bytes() its length
  // without the line end.
  Result Next(std::string* line);

  int64_t line_number() const { return line_number_; }
  uint64_t line_bytes() const { return line_bytes_; }

 private:
  // Refills buffer_. False at the end of the input or on an error.
  bool Fill();

  const ReadFunction read_;
  const size_t max_line_bytes_;
  std::vector<char> buffer_;
  size_t begin_ = 0;  // First unread byte in buffer_.
  size_t end_ = 0;    // One past the last valid byte in buffer_.
  bool ended_ = false;
  bool failed_ = false;
  int64_t line_number_ = 0;
  uint64_t line_bytes_ = 0;
};

}  // namespace kabar::cli

#endif  // KABAR_CLIENTS_CLI_ARTICLE_INPUT_H_
