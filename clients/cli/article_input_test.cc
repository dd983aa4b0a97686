// Copyright kabar authors.
#include "clients/cli/article_input.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/text.h"

namespace kabar::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

TEST(ParseArticleJsonTest, ReadsEveryField) {
  const absl::StatusOr<v1::Article> article = ParseArticleJson(
      R"({"id": "a1", "url": "https://example.com/a", "source": "antara",)"
      R"( "title": "Banjir di Jakarta", "body": "Hujan deras.",)"
      R"( "published_at": "2024-05-01T08:00:00.5+07:00",)"
      R"( "metadata": {"author": "Rina"}})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->id(), "a1");
  EXPECT_EQ(article->url(), "https://example.com/a");
  EXPECT_EQ(article->source(), "antara");
  EXPECT_EQ(article->title(), "Banjir di Jakarta");
  EXPECT_EQ(article->body(), "Hujan deras.");
  // 08:00:00.5 at +07:00 is 01:00:00.5 UTC.
  EXPECT_EQ(article->published_at().seconds(), 1714525200);
  EXPECT_EQ(article->published_at().nanos(), 500000000);
  EXPECT_THAT(article->metadata(),
              UnorderedElementsAre(Pair("author", "Rina")));
}

TEST(ParseArticleJsonTest, NeedsOnlyABody) {
  const absl::StatusOr<v1::Article> article =
      ParseArticleJson(R"({"body": "just text"})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->body(), "just text");
  EXPECT_EQ(article->id(), "");
  EXPECT_FALSE(article->has_published_at());
}

TEST(ParseArticleJsonTest, AcceptsTextAsAliasOfBody) {
  const absl::StatusOr<v1::Article> article =
      ParseArticleJson(R"({"title": "t", "text": "the body"})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->body(), "the body");
}

TEST(ParseArticleJsonTest, PrefersBodyOverText) {
  const absl::StatusOr<v1::Article> article =
      ParseArticleJson(R"({"text": "alias", "body": "real"})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->body(), "real");
}

TEST(ParseArticleJsonTest, TreatsNullAsAbsent) {
  const absl::StatusOr<v1::Article> article =
      ParseArticleJson(R"({"id": null, "title": null, "published_at": null,)"
                       R"( "metadata": null, "body": "b"})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->title(), "");
  EXPECT_FALSE(article->has_published_at());
  EXPECT_TRUE(article->metadata().empty());
}

TEST(ParseArticleJsonTest, RejectsBadRecordsWithAReason) {
  struct Case {
    std::string line;
    std::string reason;  // A substring of the error message.
  };
  const Case cases[] = {
      {R"({"title": "no body"})", "missing \"body\""},
      {R"({"body": null})", "missing \"body\""},
      {R"({"body": ""})", "\"body\" is empty"},
      {R"({"body": "  \t "})", "\"body\" is empty"},
      {R"({"text": ""})", "\"text\" is empty"},
      {R"({"body": 5})", "\"body\" must be a string, got number"},
      {R"({"body": ["a"]})", "\"body\" must be a string, got array"},
      {R"({"body": "b", "title": 7})",
       "\"title\" must be a string, got number"},
      {R"({"body": "b", "id": true})", "\"id\" must be a string, got boolean"},
      {R"({"body": "b", "url": {}})", "\"url\" must be a string, got object"},
      {R"({"body": "b", "source": 1.5})", "\"source\" must be a string"},
      {R"({"body": "b", "metadata": [1]})",
       "\"metadata\" must be an object, got array"},
      {R"({"body": "b", "published_at": 1714525200})",
       "\"published_at\" must be an RFC 3339 string, got number"},
      {R"({"body": "b", "published_at": "yesterday"})",
       "\"published_at\" is not an RFC 3339 time (\"yesterday\")"},
      {R"({"body": "b", "published_at": "2024-05-01"})",
       "not an RFC 3339 time"},
      {R"({"body": "b", "published_at": "2024-13-01T00:00:00Z"})",
       "not an RFC 3339 time"},
      {R"({"body": "b", "published_at": "infinite-future"})",
       "not an RFC 3339 time"},
      {R"({"body": "b", "published_at": "99999-01-01T00:00:00Z"})",
       "not an RFC 3339 time"},
      {R"({"body": "b")", "malformed JSON"},
      {R"({body: "b"})", "malformed JSON"},
      {R"({"body": "b"} trailing)", "malformed JSON"},
      {"", "malformed JSON"},
      {R"([{"body": "b"}])", "not a JSON object (got array)"},
      {R"("body")", "not a JSON object (got string)"},
      {"42", "not a JSON object (got number)"},
      {"null", "not a JSON object (got null)"},
      {std::string("{\"body\": \"caf\xe9\"}"), "invalid UTF-8 at byte 13"},
      {R"({"body": "\ud800"})", "malformed JSON"},  // Lone surrogate.
      {std::string("{\"body\": \"a\0b\"}", 15), "raw NUL at byte 11"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<v1::Article> article = ParseArticleJson(c.line);
    ASSERT_FALSE(article.ok()) << c.line;
    EXPECT_EQ(article.status().code(), absl::StatusCode::kInvalidArgument)
        << c.line;
    EXPECT_THAT(article.status().message(), HasSubstr(c.reason)) << c.line;
    // One line, so that "FILE:LINE: reason" stays one line.
    EXPECT_EQ(article.status().message().find('\n'), absl::string_view::npos)
        << c.line;
  }
}

TEST(BinaryReasonTest, TellsBinaryFromText) {
  EXPECT_EQ(BinaryReason(""), "");
  EXPECT_EQ(BinaryReason("{\"body\": \"Jakarta – 中文\"}\r\n\t\f\n"), "");
  // Latin-1 text: a few bytes of invalid UTF-8 are not a binary file.
  EXPECT_EQ(BinaryReason("{\"body\": \"caf\xe9 cr\xe8me br\xfbl\xe9" "e\"}"), "");
  EXPECT_EQ(BinaryReason(std::string("{\"a\0\n{}", 8)), "NUL byte at offset 3 on line 1");
  // A stray NUL further down is that line's problem.
  EXPECT_EQ(BinaryReason(std::string("{}\n{\"a\0", 8)), "");
  EXPECT_EQ(BinaryReason("\x1b\x01\x7f{}\n"),
            "3 of its first 6 bytes are control characters or invalid UTF-8");
  EXPECT_EQ(BinaryReason("\x89\xfe\xc3{}\n\n"),
            "3 of its first 7 bytes are control characters or invalid UTF-8");
}

TEST(ParseArticleJsonTest, MalformedJsonReasonIsValidUtf8) {
  // nlohmann stops at the first byte of the unquoted "中" and quotes what
  // it read: half a character, which the reason must not pass on.
  for (const std::string line :
       {"{\"body\": 中文}", "{\"body\": \"ok\", 😀: 1}", "{\"body\": \"b\"} é"}) {
    const absl::StatusOr<v1::Article> article = ParseArticleJson(line);
    ASSERT_FALSE(article.ok()) << line;
    EXPECT_THAT(article.status().message(), HasSubstr("malformed JSON")) << line;
    EXPECT_TRUE(common::ValidateUtf8(article.status().message()).ok())
        << absl::CHexEscape(article.status().message());
  }
}

TEST(ParseArticleJsonTest, TurnsMetadataValuesIntoText) {
  const absl::StatusOr<v1::Article> article = ParseArticleJson(
      R"({"body": "b", "metadata": {"author": "Rina", "words": 350,)"
      R"( "score": 0.25, "paywalled": false, "tags": ["a", "b"],)"
      R"( "geo": {"lat": -6.2, "city": "Jakarta"}, "dropped": null}})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_THAT(
      article->metadata(),
      UnorderedElementsAre(Pair("author", "Rina"), Pair("words", "350"),
                           Pair("score", "0.25"), Pair("paywalled", "false"),
                           Pair("tags", R"(["a","b"])"),
                           Pair("geo", R"({"city":"Jakarta","lat":-6.2})")));
}

TEST(ParseArticleJsonTest, IgnoresUnknownFieldsButNamesThem) {
  std::vector<std::string> unknown;
  const absl::StatusOr<v1::Article> article = ParseArticleJson(
      R"({"body": "b", "lang": "id", "category": {"x": 1}})", &unknown);
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->body(), "b");
  EXPECT_THAT(unknown, UnorderedElementsAre("lang", "category"));
}

TEST(ParseArticleJsonTest, KnownFieldsAreNotReportedAsUnknown) {
  std::vector<std::string> unknown;
  ASSERT_TRUE(
      ParseArticleJson(R"({"body": "b", "text": "t", "id": "x"})", &unknown)
          .ok());
  EXPECT_THAT(unknown, IsEmpty());
}

TEST(ParseArticleJsonTest, RejectsDeepNestingWithoutOverflowingTheStack) {
  for (const size_t depth : {65, 1000, 100000}) {
    const std::string arrays(depth, '[');
    const absl::StatusOr<v1::Article> as_array = ParseArticleJson(arrays);
    ASSERT_FALSE(as_array.ok());
    EXPECT_THAT(as_array.status().message(), HasSubstr("nests deeper than 64"));

    std::string in_metadata = R"({"body": "b", "metadata": {"m": )";
    for (size_t i = 0; i < depth; ++i) in_metadata += R"({"x": )";
    const absl::StatusOr<v1::Article> as_metadata =
        ParseArticleJson(in_metadata);
    ASSERT_FALSE(as_metadata.ok());
    EXPECT_THAT(as_metadata.status().message(),
                HasSubstr("nests deeper than 64"));
  }
}

TEST(ParseArticleJsonTest, AllowsModestNestingAndBracketsInStrings) {
  std::string nested = R"({"body": "[[[[{{{{", "metadata": {"m": )";
  for (int i = 0; i < 60; ++i) nested += "[";
  for (int i = 0; i < 60; ++i) nested += "]";
  nested += "}}";
  const absl::StatusOr<v1::Article> article = ParseArticleJson(nested);
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->body(), "[[[[{{{{");

  // An escaped quote does not end the string, so its brackets still do
  // not count.
  EXPECT_TRUE(ParseArticleJson(R"({"body": "\"" , "title": "\\[[[[[["})").ok());
}

TEST(ParseArticleJsonTest, IgnoresByteOrderMarkAndCarriageReturn) {
  const absl::StatusOr<v1::Article> article =
      ParseArticleJson("\xEF\xBB\xBF{\"body\": \"b\"}\r");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->body(), "b");
}

TEST(ParseArticleJsonTest, KeepsUnicodeText) {
  const absl::StatusOr<v1::Article> article =
      ParseArticleJson(R"({"title": "新闻 \u00e9", "body": "Привет 😀"})");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->title(), "新闻 é");
  EXPECT_EQ(article->body(), "Привет 😀");
}

TEST(ParseArticleJsonTest, SurvivesArbitraryBytes) {
  // Not a fuzzer, but every one-byte and two-byte input, and some prefixes
  // of a valid record, must come back as a Status rather than a crash.
  for (int a = 0; a < 256; ++a) {
    const std::string one(1, static_cast<char>(a));
    EXPECT_FALSE(ParseArticleJson(one).ok());
    for (int b = 0; b < 256; b += 7) {
      std::string two = one + static_cast<char>(b);
      EXPECT_FALSE(ParseArticleJson(two).ok());
    }
  }
  const std::string record =
      R"({"body": "b", "metadata": {"k": [1, {"x": null}]}, "published_at": "2024-01-01T00:00:00Z"})";
  for (size_t length = 0; length <= record.size(); ++length) {
    (void)ParseArticleJson(absl::string_view(record).substr(0, length));
  }
}

TEST(ParseTextFileArticleTest, SplitsTitleFromBody) {
  const absl::StatusOr<v1::Article> article = ParseTextFileArticle(
      "\n  Banjir di Jakarta  \nHujan deras.\n\nParagraf kedua.\n");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->title(), "Banjir di Jakarta");
  EXPECT_EQ(article->body(), "Hujan deras.\n\nParagraf kedua.");
}

TEST(ParseTextFileArticleTest, AcceptsCrlfAndByteOrderMark) {
  const absl::StatusOr<v1::Article> article =
      ParseTextFileArticle("\xEF\xBB\xBFTitle\r\nLine one\r\nLine two\r\n");
  ASSERT_TRUE(article.ok()) << article.status();
  EXPECT_EQ(article->title(), "Title");
  EXPECT_EQ(article->body(), "Line one\nLine two");
}

TEST(ParseTextFileArticleTest, RejectsBinaryEmptyAndBodylessFiles) {
  struct Case {
    std::string contents;
    std::string reason;
  };
  const Case cases[] = {
      {std::string("PK\3\4\0\0garbage", 12),
       "binary file (NUL byte at offset 4)"},
      {"Title\n\xff\xfe body",
       "binary or non-UTF-8 file (invalid UTF-8 at byte 6)"},
      {"", "file is empty"},
      {"\n \r\n\t\n", "file is empty"},
      {"Only a title\n\n  \n", "no body"},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<v1::Article> article =
        ParseTextFileArticle(c.contents);
    ASSERT_FALSE(article.ok()) << c.contents;
    EXPECT_EQ(article.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(article.status().message(), HasSubstr(c.reason));
  }
}

TEST(InputKindForPathTest, DecidesByExtension) {
  EXPECT_EQ(InputKindForPath("-"), InputKind::kJsonLines);
  EXPECT_EQ(InputKindForPath("feed.jsonl"), InputKind::kJsonLines);
  EXPECT_EQ(InputKindForPath("dir/feed.NDJSON"), InputKind::kJsonLines);
  EXPECT_EQ(InputKindForPath("feed.json"), InputKind::kJsonLines);
  EXPECT_EQ(InputKindForPath("story.txt"), InputKind::kPlainText);
  EXPECT_EQ(InputKindForPath("README"), InputKind::kPlainText);
  EXPECT_EQ(InputKindForPath("json"), InputKind::kPlainText);
}

// A ReadFunction over `data` that returns at most `chunk` bytes per call.
LineReader::ReadFunction ReadString(std::string data, size_t chunk) {
  auto offset = std::make_shared<size_t>(0);
  return [data = std::move(data), chunk, offset](char* buffer,
                                                 size_t size) -> int64_t {
    const size_t n = std::min({size, chunk, data.size() - *offset});
    std::memcpy(buffer, data.data() + *offset, n);
    *offset += n;
    return static_cast<int64_t>(n);
  };
}

struct Line {
  LineReader::Result result;
  int64_t number;
  std::string text;
  uint64_t bytes;

  bool operator==(const Line& other) const {
    return result == other.result && number == other.number &&
           text == other.text && bytes == other.bytes;
  }
};

std::vector<Line> ReadAll(LineReader& reader) {
  std::vector<Line> lines;
  std::string text;
  while (true) {
    const LineReader::Result result = reader.Next(&text);
    if (result == LineReader::Result::kEnd ||
        result == LineReader::Result::kError) {
      break;
    }
    lines.push_back({result, reader.line_number(), text, reader.line_bytes()});
  }
  return lines;
}

TEST(LineReaderTest, SplitsLinesAcrossChunkBoundaries) {
  const std::string input = "\xEF\xBB\xBF{\"a\":1}\r\nsecond\n\nlast";
  for (const size_t chunk : {1, 2, 3, 5, 64}) {
    for (const size_t buffer : {1, 4, 1024}) {
      LineReader reader(ReadString(input, chunk), 100, buffer);
      const auto k = LineReader::Result::kLine;
      EXPECT_THAT(
          ReadAll(reader),
          ElementsAre(Line{k, 1, "{\"a\":1}", 7}, Line{k, 2, "second", 6},
                      Line{k, 3, "", 0}, Line{k, 4, "last", 4}))
          << "chunk " << chunk << " buffer " << buffer;
    }
  }
}

TEST(LineReaderTest, EndsCleanlyAfterFinalNewline) {
  LineReader reader(ReadString("one\ntwo\n", 64), 100);
  EXPECT_EQ(ReadAll(reader).size(), 2u);
  LineReader empty(ReadString("", 64), 100);
  EXPECT_TRUE(ReadAll(empty).empty());
}

TEST(LineReaderTest, SkipsOverlongLinesWithoutKeepingThem) {
  const std::string input =
      "short\n" + std::string(5000, 'x') + "\nafter\n" + std::string(11, 'y');
  LineReader reader(ReadString(input, 100), 10, 64);
  const auto k = LineReader::Result::kLine;
  const auto too_long = LineReader::Result::kTooLong;
  EXPECT_THAT(ReadAll(reader),
              ElementsAre(Line{k, 1, "short", 5}, Line{too_long, 2, "", 5000},
                          Line{k, 3, "after", 5}, Line{too_long, 4, "", 11}));
}

TEST(LineReaderTest, LimitDoesNotCountTheCarriageReturn) {
  LineReader reader(ReadString("0123456789\r\n0123456789x\r\n", 64), 10);
  const std::vector<Line> lines = ReadAll(reader);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].result, LineReader::Result::kLine);
  EXPECT_EQ(lines[0].text, "0123456789");
  EXPECT_EQ(lines[1].result, LineReader::Result::kTooLong);
}

TEST(LineReaderTest, ReportsReadErrors) {
  LineReader reader([](char*, size_t) -> int64_t { return -1; }, 10);
  std::string line;
  EXPECT_EQ(reader.Next(&line), LineReader::Result::kError);
}

TEST(LineReaderTest, RejectsAFiftyMegabyteLineInBoundedMemory) {
  constexpr size_t kFiftyMegabytes = size_t{50} << 20;
  size_t served = 0;
  LineReader reader(
      [&served](char* buffer, size_t size) -> int64_t {
        if (served > kFiftyMegabytes) return 0;
        const size_t n = std::min(size, kFiftyMegabytes + 1 - served);
        std::memset(buffer, 'a', n);
        if (served + n == kFiftyMegabytes + 1) buffer[n - 1] = '\n';
        served += n;
        return static_cast<int64_t>(n);
      },
      size_t{8} << 20);
  std::string line;
  ASSERT_EQ(reader.Next(&line), LineReader::Result::kTooLong);
  EXPECT_EQ(reader.line_bytes(), kFiftyMegabytes);
  EXPECT_LT(line.capacity(), size_t{16} << 20);
  EXPECT_EQ(reader.Next(&line), LineReader::Result::kEnd);
}

}  // namespace
}  // namespace kabar::cli
