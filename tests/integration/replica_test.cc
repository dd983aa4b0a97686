// Copyright kabar authors.
// Replicas behind client-side load balancing: two kabar-classify and two
// kabar-store processes sharing one database, one kabar-ingest reaching
// each pair through a single gRPC name that resolves to both addresses
// (ipv4:127.0.0.1:P1,127.0.0.1:P2, as dns:///classify:7702 does for a
// scaled compose service) with round_robin. 5,000 articles are streamed by
// the real `kabar ingest`; mid-stream one classify and one store replica
// are killed with SIGKILL. Every article must be stored exactly once, and
// the replicas' own counters (GetModels.texts_classified,
// GetStoreStats.articles_put) must show that both of each pair did work.
//
// The shared database is PostgreSQL, the backend built for several
// replicas, when KABAR_TEST_POSTGRES_URL names a server (scripts/test.sh
// starts one); the test then runs on a fresh database of its own. SQLite
// runs always: several processes may share one SQLite file in WAL mode
// (writers take turns on the database lock, which a killed process
// releases), which is what a single-host deployment with store replicas on
// one volume would do.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/testing/postgres_test_database.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::store::PostgresTestDatabase;
using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::kabar::testing::ServiceProcess;
using ::testing::HasSubstr;

constexpr int kArticles = 5000;
const std::string kSourceDir = KABAR_SOURCE_DIR;

// One replica: its process and a channel to its own address, for its stats.
struct Replica {
  std::string name;
  std::unique_ptr<ServiceProcess> process;
  // Its counter: for a killed replica as read just before its SIGKILL, for
  // a survivor at the end.
  uint64_t count = 0;
  // A survivor's counter when its peer was killed.
  uint64_t count_when_peer_killed = 0;
};

std::unique_ptr<ServiceProcess> Start(const std::string& binary,
                                      const std::vector<std::string>& args,
                                      const std::string& dir,
                                      const std::string& health) {
  // Each replica gets a directory: logs and port files are named after the
  // binary.
  std::filesystem::create_directories(dir);
  auto process = ServiceProcess::Start(BinaryPath(binary), args, dir, health);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return nullptr;
  }
  return *std::move(process);
}

unsigned long long Ull(uint64_t value) { return value; }

client::ClientOptions To(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  options.timeout = absl::Seconds(5);
  return options;
}

// Texts classified by the classify replica at `address`; 0 when it does
// not answer.
uint64_t TextsClassified(const std::string& address) {
  client::ClassifyClient classify(To(address));
  absl::StatusOr<v1::GetModelsResponse> models = classify.GetModels();
  return models.ok() ? models->texts_classified() : 0;
}

// Articles put through the store replica at `address`; 0 when it does not
// answer.
uint64_t ArticlesPut(const std::string& address) {
  auto stub = v1::StoreService::NewStub(client::MakeChannel(To(address)));
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
  v1::GetStoreStatsResponse stats;
  if (!stub->GetStoreStats(&context, v1::GetStoreStatsRequest(), &stats).ok()) {
    return 0;
  }
  return stats.articles_put();
}

// "ipv4:127.0.0.1:P1,127.0.0.1:P2": one gRPC name for both replicas.
std::string BalancedTarget(const Replica& a, const Replica& b) {
  return absl::StrCat("ipv4:", a.process->address(), ",", b.process->address());
}

void WriteArticles(const std::string& path) {
  std::ofstream out(path);
  const char* texts[] = {"The football team won the league final",
                         "The parliament voted on the new budget law",
                         "Shares of the bank rose after strong profits",
                         "Doctors warn about the spread of the flu virus"};
  for (int i = 0; i < kArticles; ++i) {
    out << absl::StrFormat(
               R"({"id":"replica-%05d","title":"Report %d","body":"%s, )"
               R"(report number %d from the newsroom."})",
               i, i, texts[i % 4], i)
        << "\n";
  }
}

