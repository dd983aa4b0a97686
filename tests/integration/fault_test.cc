// Copyright kabar authors.
// The bad-day test: 20,000 articles streamed by the real `kabar ingest`
// while the classify and store services are killed with SIGKILL at random
// moments and restarted, and then the ingest service itself is killed once
// and restarted. Every acknowledged article must end up in the store
// exactly once, with labels.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
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
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::testing::HasSubstr;

constexpr int kArticles = 20000;
const std::string kSourceDir = KABAR_SOURCE_DIR;

using Service = ::kabar::testing::RestartableService;

TEST(FaultTest, AcknowledgedArticlesSurviveKilledServicesExactlyOnce) {
  const std::string dir = MakeTempDir("fault");
  Service classify{"kabar-classify",
                   {"--language_model=" + kSourceDir + "/models/lid.176.ftz",
                    "--topic_model=" + kSourceDir + "/models/topic.ftz"},
                   "kabar.v1.ClassifierService",
                   dir};
  Service store{"kabar-store", {"--db=" + dir + "/kabar.db"}, "kabar.v1.StoreService", dir};
  ASSERT_EQ(classify.Start(), absl::OkStatus());
  ASSERT_EQ(store.Start(), absl::OkStatus());
  Service ingest{"kabar-ingest",
                 {"--classifier=" + classify.address(), "--store=" + store.address(),
                  "--spool_dir=" + dir + "/spool"},
                 "kabar.v1.IngestService",
                 dir};
  ASSERT_EQ(ingest.Start(), absl::OkStatus());
  ASSERT_TRUE(classify.process && store.process && ingest.process);

  const std::string input = dir + "/articles.jsonl";
  {
    std::ofstream out(input);
    const char* topics[] = {"The football team won the league final",
                            "The parliament voted on the new budget law",
                            "Shares of the bank rose after strong profits",
                            "Doctors warn about the spread of the flu virus"};
    for (int i = 0; i < kArticles; ++i) {
      out << absl::StrFormat(R"({"id":"fault-%05d","title":"Report %d","body":"%s, )"
                             R"(report number %d from the newsroom."})",
                             i, i, topics[i % 4], i)
          << "\n";
    }
  }

  std::string cli_output;
  std::atomic<int> cli_exit{-1};
  std::atomic<bool> cli_done{false};
  std::thread client([&] {
    absl::StatusOr<int> code =
        RunCommand({BinaryPath("kabar"), "ingest", "--ingest=" + ingest.address(),
                    "--reconnects=200", "--progress=false", input},
                   &cli_output);
    cli_exit = code.value_or(-1);
    cli_done = true;
  });

  // Chaos: kill classify and store at random moments, then ingest once.
  std::mt19937 random(20261127);
  std::uniform_int_distribution<int> pause_ms(200, 900);
  int kills = 0;
  for (int round = 0; round < 3 && !cli_done; ++round) {
    absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    ASSERT_EQ(classify.KillAndRestart(), absl::OkStatus());
    ++kills;
    absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    ASSERT_EQ(store.KillAndRestart(), absl::OkStatus());
    ++kills;
  }
  if (!cli_done) {
    absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    ASSERT_EQ(ingest.KillAndRestart(), absl::OkStatus());
    ++kills;
  }
  client.join();

  EXPECT_EQ(cli_exit.load(), 0) << cli_output;
  EXPECT_THAT(cli_output, HasSubstr(absl::StrCat("sent ", kArticles)));

  // Everything acknowledged is stored once, with labels. The CLI exits 0
  // only when every article was acknowledged.
  client::ClientOptions options;
  options.address = store.address();
  client::StoreClient store_client(options);
  std::set<std::string> ids;
  int rows = 0, unlabeled = 0;
  v1::QueryArticlesRequest request;
  request.set_page_size(1000);
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page = store_client.QueryArticles(request);
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
    lost += ids.count(absl::StrFormat("fault-%05d", i)) == 0;
  }
  std::printf("fault test: sent %d, kills %d, stored rows %d, distinct %zu, duplicates %d, "
              "lost %d, unlabeled %d\n%s\n",
              kArticles, kills, rows, ids.size(), rows - static_cast<int>(ids.size()), lost,
              unlabeled, cli_output.substr(cli_output.rfind("sent ")).c_str());
  EXPECT_EQ(rows, kArticles);
  EXPECT_EQ(ids.size(), static_cast<size_t>(kArticles));
  EXPECT_EQ(lost, 0);
  EXPECT_EQ(unlabeled, 0);

  for (Service* service : {&ingest, &store, &classify}) {
    EXPECT_EQ(service->process->Stop().value_or(-1), 0) << service->binary;
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kabar
