// Copyright kabar authors.
// The whole path with real processes: kabar-classify with the real models,
// kabar-store on a real SQLite file, kabar-ingest between them, driven by
// the real `kabar` CLI and the C++ client library over loopback gRPC.
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::kabar::testing::ServiceProcess;
using ::testing::HasSubstr;

const std::string kSourceDir = KABAR_SOURCE_DIR;
const std::string kSeedArticle =
    kSourceDir + "/../shared/seed/000_bc3e7fe9585bda6e.txt";

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

std::unique_ptr<ServiceProcess> StartOrDie(const std::string& binary,
                                           const std::vector<std::string>& args,
                                           const std::string& dir,
                                           const std::string& service) {
  auto process = ServiceProcess::Start(BinaryPath(binary), args, dir, service);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return nullptr;
  }
  return *std::move(process);
}

std::unique_ptr<ServiceProcess> StartClassify(const std::string& dir) {
  return StartOrDie("kabar-classify",
                    {"--language_model=" + kSourceDir + "/models/lid.176.ftz",
                     "--topic_model=" + kSourceDir + "/models/topic.ftz"},
                    dir, "kabar.v1.ClassifierService");
}

std::unique_ptr<ServiceProcess> StartStore(const std::string& dir, const std::string& db) {
  return StartOrDie("kabar-store", {"--db=" + db}, dir, "kabar.v1.StoreService");
}

// Waits for the ingest service to be SERVING, which it is only once
// classify and store answer; with `ready` false, only for the process ("").
std::unique_ptr<ServiceProcess> StartIngest(const std::string& dir,
                                            const std::string& classifier,
                                            const std::string& store, bool ready = true) {
  return StartOrDie("kabar-ingest", {"--classifier=" + classifier, "--store=" + store},
                    dir, ready ? "kabar.v1.IngestService" : "");
}

client::ClientOptions To(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  options.timeout = absl::Seconds(30);
  return options;
}

v1::Article Article(const std::string& title, const std::string& body) {
  v1::Article article;
  article.set_title(title);
  article.set_body(body);
  return article;
}

// One classify, store and ingest shared by the tests of this suite.
class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("pipeline"));
    classify_ = StartClassify(*dir_).release();
    store_ = StartStore(*dir_, *dir_ + "/kabar.db").release();
    if (classify_ == nullptr || store_ == nullptr) return;
    ingest_ = StartIngest(*dir_, classify_->address(), store_->address()).release();
  }

  static void TearDownTestSuite() {
    for (ServiceProcess* process : {ingest_, store_, classify_}) {
      if (process != nullptr) {
        EXPECT_EQ(process->Stop().value_or(-1), 0);
      }
      delete process;
    }
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(ingest_, nullptr) << "services did not start";
  }

  // Runs the CLI against this suite's services.
  int Kabar(std::vector<std::string> args, std::string* output) {
    std::vector<std::string> argv = {BinaryPath("kabar")};
    argv.push_back(args[0]);
    argv.push_back("--ingest=" + ingest_->address());
    argv.push_back("--store=" + store_->address());
    argv.push_back("--classifier=" + classify_->address());
    argv.insert(argv.end(), args.begin() + 1, args.end());
    absl::StatusOr<int> code = RunCommand(argv, output);
    EXPECT_TRUE(code.ok()) << code.status();
    return code.value_or(-1);
  }

  static std::string* dir_;
  static ServiceProcess* classify_;
  static ServiceProcess* store_;
  static ServiceProcess* ingest_;
};

std::string* PipelineTest::dir_ = nullptr;
ServiceProcess* PipelineTest::classify_ = nullptr;
ServiceProcess* PipelineTest::store_ = nullptr;
ServiceProcess* PipelineTest::ingest_ = nullptr;