// Polls until `ready` holds or `done` is set; true when `ready` held.
template <typename Ready>
bool WaitUntil(const std::atomic<bool>& done, Ready ready) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!done && absl::Now() < deadline) {
    if (ready()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

class ReplicaTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReplicaTest, KilledReplicasLoseNothingAndLoadIsSpread) {
  const std::string backend = GetParam();
  const std::string dir = MakeTempDir("replica-" + backend);
  std::unique_ptr<PostgresTestDatabase> database;
  std::string db;
  if (backend == "postgresql") {
    if (PostgresTestDatabase::ServerUrl().empty()) {
      GTEST_SKIP() << PostgresTestDatabase::SkipMessage();
    }
    auto created = PostgresTestDatabase::Create();
    ASSERT_TRUE(created.ok()) << created.status();
    database = *std::move(created);
    db = database->url();
  } else {
    db = "sqlite://" + dir + "/kabar.db";
  }

  const std::vector<std::string> models = {
      "--language_model=" + kSourceDir + "/models/lid.176.ftz",
      "--topic_model=" + kSourceDir + "/models/topic.ftz", "--threads=1"};
  Replica classify[2];
  Replica store[2];
  classify[0].name = "classify-a";
  classify[1].name = "classify-b";
  store[0].name = "store-a";
  store[1].name = "store-b";
  for (Replica& replica : classify) {
    replica.process = Start("kabar-classify", models, dir + "/" + replica.name,
                            "kabar.v1.ClassifierService");
    ASSERT_NE(replica.process, nullptr);
  }
  // One after the other: the first creates (or migrates) the schema.
  for (Replica& replica : store) {
    replica.process = Start("kabar-store", {"--db=" + db, "--threads=2"},
                            dir + "/" + replica.name, "kabar.v1.StoreService");
    ASSERT_NE(replica.process, nullptr);
  }
  std::unique_ptr<ServiceProcess> ingest =
      Start("kabar-ingest",
            {"--classifier=" + BalancedTarget(classify[0], classify[1]),
             "--store=" + BalancedTarget(store[0], store[1]),
             "--spool_dir=" + dir + "/spool", "--max_batch_size=32"},
            dir + "/ingest", "kabar.v1.IngestService");
  ASSERT_NE(ingest, nullptr);

  const std::string input = dir + "/articles.jsonl";
  WriteArticles(input);
  std::string cli_output;
  std::atomic<int> cli_exit{-1};
  std::atomic<bool> cli_done{false};
  std::thread client([&] {
    absl::StatusOr<int> code = RunCommand(
        {BinaryPath("kabar"), "ingest", "--ingest=" + ingest->address(),
         "--progress=false", "--reconnects=20", input},
        &cli_output);
    cli_exit = code.value_or(-1);
    cli_done = true;
  });

  // Kill classify B once both classify replicas have work behind them and a
  // fifth of the stream is classified; kill store B once both stores did
  // work and half the stream is stored. Each victim's counter is read just
  // before its SIGKILL.
  const bool classify_killed = WaitUntil(cli_done, [&] {
    const uint64_t a = TextsClassified(classify[0].process->address());
    const uint64_t b = TextsClassified(classify[1].process->address());
    return a > 0 && b > 0 && a + b >= kArticles / 5;
  });
  if (classify_killed) {
    classify[0].count_when_peer_killed =
        TextsClassified(classify[0].process->address());
    classify[1].count = TextsClassified(classify[1].process->address());
    classify[1].process->Kill();
  }
  const bool store_killed = WaitUntil(cli_done, [&] {
    const uint64_t a = ArticlesPut(store[0].process->address());
    const uint64_t b = ArticlesPut(store[1].process->address());
    return a > 0 && b > 0 && a + b >= kArticles / 2;
  });
  if (store_killed) {
    store[0].count_when_peer_killed = ArticlesPut(store[0].process->address());
    store[1].count = ArticlesPut(store[1].process->address());
    store[1].process->Kill();
  }
  EXPECT_TRUE(classify_killed)
      << "the stream ended before a classify replica was killed";
  EXPECT_TRUE(store_killed)
      << "the stream ended before a store replica was killed";
  client.join();

  EXPECT_EQ(cli_exit.load(), 0) << cli_output;
  EXPECT_THAT(cli_output, HasSubstr(absl::StrCat("sent ", kArticles)));

  // Read everything back through the surviving store.
  client::StoreClient reader(To(store[0].process->address()));
  std::set<std::string> ids;
  int rows = 0;
  int unlabeled = 0;
  v1::QueryArticlesRequest request;
  request.set_page_size(1000);
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page =
        reader.QueryArticles(request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const v1::StoredArticle& article : page->articles()) {
      ++rows;
      ids.insert(article.article().id());
      if (article.labels().language().code().empty()) ++unlabeled;
    }
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  int lost = 0;
  for (int i = 0; i < kArticles; ++i) {
    lost += ids.count(absl::StrFormat("replica-%05d", i)) == 0;
  }

  classify[0].count = TextsClassified(classify[0].process->address());
  store[0].count = ArticlesPut(store[0].process->address());
  std::ifstream ingest_log(ingest->log_path());
  int retries = 0;
  for (std::string line; std::getline(ingest_log, line);) {
    retries += line.find("retrying") != std::string::npos;
  }
  const size_t summary = cli_output.rfind("sent ");
  std::printf(
      "replica test (%s): articles %d\n"
      "  texts classified: %s %llu (%llu when its peer was killed), %s %llu "
      "(at its SIGKILL)\n"
      "  articles put:     %s %llu (%llu when its peer was killed), %s %llu "
      "(at its SIGKILL)\n"
      "  ingest retries %d; stored rows %d, distinct %zu, lost %d, unlabeled "
      "%d\n  %s",
      backend.c_str(), kArticles, classify[0].name.c_str(),
      Ull(classify[0].count), Ull(classify[0].count_when_peer_killed),
      classify[1].name.c_str(), Ull(classify[1].count), store[0].name.c_str(),
      Ull(store[0].count), Ull(store[0].count_when_peer_killed),
      store[1].name.c_str(), Ull(store[1].count), retries, rows, ids.size(),
      lost, unlabeled,
      summary == std::string::npos ? cli_output.c_str()
                                   : cli_output.substr(summary).c_str());

  EXPECT_EQ(rows, kArticles);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kArticles));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(unlabeled, 0);
  // Load was spread: every replica did part of the work.
  for (const Replica* replica :
       {&classify[0], &classify[1], &store[0], &store[1]}) {
    EXPECT_GT(replica->count, 0u) << replica->name;
  }
  // The survivors took over the rest of the stream.
  EXPECT_GT(classify[0].count, classify[0].count_when_peer_killed);
  EXPECT_GT(store[0].count, store[0].count_when_peer_killed);

  EXPECT_EQ(ingest->Stop().value_or(-1), 0) << "kabar-ingest";
  for (Replica* replica : {&store[0], &classify[0]}) {
    EXPECT_EQ(replica->process->Stop().value_or(-1), 0) << replica->name;
  }
  std::filesystem::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReplicaTest,
                         ::testing::Values("sqlite", "postgresql"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace kabar
