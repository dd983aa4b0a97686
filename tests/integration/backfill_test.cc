// Copyright kabar authors.
// A topic model swap end to end, with the real binaries: kabar-classify
// starts on topic model A, 50 articles go in through kabar-ingest, the model
// file is replaced by B and reloaded over the ReloadModels rpc (`kabar
// models --reload`), and `kabar backfill` relabels the store. Afterwards
// every article records model B, the store's topic index follows, and a
// second backfill finds nothing to do. Both tiny topic models are trained
// here with kabar-train, with different label names, so labels from A and
// from B cannot be mistaken for each other. Runs on SQLite, and on
// PostgreSQL when KABAR_TEST_POSTGRES_URL is set (in a database of its own).
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/testing/postgres_test_database.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::kabar::testing::ServiceProcess;
using ::testing::HasSubstr;

const std::string kSourceDir = KABAR_SOURCE_DIR;
constexpr int kArticles = 50;

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

const char* const kPoliticsTexts[] = {
    "the parliament voted on the new budget law after a long debate",
    "the minister resigned and the government called an early election",
    "opposition parties criticised the president over the constitution",
    "the senate passed the bill and the prime minister signed it",
};
const char* const kSportsTexts[] = {
    "the team won the football match with a late goal in the final",
    "the striker scored twice as the club took the league championship",
    "the coach praised the players after the tennis tournament victory",
    "the runner broke the world record at the athletics championship",
};

// Trains a tiny topic model whose two labels are `politics` and `sports`.
// Returns its path, or "" after a test failure.
std::string TrainTopicModel(const std::string& dir, const std::string& name,
                            const std::string& politics,
                            const std::string& sports) {
  std::string rows = "category\ttext\n";
  for (int i = 0; i < 30; ++i) {
    absl::StrAppend(&rows, politics, "\t", kPoliticsTexts[i % 4], " ", i, "\n",
                    sports, "\t", kSportsTexts[i % 4], " ", i, "\n");
  }
  const std::string tsv = absl::StrCat(dir, "/", name, ".tsv");
  WriteFile(tsv, rows);
  const std::string model = absl::StrCat(dir, "/", name, ".bin");
  std::string output;
  const absl::StatusOr<int> code =
      RunCommand({BinaryPath("kabar-train"), "train", "--input=" + tsv,
                  "--lang=en", "--output=" + model, "--dim=8", "--bucket=1000",
                  "--epoch=25", "--lr=0.5", "--verbose=0"},
                 &output);
  EXPECT_EQ(code.value_or(-1), 0) << output;
  return code.value_or(-1) == 0 ? model : "";
}

std::unique_ptr<ServiceProcess> StartOrFail(
    const std::string& binary, const std::vector<std::string>& args,
    const std::string& dir, const std::string& service) {
  absl::StatusOr<std::unique_ptr<ServiceProcess>> process =
      ServiceProcess::Start(BinaryPath(binary), args, dir, service);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return nullptr;
  }
  return *std::move(process);
}

client::ClientOptions To(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  options.timeout = absl::Seconds(30);
  return options;
}