TEST_F(PipelineTest, SeedArticleComesBackIndonesianAndPolitical) {
  ASSERT_TRUE(std::filesystem::exists(kSeedArticle)) << kSeedArticle;
  std::string output;
  ASSERT_EQ(Kabar({"ingest", kSeedArticle}, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("accepted 1"));

  ASSERT_EQ(Kabar({"query", "--language=id", "--format=jsonl", "--limit=100"}, &output), 0)
      << output;
  EXPECT_THAT(output, HasSubstr("\"language\":\"id\""));
  // Plain-text file: the first line is the title.
  EXPECT_THAT(output, HasSubstr("\"title\":\"China dan Rusia"));

  client::StoreClient store(To(store_->address()));
  v1::QueryArticlesRequest request;
  request.mutable_filter()->set_language("id");
  absl::StatusOr<v1::QueryArticlesResponse> found = store.QueryArticles(request);
  ASSERT_TRUE(found.ok()) << found.status();
  const v1::StoredArticle* seed = nullptr;
  for (const v1::StoredArticle& article : found->articles()) {
    if (absl::StrContains(article.article().body(), "Lavrov")) seed = &article;
  }
  ASSERT_NE(seed, nullptr);
  EXPECT_EQ(seed->labels().language().code(), "id");
  // Malay is the runner-up: the two languages share most vocabulary.
  EXPECT_GT(seed->labels().language().confidence(), 0.6);
  ASSERT_GT(seed->labels().topics_size(), 0);
  EXPECT_EQ(seed->labels().topics(0).label(), "politics");
  EXPECT_FALSE(seed->labels().language_model().sha256().empty());
  EXPECT_FALSE(seed->labels().topic_model().sha256().empty());
  // Multi-paragraph body kept its paragraphs.
  EXPECT_THAT(seed->article().body(), HasSubstr("\n"));
}

TEST_F(PipelineTest, SecondCopyIsAckedDuplicateAndStoredOnce) {
  client::IngestClient ingest(To(ingest_->address()));
  v1::Article article = Article("Parliament passes budget",
                                "The parliament approved the national budget on Tuesday "
                                "after a long debate between the ruling coalition and the "
                                "opposition parties.");
  article.set_url("https://news.example.org/politics/budget-vote");
  absl::StatusOr<v1::IngestAck> first = ingest.IngestArticle(article);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->status(), v1::ACK_STATUS_ACCEPTED);
  EXPECT_EQ(first->labels().language().code(), "en");

  article.set_url("HTTPS://NEWS.EXAMPLE.ORG/politics/budget-vote/?utm_source=feed");
  absl::StatusOr<v1::IngestAck> second = ingest.IngestArticle(article);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->status(), v1::ACK_STATUS_DUPLICATE);
  EXPECT_EQ(second->id(), first->id());

  client::StoreClient store(To(store_->address()));
  v1::QueryArticlesRequest request;
  request.set_page_size(1000);
  absl::StatusOr<v1::QueryArticlesResponse> all = store.QueryArticles(request);
  ASSERT_TRUE(all.ok());
  int copies = 0;
  for (const auto& stored : all->articles()) copies += stored.article().id() == first->id();
  EXPECT_EQ(copies, 1);
}

TEST_F(PipelineTest, BadLinesAreRejectedWithReasonsAndTheRestStored) {
  const std::string path = *dir_ + "/mixed.jsonl";
  WriteFile(path,
            "{\"id\":\"mixed-1\",\"title\":\"Football\",\"body\":\"The national team won "
            "the final match of the football championship.\"}\n"
            "{\"id\":\"mixed-2\", this is not json\n"
            "{\"id\":\"mixed-3\",\"body\":\"   \"}\n"
            "{\"id\":\"mixed-4\",\"body\":\"bad \xff\xfe utf8\"}\n"
            "{\"id\":\"mixed-5\",\"body\":42}\n"
            "{\"id\":\"mixed-6\",\"text\":\"Le gouvernement a présenté mercredi un "
            "projet de loi sur la réforme des retraites.\",\"unknown_field\":1}\n");
  std::string output;
  EXPECT_EQ(Kabar({"ingest", path}, &output), 1) << output;
  for (const char* line : {":2:", ":3:", ":4:", ":5:"}) {
    EXPECT_THAT(output, HasSubstr(absl::StrCat(path, line))) << output;
  }
  EXPECT_THAT(output, HasSubstr("accepted 2"));

  client::StoreClient store(To(store_->address()));
  for (const char* id : {"mixed-1", "mixed-6"}) {
    absl::StatusOr<v1::StoredArticle> stored = store.GetArticle(id);
    EXPECT_TRUE(stored.ok()) << id << ": " << stored.status();
  }
  EXPECT_EQ(store.GetArticle("mixed-6")->labels().language().code(), "fr");
  for (const char* id : {"mixed-3", "mixed-4", "mixed-5"}) {
    EXPECT_EQ(store.GetArticle(id).status().code(), absl::StatusCode::kNotFound) << id;
  }
}

