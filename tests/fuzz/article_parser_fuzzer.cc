// Copyright kabar authors.
// libFuzzer target for what `kabar ingest` does with untrusted bytes
// (clients/cli/article_input.h): every input goes through ParseArticleJson,
// ParseTextFileArticle and LineReader. Beyond "no crash, no sanitizer
// report", it checks the documented contracts:
//   - ParseArticleJson: an article has a non-blank body and only valid UTF-8
//     in every string and metadata entry, and a published_at in the
//     Timestamp range, and came from a line without a raw NUL; a leading
//     byte-order mark and a trailing "\r" change nothing; an error is
//     INVALID_ARGUMENT with a one-line, valid UTF-8 reason (printed after
//     FILE:LINE:).
//   - ParseTextFileArticle: a one-line, trimmed title and a non-blank body,
//     all valid UTF-8; a leading BOM, and CRLF line ends instead of LF,
//     change nothing; errors as above. (A stray CR may stay in the body, as
//     in "\r\r\n": ingest's NormalizeArticleText turns it into a newline.)
//   - LineReader: whatever the chunk and read sizes, it hands out the same
//     lines as a plain split on "\n" (minus one trailing "\r", minus a BOM
//     on line 1), flags exactly the over-long ones, and numbers them 1, 2,...
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "clients/cli/article_input.h"
#include "google/protobuf/util/message_differencer.h"
#include "tests/fuzz/fuzz_util.h"

