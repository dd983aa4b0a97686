// Copyright kabar authors.
// `kabar watch` against real kabar-store processes: the CLI watches one store
// from cursor 0 while articles are stored in three batches; between them
// the watched store is SIGKILLed and restarted, then stopped with SIGTERM
// (an open watch must not hold up its shutdown) and restarted; the last
// batch is written through a second store process on the same database, so
// it reaches the watch by polling rather than by in-process notification.
// The CLI reconnects by itself from its last cursor each time, and must
// print every article exactly once, in order. Runs on a SQLite file, and
// on PostgreSQL too when KABAR_TEST_POSTGRES_URL names a server.
#include <signal.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/store/testing/postgres_test_database.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::store::PostgresTestDatabase;
using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::testing::HasSubstr;

constexpr int kPerBatch = 40;

// A store on a fixed port, so the watching CLI finds it again after a
// restart.
::kabar::testing::RestartableService Store(const std::string& db, const std::string& dir) {
  return {"kabar-store",
          {"--db=" + db, "--shutdown_grace=2s", "--watch_poll_interval=200ms"},
          "kabar.v1.StoreService",
          dir};
}

void PutBatch(const std::string& address, int batch) {
  client::ClientOptions options;
  options.address = address;
  options.timeout = absl::Seconds(10);
  const client::StoreClient store(options);
  v1::PutArticlesRequest request;
  for (int i = 0; i < kPerBatch; ++i) {
    v1::StoredArticle* stored = request.add_articles();
    stored->mutable_article()->set_id(absl::StrCat("w", batch, "-", 100 + i));
    stored->mutable_article()->set_title(absl::StrCat("Report ", i));
    stored->mutable_article()->set_body("Body.");
    stored->mutable_labels()->mutable_language()->set_code("en");
    stored->mutable_labels()->mutable_language()->set_confidence(0.9f);
  }
  absl::StatusOr<v1::PutArticlesResponse> response = store.PutArticles(request);
  ASSERT_TRUE(response.ok()) << response.status();
}

void RunWatchAcrossRestarts(const std::string& db, const std::string& dir) {
  ::kabar::testing::RestartableService watched = Store(db, dir + "/watched");
  ::kabar::testing::RestartableService writer = Store(db, dir + "/writer");
  ASSERT_EQ(watched.Start(), absl::OkStatus());
  ASSERT_EQ(writer.Start(), absl::OkStatus());

  constexpr int kArticles = 3 * kPerBatch;
  std::string output;
  absl::StatusOr<int> exit_code = -1;
  std::atomic<bool> done{false};
  std::thread cli([&] {
    // `timeout` turns a hang into a failure rather than a stuck test.
    exit_code = RunCommand(
        {"/usr/bin/timeout", "120", BinaryPath("kabar"), "watch",
         "--store=" + watched.address(), "--cursor=0", "--format=jsonl",
         "--reconnects=100", absl::StrCat("--exit_after=", kArticles)},
        &output);
    done = true;
  });

  PutBatch(watched.address(), 0);
  absl::SleepFor(absl::Milliseconds(500));
  // SIGKILL: the stream breaks mid-way.
  ASSERT_EQ(watched.KillAndRestart(), absl::OkStatus());
  PutBatch(watched.address(), 1);
  absl::SleepFor(absl::Milliseconds(500));
  // SIGTERM with the watch open: the store must still exit within its
  // shutdown grace (2s) plus start-up slack.
  const absl::Time stop_start = absl::Now();
  absl::StatusOr<int> stopped = watched.process->Stop(absl::Seconds(15));
  ASSERT_TRUE(stopped.ok()) << stopped.status();
  EXPECT_EQ(*stopped, 0);
  EXPECT_LT(absl::Now() - stop_start, absl::Seconds(8));
  ASSERT_EQ(watched.Start(), absl::OkStatus());
  // Through the other process: the watched store learns of it by polling.
  PutBatch(writer.address(), 2);

  cli.join();
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0) << output;

  std::vector<std::string> ids;
  int64_t last_cursor = 0;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (line.empty() || line.front() != '{') continue;
    const nlohmann::json message = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(message.is_discarded()) << line;
    ids.push_back(message["article"]["id"].get<std::string>());
    const int64_t cursor = std::stoll(message["cursor"].get<std::string>());
    EXPECT_GT(cursor, last_cursor) << "cursors must increase";
    last_cursor = cursor;
  }
  std::vector<std::string> expected;
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < kPerBatch; ++i) {
      expected.push_back(absl::StrCat("w", batch, "-", 100 + i));
    }
  }
  // Nothing missed, nothing repeated, in the order stored.
  EXPECT_EQ(ids, expected) << output;
  EXPECT_THAT(output, HasSubstr("reconnecting from cursor"));
}

TEST(WatchTest, CliResumesFromItsCursorAcrossStoreRestartsOnSqlite) {
  const std::string dir = MakeTempDir("watch_sqlite");
  RunWatchAcrossRestarts(dir + "/kabar.db", dir);
}

TEST(WatchTest, CliResumesFromItsCursorAcrossStoreRestartsOnPostgres) {
  if (PostgresTestDatabase::ServerUrl().empty()) {
    GTEST_SKIP() << PostgresTestDatabase::SkipMessage();
  }
  absl::StatusOr<std::unique_ptr<PostgresTestDatabase>> database =
      PostgresTestDatabase::Create();
  ASSERT_TRUE(database.ok()) << database.status();
  RunWatchAcrossRestarts((*database)->url(), MakeTempDir("watch_postgres"));
}

}  // namespace
}  // namespace kabar