TEST_F(PipelineTest, StreamAcksEveryArticleWithItsSequence) {
  client::IngestClient ingest(To(ingest_->address()));
  std::unique_ptr<client::IngestStreamCall> call = ingest.OpenStream();
  constexpr int kArticles = 300;
  for (int i = 0; i < kArticles; ++i) {
    v1::IngestStreamRequest request;
    request.set_sequence(1000 + i);
    *request.mutable_article() =
        Article(absl::StrCat("Market update ", i),
                absl::StrCat("Shares rose ", i, " points as investors welcomed the "
                             "central bank's decision on interest rates."));
    if (i % 50 == 7) request.mutable_article()->set_body("");  // rejected
    ASSERT_TRUE(call->Write(request));
  }
  ASSERT_TRUE(call->WritesDone());
  std::set<uint64_t> sequences;
  int accepted = 0, rejected = 0;
  v1::IngestAck ack;
  while (call->Read(&ack)) {
    sequences.insert(ack.sequence());
    if (ack.status() == v1::ACK_STATUS_ACCEPTED) ++accepted;
    if (ack.status() == v1::ACK_STATUS_REJECTED) {
      ++rejected;
      EXPECT_EQ(ack.reason(), "body is empty");
    }
  }
  EXPECT_TRUE(call->Finish().ok());
  EXPECT_EQ(sequences.size(), static_cast<size_t>(kArticles));
  EXPECT_EQ(*sequences.begin(), 1000u);
  EXPECT_EQ(rejected, 6);
  EXPECT_EQ(accepted, kArticles - 6);
}

TEST_F(PipelineTest, ClassifyCommandLabelsTextWithoutStoringIt) {
  std::string output;
  ASSERT_EQ(Kabar({"classify", "--format=json",
                   "Die Bundesregierung hat heute ein neues Gesetz zur Energiepolitik "
                   "beschlossen."},
                  &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr("\"de\""));
}

TEST(PipelineRestartTest, DataSurvivesAStoreRestart) {
  const std::string dir = MakeTempDir("restart");
  const std::string db = dir + "/kabar.db";
  auto classify = StartClassify(dir);
  auto store = StartStore(dir, db);
  ASSERT_TRUE(classify && store);
  auto ingest = StartIngest(dir, classify->address(), store->address());
  ASSERT_TRUE(ingest);
  v1::Article article = Article("Vaccination campaign",
                                "Health workers began a vaccination campaign against "
                                "measles in rural clinics this week.");
  article.set_id("restart-1");
  absl::StatusOr<v1::IngestAck> ack =
      client::IngestClient(To(ingest->address())).IngestArticle(article);
  ASSERT_TRUE(ack.ok()) << ack.status();
  ASSERT_EQ(ack->status(), v1::ACK_STATUS_ACCEPTED);
  EXPECT_EQ(ingest->Stop().value_or(-1), 0);
  EXPECT_EQ(store->Stop().value_or(-1), 0);

  auto restarted = StartStore(dir, db);
  ASSERT_TRUE(restarted);
  absl::StatusOr<v1::StoredArticle> stored =
      client::StoreClient(To(restarted->address())).GetArticle("restart-1");
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->article().title(), "Vaccination campaign");
  EXPECT_EQ(stored->labels().language().code(), "en");
  EXPECT_EQ(restarted->Stop().value_or(-1), 0);
  EXPECT_EQ(classify->Stop().value_or(-1), 0);
  std::filesystem::remove_all(dir);
}

TEST(PipelineFailureTest, MissingStoreIsUnavailableNamingIt) {
  const std::string dir = MakeTempDir("nostore");
  auto classify = StartClassify(dir);
  ASSERT_TRUE(classify);
  const std::string nowhere = absl::StrCat("127.0.0.1:", testing::UnusedPort());
  auto ingest = StartIngest(dir, classify->address(), nowhere, /*ready=*/false);
  ASSERT_TRUE(ingest);
  const absl::Status health =
      client::CheckHealth(ingest->address(), "kabar.v1.IngestService", absl::Seconds(5));
  EXPECT_EQ(health.code(), absl::StatusCode::kUnavailable) << "without a store, not ready";
  absl::StatusOr<v1::IngestAck> ack = client::IngestClient(To(ingest->address()))
                                          .IngestArticle(Article("t", "some body text"));
  ASSERT_FALSE(ack.ok());
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(ack.status().message()), HasSubstr("store at " + nowhere));
  std::filesystem::remove_all(dir);
}

TEST(PipelineFailureTest, MissingClassifierEndsTheStreamUnavailable) {
  const std::string dir = MakeTempDir("noclassifier");
  auto store = StartStore(dir, dir + "/kabar.db");
  ASSERT_TRUE(store);
  const std::string nowhere = absl::StrCat("127.0.0.1:", testing::UnusedPort());
  auto ingest = StartIngest(dir, nowhere, store->address(), /*ready=*/false);
  ASSERT_TRUE(ingest);
  auto call = client::IngestClient(To(ingest->address())).OpenStream();
  v1::IngestStreamRequest request;
  request.set_sequence(1);
  *request.mutable_article() = Article("t", "some body text");
  call->Write(request);
  call->WritesDone();
  v1::IngestAck ack;
  EXPECT_FALSE(call->Read(&ack));
  const absl::Status status = call->Finish();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(status.message()), HasSubstr("classifier at " + nowhere));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kabar
