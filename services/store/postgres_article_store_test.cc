// Copyright kabar authors.
// What is particular to PostgresArticleStore: schema migrations (recorded,
// idempotent, safe for replicas starting together), the tsvector index,
// connection errors and the pool. The ArticleStore contract itself is in
// article_store_conformance_test.cc. Cases needing a server use a fresh
// database on KABAR_TEST_POSTGRES_URL and skip when it is unset; the
// connection-error cases need no server.
#include "services/store/postgres_article_store.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/article_store.h"
#include "services/store/testing/postgres_test_database.h"

namespace kabar::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

using Rows = std::vector<std::vector<std::string>>;

v1::StoredArticle MakeArticle(const std::string& id) {
  v1::StoredArticle stored;
  stored.mutable_article()->set_id(id);
  stored.mutable_article()->set_source("antara");
  stored.mutable_article()->set_title(absl::StrCat("Title of ", id));
  stored.mutable_article()->set_body(absl::StrCat("Body of ", id, "."));
  stored.mutable_labels()->mutable_language()->set_code("id");
  stored.mutable_labels()->mutable_language()->set_confidence(0.9f);
  return stored;
}

// A loopback TCP port nothing listens on (bound, then released).
int ClosedPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return 1;  // privileged and unused in test environments
  }
  close(fd);
  return ntohs(address.sin_port);
}

TEST(PostgresArticleStoreOpenTest,
     UnreachableServerIsUnavailableWithoutPassword) {
  const std::string port = absl::StrCat(ClosedPort());
  PostgresArticleStore::Options options;
  options.url = absl::StrCat("postgresql://kabar:s3cret-pw@127.0.0.1:", port,
                             "/kabar_news");
  absl::StatusOr<std::unique_ptr<PostgresArticleStore>> store =
      PostgresArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr("\"kabar_news\""));
  EXPECT_THAT(store.status().message(), HasSubstr("127.0.0.1:" + port));
  EXPECT_THAT(store.status().message(), HasSubstr("\"kabar\""));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("s3cret")));

  // Both schemes reach this backend.
  for (const char* scheme : {"postgresql", "postgres"}) {
    absl::StatusOr<std::unique_ptr<ArticleStore>> opened = OpenArticleStore(
        absl::StrCat(scheme, "://u:s3cret@127.0.0.1:", port, "/db"));
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kUnavailable)
        << opened.status();
    EXPECT_THAT(opened.status().message(), Not(HasSubstr("s3cret")));
  }
}