// The store's backend: "sqlite" or "postgres".
class ModelSwapBackfillTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string db;
    if (GetParam() == "postgres") {
      if (store::PostgresTestDatabase::ServerUrl().empty()) {
        GTEST_SKIP() << store::PostgresTestDatabase::SkipMessage();
      }
      absl::StatusOr<std::unique_ptr<store::PostgresTestDatabase>> database =
          store::PostgresTestDatabase::Create();
      ASSERT_TRUE(database.ok()) << database.status();
      postgres_ = *std::move(database);
      db = postgres_->url();
    }
    dir_ = MakeTempDir("backfill");
    if (db.empty()) db = dir_ + "/kabar.db";
    model_a_ = TrainTopicModel(dir_, "topic-a", "politics", "sports");
    model_b_ = TrainTopicModel(dir_, "topic-b", "government", "athletics");
    ASSERT_FALSE(model_a_.empty() || model_b_.empty());
    // The classifier's --topic_model path; its contents get swapped.
    topic_model_ = dir_ + "/topic.bin";
    std::filesystem::copy_file(model_a_, topic_model_);

    classify_ =
        StartOrFail("kabar-classify",
                    {"--language_model=" + kSourceDir + "/models/lid.176.ftz",
                     "--topic_model=" + topic_model_, "--threads=1"},
                    dir_, "kabar.v1.ClassifierService");
    store_ = StartOrFail("kabar-store", {"--db=" + db}, dir_,
                         "kabar.v1.StoreService");
    ASSERT_NE(classify_, nullptr);
    ASSERT_NE(store_, nullptr);
    ingest_ = StartOrFail("kabar-ingest",
                          {"--classifier=" + classify_->address(),
                           "--store=" + store_->address()},
                          dir_, "kabar.v1.IngestService");
    ASSERT_NE(ingest_, nullptr);
  }

  void TearDown() override {
    for (std::unique_ptr<ServiceProcess>* process :
         {&ingest_, &store_, &classify_}) {
      if (*process != nullptr) {
        EXPECT_EQ((*process)->Stop().value_or(-1), 0);
      }
      process->reset();
    }
    postgres_.reset();  // after the store let go of it
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // Runs the CLI against this test's services; returns its exit code and
  // its standard output and error in *output.
  int Kabar(const std::vector<std::string>& args, std::string* output) {
    std::vector<std::string> argv = {
        BinaryPath("kabar"), args[0], "--ingest=" + ingest_->address(),
        "--store=" + store_->address(), "--classifier=" + classify_->address()};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    const absl::StatusOr<int> code = RunCommand(argv, output);
    EXPECT_TRUE(code.ok()) << code.status();
    return code.value_or(-1);
  }

  // The classifier's current topic model SHA-256.
  std::string CurrentTopicSha() {
    client::ClassifyClient classifier(To(classify_->address()));
    absl::StatusOr<v1::GetModelsResponse> models = classifier.GetModels();
    EXPECT_TRUE(models.ok()) << models.status();
    if (!models.ok()) return "";
    for (const v1::ModelInfo& model : models->models()) {
      if (model.role() == "topic") return model.identity().sha256();
    }
    ADD_FAILURE() << "no topic model in " << models->DebugString();
    return "";
  }

  // Every stored article, paging through QueryArticles.
  std::vector<v1::StoredArticle> AllArticles(const v1::ArticleFilter& filter) {
    client::StoreClient store(To(store_->address()));
    v1::QueryArticlesRequest request;
    *request.mutable_filter() = filter;
    request.set_page_size(20);
    std::vector<v1::StoredArticle> articles;
    do {
      absl::StatusOr<v1::QueryArticlesResponse> page =
          store.QueryArticles(request);
      EXPECT_TRUE(page.ok()) << page.status();
      if (!page.ok()) break;
      articles.insert(articles.end(), page->articles().begin(),
                      page->articles().end());
      request.set_page_token(page->next_page_token());
    } while (!request.page_token().empty());
    return articles;
  }

  // How many stored articles record each topic model SHA-256.
  std::map<std::string, int> CountByTopicModel() {
    std::map<std::string, int> counts;
    for (const v1::StoredArticle& stored : AllArticles({})) {
      ++counts[stored.labels().topic_model().sha256()];
    }
    return counts;
  }

  std::unique_ptr<store::PostgresTestDatabase> postgres_;
  std::string dir_;
  std::string model_a_;
  std::string model_b_;
  std::string topic_model_;
  std::unique_ptr<ServiceProcess> classify_;
  std::unique_ptr<ServiceProcess> store_;
  std::unique_ptr<ServiceProcess> ingest_;
};

