// Copyright kabar authors.
#include "tools/train/tsv_reader.h"

#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kabar::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using Rows = std::vector<std::vector<std::string>>;

absl::StatusOr<TsvTable> Parse(const std::string& content) {
  std::istringstream in(content);
  return ParseTsv(&in, "test.tsv");
}

TEST(TsvReaderTest, ParsesTableDriven) {
  struct Case {
    const char* name;
    std::string content;
    Rows rows;
  };
  const Case cases[] = {
      {"plain", "a\tb\n1\t2\n3\t4\n", {{"1", "2"}, {"3", "4"}}},
      {"no final newline", "a\tb\n1\t2", {{"1", "2"}}},
      {"empty fields", "a\tb\tc\n\t\t\n", {{"", "", ""}}},
      {"quoted tab", "a\tb\n\"x\ty\"\tz\n", {{"x\ty", "z"}}},
      {"quoted newline",
       "a\tb\n\"line1\nline2\"\tz\n",
       {{"line1\nline2", "z"}}},
      {"doubled quotes",
       "a\tb\n\"say \"\"hi\"\"\"\t\"\"\"\"\n",
       {{"say \"hi\"", "\""}}},
      {"empty quoted", "a\tb\n\"\"\tz\n", {{"", "z"}}},
      {"quote inside unquoted field", "a\tb\nit\"s\tz\n", {{"it\"s", "z"}}},
      {"crlf", "a\tb\r\n1\t2\r\n3\t4\r\n", {{"1", "2"}, {"3", "4"}}},
      {"crlf inside quotes kept",
       "a\tb\r\n\"x\r\ny\"\t2\r\n",
       {{"x\r\ny", "2"}}},
      {"lone carriage return kept", "a\tb\nx\ry\t2\n", {{"x\ry", "2"}}},
      {"blank lines skipped",
       "a\tb\n1\t2\n\n3\t4\n\n",
       {{"1", "2"}, {"3", "4"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<TsvTable> table = Parse(c.content);
    ASSERT_TRUE(table.ok()) << table.status();
    EXPECT_EQ(table->header.front(), "a");
    EXPECT_EQ(table->rows, c.rows);
  }
}

TEST(TsvReaderTest, CountsLinesAcrossQuotedNewlines) {
  absl::StatusOr<TsvTable> table = Parse("a\tb\n\"1\n2\n3\"\tx\nlast\ty\n");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->line_numbers, ElementsAre(2, 5));
}

TEST(TsvReaderTest, MissingColumnNamesTheLine) {
  absl::StatusOr<TsvTable> table = Parse("a\tb\tc\n1\t2\t3\n\"x\ny\"\t2\n");
  ASSERT_FALSE(table.ok());
  EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(table.status().message(), HasSubstr("test.tsv:3"));
  EXPECT_THAT(table.status().message(), HasSubstr("expected 3"));
  EXPECT_THAT(table.status().message(), HasSubstr("got 2"));
}

TEST(TsvReaderTest, ExtraColumnIsAnError) {
  absl::StatusOr<TsvTable> table = Parse("a\tb\n1\t2\t3\n");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("test.tsv:2"));
}

TEST(TsvReaderTest, UnterminatedQuoteNamesWhereItOpened) {
  absl::StatusOr<TsvTable> table = Parse("a\tb\n1\t2\n\"open\tx\ny\n");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("test.tsv:3"));
  EXPECT_THAT(table.status().message(), HasSubstr("not closed"));
}

TEST(TsvReaderTest, TextAfterClosingQuoteIsAnError) {
  absl::StatusOr<TsvTable> table = Parse("a\tb\n\"x\"y\t2\n");
  ASSERT_FALSE(table.ok());
  EXPECT_THAT(table.status().message(), HasSubstr("test.tsv:2"));
}

TEST(TsvReaderTest, EmptyFileIsAnError) { EXPECT_FALSE(Parse("").ok()); }

TEST(TsvReaderTest, MissingFileIsNotFound) {
  EXPECT_EQ(ReadTsvFile("/nonexistent/kabar.tsv").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TsvReaderTest, WriterRoundTrips) {
  const Rows rows = {{"plain", "tab\there", "quote \"q\""},
                     {"new\nline", "crlf\r\nx", ""}};
  std::ostringstream out;
  WriteTsvRecord({"a", "b", "c"}, &out);
  for (const auto& row : rows) WriteTsvRecord(row, &out);
  absl::StatusOr<TsvTable> table = Parse(out.str());
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_THAT(table->header, ElementsAre("a", "b", "c"));
  EXPECT_EQ(table->rows, rows);
}

}  // namespace
}  // namespace kabar::train
