// Copyright kabar authors.
#include "services/common/text.h"

#include <string>

#include "gtest/gtest.h"

namespace kabar::common {
namespace {

TEST(ValidateUtf8Test, AcceptsWellFormedText) {
  for (const char* text : {"", "plain ascii", "Jakarta – ASEAN", "中文新闻",
                           "Привет", "مرحبا", "😀 emoji", "ሰላም"}) {
    EXPECT_TRUE(ValidateUtf8(text).ok()) << text;
  }
}

TEST(ValidateUtf8Test, RejectsMalformedTextNamingTheOffset) {
  struct Case {
    std::string text;
    size_t offset;
  };
  const Case cases[] = {
      {std::string("ab\xff", 3), 2},             // invalid lead byte
      {std::string("\xc0\xaf", 2), 0},           // overlong '/'
      {std::string("x\xe0\x80\xaf", 4), 1},      // overlong three-byte
      {std::string("\xed\xa0\x80", 3), 0},       // UTF-16 surrogate
      {std::string("\xf4\x90\x80\x80", 4), 0},   // above U+10FFFF
      {std::string("abc\xe4\xb8", 5), 3},        // truncated sequence
      {std::string("\x80", 1), 0},               // lone continuation
  };
  for (const Case& c : cases) {
    const absl::Status status = ValidateUtf8(c.text);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(status.message(), "invalid UTF-8 at byte " + std::to_string(c.offset));
  }
}

TEST(ReplaceInvalidUtf8Test, KeepsWellFormedTextAndReplacesEachBadByte) {
  EXPECT_EQ(ReplaceInvalidUtf8("Jakarta – 中文 😀"), "Jakarta – 中文 😀");
  // A three-byte character cut after two bytes, as in a parser's excerpt.
  EXPECT_EQ(ReplaceInvalidUtf8(std::string("last read: '\xe4\xb8", 14)),
            "last read: '\uFFFD\uFFFD");
  size_t replaced = 0;
  EXPECT_EQ(ReplaceInvalidUtf8(std::string("\xc0\xaf/", 3), &replaced), "\uFFFD\uFFFD/");
  EXPECT_EQ(replaced, 2u);
  EXPECT_EQ(ReplaceInvalidUtf8("\uFFFD is fine", &replaced), "\uFFFD is fine");
  EXPECT_EQ(replaced, 0u);
  EXPECT_EQ(ReplaceInvalidUtf8(std::string("a\0b", 3)), std::string("a\0b", 3));
  EXPECT_TRUE(ValidateUtf8(ReplaceInvalidUtf8("\xff\xfe\xed\xa0\x80")).ok());
}

TEST(NormalizeArticleTextTest, NormalizesWhitespaceAndControlCharacters) {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"  hello   world  ", "hello world"},
      {"line one\r\nline two\rline three", "line one\nline two\nline three"},
      {"para one\n\n\n\n  para two", "para one\n\npara two"},
      {"tab\there", "tab here"},
      {"bell\x07 and nul", "bell and nul"},
      {std::string("nul\0byte", 8), "nulbyte"},
      {"\xef\xbb\xbftitle with BOM", "title with BOM"},
      {"no\xc2\xa0" "break space", "no break space"},
      {"zero\xe2\x80\x8bwidth", "zerowidth"},
      {"trailing spaces   \nnext", "trailing spaces\nnext"},
      {"\n\n  \n", ""},
  };
  for (const Case& c : cases) EXPECT_EQ(NormalizeArticleText(c.in), c.out) << c.in;
}

TEST(FlattenForLanguageModelTest, PutsTitleAndBodyOnOneLineKeepingCase) {
  EXPECT_EQ(FlattenForLanguageModel("Title Here", "First.\n\nSecond, PARA.\r\n"),
            "Title Here First. Second, PARA.");
  EXPECT_EQ(FlattenForLanguageModel("", "  only body "), "only body");
  EXPECT_EQ(FlattenForLanguageModel("only title", ""), "only title");
}

TEST(NormalizeForTopicModelTest, LowercasesAndSplitsPunctuation) {
  EXPECT_EQ(NormalizeForTopicModel("ASEAN, China and Russia's talks."),
            "asean , china and russia ' s talks .");
  EXPECT_EQ(NormalizeForTopicModel("ПРАВИТЕЛЬСТВО «Украины»"),
            "правительство « украины »");
  EXPECT_EQ(NormalizeForTopicModel("Élection\nÀ PARIS"), "élection à paris");
  EXPECT_EQ(NormalizeForTopicModel("中文，新闻。"), "中文 ， 新闻 。");
}

}  // namespace
}  // namespace kabar::common
