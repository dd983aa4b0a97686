// Copyright kabar authors.
// What is particular to SqliteArticleStore (files, WAL, FTS5, schema
// version, --db paths), run against real SQLite files in a temporary
// directory. The ArticleStore contract itself is tested for every backend in
// article_store_conformance_test.cc.
#include "services/store/sqlite_article_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/article_store.h"

namespace kabar::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A minimal valid article: id, body and labels.
v1::StoredArticle MakeArticle(const std::string& id,
                              const std::string& language = "id",
                              const std::string& topic = "politics") {
  v1::StoredArticle stored;
  stored.mutable_article()->set_id(id);
  stored.mutable_article()->set_source("antara");
  stored.mutable_article()->set_title(absl::StrCat("Title of ", id));
  stored.mutable_article()->set_body(absl::StrCat("Body of ", id, "."));
  stored.mutable_labels()->mutable_language()->set_code(language);
  stored.mutable_labels()->mutable_language()->set_confidence(0.9f);
  if (!topic.empty()) {
    v1::LabelScore* top = stored.mutable_labels()->add_topics();
    top->set_label(topic);
    top->set_confidence(0.8f);
  }
  return stored;
}

class SqliteArticleStoreTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "kabar_store_test_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/articles.db";
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::unique_ptr<SqliteArticleStore> Open() {
    SqliteArticleStore::Options options;
    options.path = path_;
    absl::StatusOr<std::unique_ptr<SqliteArticleStore>> store =
        SqliteArticleStore::Create(options);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::vector<v1::PutOutcome> PutOk(
      const std::vector<v1::StoredArticle>& articles) {
    absl::StatusOr<std::vector<v1::PutOutcome>> outcomes =
        store_->Put(articles);
    EXPECT_TRUE(outcomes.ok()) << outcomes.status();
    return outcomes.ok() ? *outcomes : std::vector<v1::PutOutcome>();
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteArticleStore> store_;
};

TEST_F(SqliteArticleStoreTest, WritesThroughAWriteAheadLog) {
  PutOk({MakeArticle("a1")});
  // Readers run beside the writer thanks to WAL; the log file exists while
  // the store is open and is folded back when it closes.
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &select, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(select), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(select, 0)),
               "wal");
  sqlite3_finalize(select);
  sqlite3_close(db);
  store_.reset();
  EXPECT_FALSE(std::filesystem::exists(path_ + "-wal"));
}

TEST_F(SqliteArticleStoreTest, TitleAndBodyAreFullTextIndexed) {
  v1::StoredArticle flood = MakeArticle("flood");
  flood.mutable_article()->set_title("Banjir di Jakarta");
  PutOk({flood, MakeArticle("other")});
  store_.reset();

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* select = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(
                db,
                "SELECT a.id FROM articles_fts f JOIN articles a "
                "ON a.seq = f.rowid WHERE articles_fts MATCH 'jakarta'",
                -1, &select, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  std::vector<std::string> ids;
  while (sqlite3_step(select) == SQLITE_ROW) {
    ids.emplace_back(
        reinterpret_cast<const char*>(sqlite3_column_text(select, 0)));
  }
  sqlite3_finalize(select);
  sqlite3_close(db);
  EXPECT_THAT(ids, ElementsAre("flood"));
}

TEST_F(SqliteArticleStoreTest, MigratesAVersion1FileSoItsArticlesGetSnippets) {
  // A file as kabar-store schema version 1 wrote it: a contentless FTS5
  // table, which can match but not quote text.
  store_.reset();
  std::filesystem::remove(path_);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  v1::StoredArticle stored = MakeArticle("old");
  stored.mutable_article()->set_title("Banjir di Jakarta");
  stored.mutable_ingested_at()->set_seconds(1700000000);
  std::string blob;
  stored.SerializeToString(&blob);
  const std::string schema_v1 = R"sql(
CREATE TABLE articles (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL, language TEXT NOT NULL,
  language_confidence REAL NOT NULL, topic TEXT NOT NULL,
  topic_confidence REAL NOT NULL, published_at INTEGER,
  ingested_at INTEGER NOT NULL, data BLOB NOT NULL);
CREATE VIRTUAL TABLE articles_fts USING fts5(
  title, body, content = '', tokenize = 'unicode61 remove_diacritics 2');
INSERT INTO articles_fts (rowid, title, body)
  VALUES (1, 'Banjir di Jakarta', 'Body of old.');
PRAGMA user_version = 1;
)sql";
  ASSERT_EQ(sqlite3_exec(db, schema_v1.c_str(), nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_stmt* insert = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(
                db,
                "INSERT INTO articles VALUES (1, 'old', 'antara', 'id', 0.9, "
                "'politics', 0.8, NULL, 1700000000000000, ?)",
                -1, &insert, nullptr),
            SQLITE_OK);
  sqlite3_bind_blob(insert, 1, blob.data(), static_cast<int>(blob.size()),
                    SQLITE_STATIC);
  ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
  sqlite3_finalize(insert);
  sqlite3_close(db);

  store_ = Open();
  ASSERT_NE(store_, nullptr);
  v1::QueryArticlesRequest request;
  request.mutable_filter()->set_text("jakarta");
  absl::StatusOr<v1::QueryArticlesResponse> hits = store_->Query(request);
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->articles_size(), 1);
  EXPECT_EQ(hits->articles(0).article().id(), "old");
  EXPECT_EQ(hits->matches(0).snippet(), "Banjir di [Jakarta]");
  // New articles are indexed the new way alongside it, and a reopen does
  // not migrate again.
  PutOk({MakeArticle("new")});
  store_ = Open();
  request.mutable_filter()->set_text("body");
  hits = store_->Query(request);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->articles_size(), 2);
}

TEST_F(SqliteArticleStoreTest, OpenErrorsNameThePath) {
  SqliteArticleStore::Options options;
  options.path = dir_ + "/missing-dir/articles.db";
  absl::StatusOr<std::unique_ptr<SqliteArticleStore>> store =
      SqliteArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(store.status().message(), HasSubstr(options.path));

  options.path = dir_ + "/not-a-database";
  std::ofstream(options.path) << std::string(4096, 'x');
  store = SqliteArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(store.status().message(), HasSubstr(options.path));
}

TEST_F(SqliteArticleStoreTest, RefusesADatabaseFromANewerSchema) {
  store_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(db);

  SqliteArticleStore::Options options;
  options.path = path_;
  absl::StatusOr<std::unique_ptr<SqliteArticleStore>> store =
      SqliteArticleStore::Create(options);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), HasSubstr("99"));
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(SqliteArticleStoreTest, OpenArticleStoreAcceptsPathsAndSqliteUrls) {
  const std::string relative =
      std::filesystem::relative(dir_ + "/relative.db").string();
  const std::string locations[] = {
      dir_ + "/plain.db",
      "sqlite://" + dir_ + "/absolute.db",  // dir_ is absolute: sqlite:///...
      "sqlite://" + relative,
  };
  for (const std::string& location : locations) {
    SCOPED_TRACE(location);
    absl::StatusOr<std::unique_ptr<ArticleStore>> store =
        OpenArticleStore(location);
    ASSERT_TRUE(store.ok()) << store.status();
    EXPECT_TRUE((*store)->Put({MakeArticle("a1")}).ok());
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/plain.db"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/absolute.db"));
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/relative.db"));
}

TEST(OpenArticleStoreTest, RejectsWhatItCannotOpen) {
  EXPECT_EQ(OpenArticleStore("mysql://db/kabar").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenArticleStore("").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenArticleStore("sqlite://").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OpenArticleStore(":memory:").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kabar::store