TEST(PostgresArticleStoreOpenTest,
     MalformedUrlIsInvalidArgumentWithoutPassword) {
  PostgresArticleStore::Options options;
  options.url = "postgresql://kabar:s3cret-pw@127.0.0.1/kabar?no_such_option=1";
  absl::StatusOr<std::unique_ptr<PostgresArticleStore>> store =
      PostgresArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(),
              HasSubstr("postgresql://kabar:***@127.0.0.1/kabar"));
  EXPECT_THAT(store.status().message(), Not(HasSubstr("s3cret")));

  // Without a password, libpq's own explanation is shown.
  options.url = "postgresql://127.0.0.1/kabar?no_such_option=1";
  store = PostgresArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.status().message(), HasSubstr("no_such_option"));

  options.url = "postgresql://127.0.0.1/kabar";
  options.pool_size = 0;
  EXPECT_EQ(PostgresArticleStore::Create(options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

class PostgresArticleStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    if (PostgresTestDatabase::ServerUrl().empty()) {
      GTEST_SKIP() << PostgresTestDatabase::SkipMessage();
    }
    absl::StatusOr<std::unique_ptr<PostgresTestDatabase>> database =
        PostgresTestDatabase::Create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
  }

  PostgresArticleStore::Options DefaultOptions() const {
    PostgresArticleStore::Options options;
    options.url = database_->url();
    return options;
  }

  std::unique_ptr<PostgresArticleStore> Open(
      const PostgresArticleStore::Options& options) {
    absl::StatusOr<std::unique_ptr<PostgresArticleStore>> store =
        PostgresArticleStore::Create(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::unique_ptr<PostgresArticleStore> Open() {
    return Open(DefaultOptions());
  }

  Rows Query(const std::string& sql) {
    absl::StatusOr<Rows> rows = database_->Query(sql);
    EXPECT_TRUE(rows.ok()) << rows.status();
    return rows.ok() ? *rows : Rows();
  }

  std::unique_ptr<PostgresTestDatabase> database_;
};

TEST_F(PostgresArticleStoreTest, CreatesTheSchemaOnceAndRecordsItsVersion) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_NE(Open(), nullptr);  // a restart changes nothing
  EXPECT_THAT(
      Query("SELECT version FROM kabar_schema_migrations ORDER BY version"),
      ElementsAre(ElementsAre("1"), ElementsAre("2")));
  const Rows search_index = Query(
      "SELECT indexdef FROM pg_indexes WHERE indexname = "
      "'kabar_articles_search'");
  ASSERT_EQ(search_index.size(), 1u);
  EXPECT_THAT(search_index[0][0], HasSubstr("USING gin (search)"));
}

TEST_F(PostgresArticleStoreTest, ReplicasStartingTogetherMigrateOnce) {
  constexpr int kReplicas = 6;
  std::vector<absl::Status> results(kReplicas);
  std::vector<std::thread> threads;
  for (int i = 0; i < kReplicas; ++i) {
    threads.emplace_back([&, i] {
      results[i] = PostgresArticleStore::Create(DefaultOptions()).status();
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const absl::Status& result : results) EXPECT_TRUE(result.ok()) << result;
  EXPECT_THAT(
      Query("SELECT version FROM kabar_schema_migrations ORDER BY version"),
      ElementsAre(ElementsAre("1"), ElementsAre("2")));
}

TEST_F(PostgresArticleStoreTest, RefusesADatabaseFromANewerSchema) {
  ASSERT_NE(Open(), nullptr);
  Query("INSERT INTO kabar_schema_migrations (version) VALUES (99)");
  absl::StatusOr<std::unique_ptr<PostgresArticleStore>> store =
      PostgresArticleStore::Create(DefaultOptions());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("99"));
  EXPECT_THAT(store.status().message(), HasSubstr(database_->name()));
}

TEST_F(PostgresArticleStoreTest, RefusesANonUtf8Database) {
  const std::string latin1 = database_->name() + "_latin1";
  Query(absl::StrCat("CREATE DATABASE ", latin1,
                     " ENCODING 'LATIN1' LOCALE 'C' TEMPLATE template0"));
  PostgresArticleStore::Options options;
  options.url = PostgresTestDatabase::WithDatabase(database_->url(), latin1);
  absl::StatusOr<std::unique_ptr<PostgresArticleStore>> store =
      PostgresArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("UTF8"));
  Query(absl::StrCat("DROP DATABASE ", latin1, " WITH (FORCE)"));
}

TEST_F(PostgresArticleStoreTest, TitleAndBodyAreFullTextIndexed) {
  std::unique_ptr<PostgresArticleStore> store = Open();
  ASSERT_NE(store, nullptr);
  v1::StoredArticle flood = MakeArticle("flood");
  flood.mutable_article()->set_title("Banjir di Jakarta");
  v1::StoredArticle moscow = MakeArticle("moscow");
  moscow.mutable_article()->set_body("новости: москва, 東京");
  ASSERT_TRUE(store->Put({flood, moscow, MakeArticle("other")}).ok());

  auto search = [&](const std::string& words) {
    return Query(
        absl::StrCat("SELECT id FROM kabar_articles WHERE search @@ "
                     "plainto_tsquery('simple', '",
                     words, "') ORDER BY id"));
  };
  EXPECT_THAT(search("jakarta"), ElementsAre(ElementsAre("flood")));
  EXPECT_THAT(search("banjir jakarta"), ElementsAre(ElementsAre("flood")));
  EXPECT_THAT(search("москва"), ElementsAre(ElementsAre("moscow")));
  EXPECT_THAT(search("東京"), ElementsAre(ElementsAre("moscow")));
  EXPECT_THAT(search("body"),
              ElementsAre(ElementsAre("flood"), ElementsAre("other")));
}

TEST_F(PostgresArticleStoreTest, ReconnectsWhenPooledConnectionsWereDropped) {
  std::unique_ptr<PostgresArticleStore> store = Open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Put({MakeArticle("a1")}).ok());
  // What a server restart or an idle timeout does to the pool.
  Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");

  absl::StatusOr<v1::StoredArticle> got = store->Get("a1");
  EXPECT_TRUE(got.ok()) << got.status();
  absl::StatusOr<std::vector<v1::PutOutcome>> put =
      store->Put({MakeArticle("a2")});
  EXPECT_TRUE(put.ok()) << put.status();
}

TEST_F(PostgresArticleStoreTest, APoolOfOneServesConcurrentCalls) {
  PostgresArticleStore::Options options = DefaultOptions();
  options.pool_size = 1;
  std::unique_ptr<PostgresArticleStore> store = Open(options);
  ASSERT_NE(store, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(store->Put({MakeArticle(absl::StrCat(t, "-", i))}).ok());
        EXPECT_TRUE(store->Count(v1::ArticleFilter()).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::StatusOr<v1::CountArticlesResponse> counts =
      store->Count(v1::ArticleFilter());
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 40);
  // Never more than one connection to the database.
  EXPECT_THAT(Query("SELECT count(*) FROM pg_stat_activity WHERE "
                    "datname = current_database() AND "
                    "application_name = 'kabar-store'"),
              ElementsAre(ElementsAre("1")));
}

TEST_F(PostgresArticleStoreTest, OpenArticleStoreAcceptsBothSchemes) {
  const std::string url = database_->url();
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    GTEST_SKIP() << "the test server is given as a conninfo string, not a URL";
  }
  const std::string rest = url.substr(scheme_end);
  for (const std::string& location : {"postgresql" + rest, "postgres" + rest}) {
    SCOPED_TRACE(location);
    absl::StatusOr<std::unique_ptr<ArticleStore>> store =
        OpenArticleStore(location);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->Put({MakeArticle("a1")}).ok());
  }
}

}  // namespace
}  // namespace kabar::store
