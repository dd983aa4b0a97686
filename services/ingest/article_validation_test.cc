// Copyright kabar authors.
#include "services/ingest/article_validation.h"

#include <string>

#include "gtest/gtest.h"

namespace kabar::ingest {
namespace {

v1::Article WithBody(const std::string& body) {
  v1::Article article;
  article.set_body(body);
  return article;
}

TEST(NormalizeUrlTest, SameStoryThroughDifferentLinksIsOneUrl) {
  const std::string canonical = "https://news.example.org/world/asean-talks";
  for (const char* variant : {
           "https://news.example.org/world/asean-talks",
           "  HTTPS://News.Example.ORG/world/asean-talks/  ",
           "https://news.example.org:443/world/asean-talks",
           "https://news.example.org/world/asean-talks#comments",
           "https://news.example.org/world/asean-talks?utm_source=x&utm_medium=y",
       }) {
    EXPECT_EQ(NormalizeUrl(variant), canonical) << variant;
  }
  EXPECT_EQ(NormalizeUrl("https://example.org/a?id=7&utm_campaign=z"),
            "https://example.org/a?id=7");
  // The path is case-sensitive on most servers: it is kept.
  EXPECT_EQ(NormalizeUrl("https://example.org/A"), "https://example.org/A");
}

TEST(DeriveArticleIdTest, IsStableAndDependsOnUrlElseText) {
  v1::Article a = WithBody("body");
  a.set_url("https://example.org/story");
  v1::Article b = WithBody("a different body");
  b.set_url("HTTPS://EXAMPLE.ORG/story/");
  EXPECT_EQ(DeriveArticleId(a), DeriveArticleId(b));
  EXPECT_EQ(DeriveArticleId(a).size(), 32u);

  v1::Article c = WithBody("same text");
  v1::Article d = WithBody("same text");
  EXPECT_EQ(DeriveArticleId(c), DeriveArticleId(d));
  d.set_title("a title");
  EXPECT_NE(DeriveArticleId(c), DeriveArticleId(d));
}

TEST(PrepareArticleTest, NormalizesTextAndDerivesAnId) {
  v1::Article article = WithBody("  First paragraph.\r\n\r\n\r\nSecond\tone.  ");
  article.set_title(" A\ntitle ");
  absl::StatusOr<v1::Article> prepared = PrepareArticle(article, {});
  ASSERT_TRUE(prepared.ok()) << prepared.status();
  EXPECT_EQ(prepared->body(), "First paragraph.\n\nSecond one.");
  EXPECT_EQ(prepared->title(), "A title");
  EXPECT_EQ(prepared->id(), DeriveArticleId(*prepared));
}

TEST(PrepareArticleTest, KeepsAClientId) {
  v1::Article article = WithBody("text");
  article.set_id("reuters-2026-0001");
  absl::StatusOr<v1::Article> prepared = PrepareArticle(article, {});
  ASSERT_TRUE(prepared.ok());
  EXPECT_EQ(prepared->id(), "reuters-2026-0001");
}

TEST(PrepareArticleTest, RejectsBadArticlesSayingWhatAndWhere) {
  struct Case {
    const char* name;
    v1::Article article;
    std::string reason;
  };
  v1::Article bad_body = WithBody(std::string("ok \xff", 4));
  v1::Article bad_title = WithBody("fine");
  bad_title.set_title(std::string("\xc0\xaf", 2));
  v1::Article bad_metadata = WithBody("fine");
  (*bad_metadata.mutable_metadata())["author"] = std::string("\xed\xa0\x80", 3);
  v1::Article spaced_id = WithBody("fine");
  spaced_id.set_id("has space");
  v1::Article too_many = WithBody("fine");
  for (int i = 0; i < 300; ++i) (*too_many.mutable_metadata())[std::to_string(i)] = "v";
  const Case cases[] = {
      {"empty", WithBody(""), "body is empty"},
      {"blank", WithBody(" \n\t\r\n "), "body is empty"},
      {"controls only", WithBody(std::string("\0\x01\x02", 3)), "body is empty"},
      {"bad body", bad_body, "body: invalid UTF-8 at byte 3"},
      {"bad title", bad_title, "title: invalid UTF-8 at byte 0"},
      {"bad metadata", bad_metadata, "metadata[author]: invalid UTF-8 at byte 0"},
      {"spaced id", spaced_id, "id must not contain whitespace or control characters"},
      {"too many metadata", too_many, "metadata has 300 entries, over the limit of 256"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<v1::Article> prepared = PrepareArticle(c.article, {});
    ASSERT_FALSE(prepared.ok()) << c.name;
    EXPECT_EQ(prepared.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_EQ(prepared.status().message(), c.reason) << c.name;
  }
}

TEST(PrepareArticleTest, RejectsOversizedArticles) {
  ValidationOptions options;
  options.max_article_bytes = 1000;
  absl::StatusOr<v1::Article> prepared =
      PrepareArticle(WithBody(std::string(2000, 'a')), options);
  ASSERT_FALSE(prepared.ok());
  EXPECT_EQ(prepared.status().message(),
            "article is 2003 bytes, over the limit of 1000");
  EXPECT_TRUE(PrepareArticle(WithBody(std::string(900, 'a')), options).ok());
}

TEST(RejectionReasonTest, EveryRejectionHasAShortFixedLabel) {
  ValidationOptions small;
  small.max_article_bytes = 64;
  small.max_metadata_entries = 1;
  const auto reason = [](const v1::Article& article, const ValidationOptions& options) {
    absl::StatusOr<v1::Article> prepared = PrepareArticle(article, options);
    EXPECT_FALSE(prepared.ok());
    return std::string(RejectionReason(prepared.status()));
  };
  EXPECT_EQ(reason(WithBody(std::string(100, 'x')), small), "too_large");
  EXPECT_EQ(reason(WithBody("bad \xff byte"), {}), "invalid_utf8");
  v1::Article metadata = WithBody("b");
  (*metadata.mutable_metadata())["a"] = "1";
  (*metadata.mutable_metadata())["b"] = "2";
  EXPECT_EQ(reason(metadata, small), "too_many_metadata");
  v1::Article id = WithBody("b");
  id.set_id("has space");
  EXPECT_EQ(reason(id, {}), "invalid_id");
  EXPECT_EQ(reason(WithBody(" \n\t "), {}), "empty_body");
}

}  // namespace
}  // namespace kabar::ingest