namespace kabar::fuzz {
namespace {

constexpr absl::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Timestamp's range, 0001-01-01 to 9999-12-31.
constexpr int64_t kMinSeconds = -62135596800;
constexpr int64_t kMaxSeconds = 253402300799;

void CheckError(const absl::Status& status, absl::string_view parser) {
  Check(status.code() == absl::StatusCode::kInvalidArgument,
        absl::StrCat(parser, ": error code is not INVALID_ARGUMENT"),
        status.ToString());
  const absl::string_view message = status.message();
  Check(!message.empty(), absl::StrCat(parser, ": empty error message"));
  Check(!absl::StrContains(message, '\n') && !absl::StrContains(message, '\r'),
        absl::StrCat(parser, ": error message is not one line"), message);
  // nlohmann's parse errors quote the bytes last read, which can end inside
  // a multi-byte sequence; the reason must still be valid UTF-8.
  Check(IsWellFormedUtf8(message),
        absl::StrCat(parser, ": error message is not valid UTF-8"), message);
}

void CheckUtf8Fields(const v1::Article& article, absl::string_view parser) {
  for (const std::string* field :
       {&article.id(), &article.url(), &article.source(), &article.title(),
        &article.body()}) {
    Check(IsWellFormedUtf8(*field),
          absl::StrCat(parser, ": field is not valid UTF-8"), *field);
  }
  for (const auto& [key, value] : article.metadata()) {
    Check(IsWellFormedUtf8(key),
          absl::StrCat(parser, ": metadata key is not valid UTF-8"), key);
    Check(IsWellFormedUtf8(value),
          absl::StrCat(parser, ": metadata value is not valid UTF-8"), value);
  }
}

void FuzzArticleJson(absl::string_view input) {
  std::vector<std::string> unknown_fields;
  const absl::StatusOr<v1::Article> article =
      cli::ParseArticleJson(input, &unknown_fields);
  if (!article.ok()) {
    CheckError(article.status(), "ParseArticleJson");
  } else {
    CheckUtf8Fields(*article, "ParseArticleJson");
    // nlohmann stops at a NUL as if the input ended there.
    Check(input.find('\0') == absl::string_view::npos,
          "ParseArticleJson: accepted a line with a raw NUL", input);
    Check(!absl::StripAsciiWhitespace(article->body()).empty(),
          "ParseArticleJson: accepted a blank body", article->body());
    if (article->has_published_at()) {
      const int64_t seconds = article->published_at().seconds();
      const int32_t nanos = article->published_at().nanos();
      Check(seconds >= kMinSeconds && seconds <= kMaxSeconds,
            "ParseArticleJson: published_at outside the Timestamp range");
      Check(nanos >= 0 && nanos < 1000000000,
            "ParseArticleJson: published_at nanos out of range");
    }
    for (const std::string& name : unknown_fields) {
      Check(IsWellFormedUtf8(name),
            "ParseArticleJson: unknown field name is not valid UTF-8", name);
    }
  }

  // A leading BOM and a trailing "\r" (a CRLF file) are ignored.
  if (absl::StartsWith(input, kByteOrderMark)) return;
  const std::string decorated = absl::StrCat(kByteOrderMark, input, "\r");
  const absl::StatusOr<v1::Article> again = cli::ParseArticleJson(decorated);
  Check(again.ok() == article.ok(),
        "ParseArticleJson: a BOM and a trailing CR changed the outcome", input);
  if (article.ok()) {
    Check(google::protobuf::util::MessageDifferencer::Equals(*article, *again),
          "ParseArticleJson: a BOM and a trailing CR changed the article",
          input);
  }
}

// Parsing `variant` gives the same outcome, and article, as `article`.
void CheckSameTextFileArticle(const absl::StatusOr<v1::Article>& article,
                              absl::string_view variant,
                              absl::string_view what) {
  const absl::StatusOr<v1::Article> again = cli::ParseTextFileArticle(variant);
  Check(again.ok() == article.ok(),
        absl::StrCat("ParseTextFileArticle: ", what, " changed the outcome"),
        variant);
  if (article.ok()) {
    Check(google::protobuf::util::MessageDifferencer::Equals(*article, *again),
          absl::StrCat("ParseTextFileArticle: ", what, " changed the article"),
          variant);
  }
}

void FuzzTextFileArticle(absl::string_view input) {
  const absl::StatusOr<v1::Article> article = cli::ParseTextFileArticle(input);
  // A leading BOM, and CRLF for LF line ends, change nothing.
  if (!absl::StartsWith(input, kByteOrderMark)) {
    CheckSameTextFileArticle(article, absl::StrCat(kByteOrderMark, input),
                             "a leading BOM");
  }
  if (!absl::StrContains(input, '\r')) {
    CheckSameTextFileArticle(
        article, absl::StrReplaceAll(input, {{"\n", "\r\n"}}), "CRLF");
  }
  if (!article.ok()) {
    CheckError(article.status(), "ParseTextFileArticle");
    return;
  }
  CheckUtf8Fields(*article, "ParseTextFileArticle");
  const std::string& title = article->title();
  Check(!title.empty(), "ParseTextFileArticle: empty title");
  Check(!absl::StrContains(title, '\n'),
        "ParseTextFileArticle: title spans lines", title);
  Check(absl::StripAsciiWhitespace(title) == title,
        "ParseTextFileArticle: title not trimmed", title);
  Check(!absl::StripAsciiWhitespace(article->body()).empty(),
        "ParseTextFileArticle: blank body", article->body());
  Check(input.find('\0') == absl::string_view::npos,
        "ParseTextFileArticle: accepted a NUL byte", input);
}

// What LineReader must produce, from a plain split.
struct ExpectedLine {
  bool too_long;
  std::string line;  // When not too long.
};

std::vector<ExpectedLine> SplitLines(absl::string_view input,
                                     size_t max_line_bytes) {
  std::vector<ExpectedLine> lines;
  if (input.empty()) return lines;
  std::vector<absl::string_view> pieces = absl::StrSplit(input, '\n');
  // A final line end does not start another line.
  if (pieces.back().empty()) pieces.pop_back();
  for (size_t i = 0; i < pieces.size(); ++i) {
    absl::string_view raw = pieces[i];
    // The reader allows one byte of slack for a "\r" while reading.
    const bool too_long_raw = raw.size() > max_line_bytes + 1;
    absl::string_view line = raw;
    absl::ConsumeSuffix(&line, "\r");
    if (i == 0) absl::ConsumePrefix(&line, kByteOrderMark);
    const bool too_long = too_long_raw || line.size() > max_line_bytes;
    lines.push_back({too_long, too_long ? "" : std::string(line)});
  }
  return lines;
}

void FuzzLineReader(absl::string_view input) {
  // Limits and read sizes from the input itself, so the fuzzer explores them.
  const size_t max_line_bytes =
      input.empty() ? 8 : static_cast<uint8_t>(input[0]) % 64;
  const size_t chunk_bytes =
      input.size() < 2 ? 3 : 1 + static_cast<uint8_t>(input[1]) % 16;
  size_t offset = 0;
  uint32_t state = static_cast<uint32_t>(input.size()) * 2654435761u + 1;
  cli::LineReader reader(
      [&](char* buffer, size_t size) -> int64_t {
        // Short reads of varying size, as from a pipe.
        state ^= state << 13, state ^= state >> 17, state ^= state << 5;
        const size_t want = 1 + state % size;
        const size_t got = std::min(want, input.size() - offset);
        std::copy_n(input.data() + offset, got, buffer);
        offset += got;
        return static_cast<int64_t>(got);
      },
      max_line_bytes, chunk_bytes);

  const std::vector<ExpectedLine> expected = SplitLines(input, max_line_bytes);
  std::string line;
  for (size_t i = 0; i < expected.size(); ++i) {
    const cli::LineReader::Result result = reader.Next(&line);
    Check(result == (expected[i].too_long ? cli::LineReader::Result::kTooLong
                                          : cli::LineReader::Result::kLine),
          absl::StrCat("LineReader: wrong result for line ", i + 1), input);
    Check(reader.line_number() == static_cast<int64_t>(i + 1),
          "LineReader: wrong line number", input);
    if (expected[i].too_long) {
      Check(line.empty(), "LineReader: too-long line not empty", line);
      Check(reader.line_bytes() > max_line_bytes,
            "LineReader: too-long line reported within the limit", input);
    } else {
      Check(line == expected[i].line,
            absl::StrCat("LineReader: wrong content of line ", i + 1), line);
      Check(reader.line_bytes() == line.size(),
            "LineReader: line_bytes() differs from the line's size", line);
    }
  }
  Check(reader.Next(&line) == cli::LineReader::Result::kEnd,
        "LineReader: more lines than a plain split", input);
  Check(reader.Next(&line) == cli::LineReader::Result::kEnd,
        "LineReader: not at the end after kEnd", input);
}

}  // namespace
}  // namespace kabar::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  kabar::fuzz::FuzzArticleJson(input);
  kabar::fuzz::FuzzTextFileArticle(input);
  kabar::fuzz::FuzzLineReader(input);
  return 0;
}
