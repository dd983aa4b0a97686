// Copyright kabar authors.
// The benchmark corpus must be the same for the same seed, follow the
// language mix and length asked for, and survive a JSON Lines round trip.
#include "bench/corpus.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"

namespace kabar::bench {
namespace {

std::string SentencesPath() {
  return std::string(KABAR_SHARED_DIR) + "/datasets/sib200/train.tsv";
}

class CorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::is_regular_file(SentencesPath())) {
      GTEST_SKIP() << SentencesPath() << " is missing";
    }
  }
  static CorpusOptions Options() {
    CorpusOptions options;
    options.sentences_path = SentencesPath();
    options.num_articles = 300;
    return options;
  }
};

bool Same(const std::vector<Article>& a, const std::vector<Article>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].url != b[i].url || a[i].title != b[i].title ||
        a[i].body != b[i].body || a[i].lang != b[i].lang ||
        a[i].category != b[i].category) {
      return false;
    }
  }
  return true;
}

TEST_F(CorpusTest, SameSeedSameCorpus) {
  absl::StatusOr<std::vector<Article>> first = GenerateCorpus(Options());
  absl::StatusOr<std::vector<Article>> second = GenerateCorpus(Options());
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(Same(*first, *second));
  CorpusOptions other = Options();
  other.seed = 2;
  absl::StatusOr<std::vector<Article>> third = GenerateCorpus(other);
  ASSERT_TRUE(third.ok());
  EXPECT_FALSE(Same(*first, *third));
}

TEST_F(CorpusTest, FollowsLengthAndLanguageMix) {
  CorpusOptions options = Options();
  options.languages = "ind_Latn:3,eng_Latn:1";
  options.article_bytes = 3000;
  options.mixed_fraction = 0;
  absl::StatusOr<std::vector<Article>> corpus = GenerateCorpus(options);
  ASSERT_TRUE(corpus.ok()) << corpus.status();
  ASSERT_EQ(corpus->size(), 300u);
  std::map<std::string, int> langs;
  for (const Article& article : *corpus) {
    ++langs[article.lang];
    EXPECT_FALSE(article.title.empty());
    EXPECT_GE(article.body.size(), 1500u);
    EXPECT_LE(article.body.size(), 4500u + 2000u);  // + the last sentence
  }
  EXPECT_EQ(langs.size(), 2u);
  EXPECT_GT(langs["ind_Latn"], 2 * langs["eng_Latn"]);
  EXPECT_NEAR(TextBytes(*corpus) / 300.0, 3000, 400);
}

TEST_F(CorpusTest, RejectsUnknownLanguage) {
  CorpusOptions options = Options();
  options.languages = "xxx_Latn";
  EXPECT_EQ(GenerateCorpus(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(CorpusTest, JsonLinesRoundTrip) {
  absl::StatusOr<std::vector<Article>> corpus = GenerateCorpus(Options());
  ASSERT_TRUE(corpus.ok());
  const std::string path = ::testing::TempDir() + "/corpus_test.jsonl";
  ASSERT_TRUE(WriteJsonLines(*corpus, path).ok());
  absl::StatusOr<std::vector<Article>> read = ReadJsonLines(path);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_TRUE(Same(*corpus, *read));
  std::filesystem::remove(path);
}

TEST(ReadJsonLinesTest, ReadsOtherShapesAndNamesBadLines) {
  const std::string path = ::testing::TempDir() + "/other.jsonl";
  {
    std::ofstream out(path);
    out << R"({"title": "T", "text": "B", "metadata": {"lang_hint": "id"}})"
        << "\n\n"
        << R"({"content": "C"})"
        << "\n";
  }
  absl::StatusOr<std::vector<Article>> read = ReadJsonLines(path);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 2u);
  EXPECT_EQ((*read)[0].title, "T");
  EXPECT_EQ((*read)[0].body, "B");
  EXPECT_EQ((*read)[0].lang, "id");
  EXPECT_EQ((*read)[1].body, "C");
  {
    std::ofstream out(path);
    out << R"({"body": "ok"})"
        << "\n"
        << "{not json\n";
  }
  read = ReadJsonLines(path);
  EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(read.status().message().find(":2:"), std::string::npos);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace kabar::bench