TEST_P(ModelSwapBackfillTest,
       SwapReloadAndBackfillMoveEveryArticleToTheNewModel) {
  // Ingest 50 articles from two sources, half politics and half sports.
  std::string lines;
  for (int i = 0; i < kArticles; ++i) {
    const bool politics = i % 2 == 0;
    absl::StrAppend(&lines, "{\"id\":\"art-", i, "\",\"source\":\"",
                    i < kArticles / 2 ? "feed-a" : "feed-b",
                    "\",\"title\":\"Story ", i, "\",\"body\":\"",
                    politics ? kPoliticsTexts[i % 4] : kSportsTexts[i % 4],
                    "\"}\n");
  }
  const std::string input = dir_ + "/articles.jsonl";
  WriteFile(input, lines);
  std::string output;
  ASSERT_EQ(Kabar({"ingest", input}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("accepted ", kArticles)));

  const std::string sha_a = CurrentTopicSha();
  ASSERT_FALSE(sha_a.empty());
  EXPECT_EQ(CountByTopicModel(),
            (std::map<std::string, int>{{sha_a, kArticles}}));

  // Nothing is stale yet.
  ASSERT_EQ(Kabar({"backfill", "--dry_run"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("scanned ", kArticles,
                                             ", would update 0")));

  // Swap the file (atomically, as a deploy would) and reload over the rpc.
  const std::string staged = topic_model_ + ".new";
  std::filesystem::copy_file(model_b_, staged);
  std::filesystem::rename(staged, topic_model_);
  ASSERT_EQ(Kabar({"models", "--reload"}, &output), 0) << output;
  const std::string sha_b = CurrentTopicSha();
  ASSERT_FALSE(sha_b.empty());
  ASSERT_NE(sha_b, sha_a);
  EXPECT_THAT(output, HasSubstr(sha_b.substr(0, 12)));

  // A dry run counts every article and changes none.
  ASSERT_EQ(Kabar({"backfill", "--dry_run"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("scanned ", kArticles,
                                             ", would update ", kArticles)));
  EXPECT_EQ(CountByTopicModel()[sha_a], kArticles);

  // A filter narrows the backfill to one source...
  ASSERT_EQ(Kabar({"backfill", "--source=feed-a"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("updated ", kArticles / 2,
                                             ", skipped 0")));
  EXPECT_EQ(CountByTopicModel(),
            (std::map<std::string, int>{{sha_a, kArticles / 2},
                                        {sha_b, kArticles / 2}}));

  // ...and the full run does the rest.
  ASSERT_EQ(Kabar({"backfill"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("scanned ", kArticles, ", stale ",
                                             kArticles / 2, ", updated ",
                                             kArticles / 2, ", skipped 0")));
  EXPECT_EQ(CountByTopicModel(),
            (std::map<std::string, int>{{sha_b, kArticles}}));

  // Every article now carries B's labels, and the store's topic index
  // follows them: the old label names are gone.
  std::set<std::string> topics;
  for (const v1::StoredArticle& stored : AllArticles({})) {
    ASSERT_GT(stored.labels().topics_size(), 0) << stored.article().id();
    topics.insert(stored.labels().topics(0).label());
    EXPECT_EQ(stored.labels().topic_model().name(), "topic.bin");
  }
  for (const std::string& topic : topics) {
    EXPECT_TRUE(topic == "government" || topic == "athletics") << topic;
  }
  size_t by_new_topic = 0;
  for (const std::string& topic : topics) {
    v1::ArticleFilter filter;
    filter.set_topic(topic);
    by_new_topic += AllArticles(filter).size();
  }
  EXPECT_EQ(by_new_topic, static_cast<size_t>(kArticles));
  v1::ArticleFilter politics;
  politics.set_topic("politics");
  EXPECT_TRUE(AllArticles(politics).empty());
  ASSERT_EQ(Kabar({"stats", "--format=json"}, &output), 0) << output;
  EXPECT_THAT(output, ::testing::Not(HasSubstr("\"politics\"")));

  // A second backfill finds nothing left to do.
  ASSERT_EQ(Kabar({"backfill"}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr(absl::StrCat("scanned ", kArticles,
                                             ", stale 0, updated 0")));
}

INSTANTIATE_TEST_SUITE_P(Backends, ModelSwapBackfillTest,
                         ::testing::Values("sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace kabar
