// Copyright kabar authors.
// Specification of SqliteArticleStore (and, through it, of the ArticleStore
// contract), run against real SQLite files in a temporary directory.
#include "services/store/sqlite_article_store.h"

#include <sqlite3.h>
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/store/article_store.h"

namespace kabar::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

google::protobuf::Timestamp Seconds(int64_t seconds) {
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  return timestamp;
}

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

std::vector<std::string> Ids(const v1::QueryArticlesResponse& response) {
  std::vector<std::string> ids;
  for (const v1::StoredArticle& stored : response.articles()) {
    ids.push_back(stored.article().id());
  }
  return ids;
}

std::vector<std::pair<std::string, int64_t>> Counts(
    const google::protobuf::RepeatedPtrField<v1::LabelCount>& counts) {
  std::vector<std::pair<std::string, int64_t>> pairs;
  for (const v1::LabelCount& count : counts) {
    pairs.emplace_back(count.label(), count.count());
  }
  return pairs;
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

  int64_t Total(const v1::ArticleFilter& filter = {}) {
    absl::StatusOr<v1::CountArticlesResponse> counts = store_->Count(filter);
    EXPECT_TRUE(counts.ok()) << counts.status();
    return counts.ok() ? counts->total() : -1;
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<SqliteArticleStore> store_;
};

TEST_F(SqliteArticleStoreTest, GetReturnsEveryFieldPutStored) {
  v1::StoredArticle stored = MakeArticle("a1");
  v1::Article& article = *stored.mutable_article();
  article.set_url("https://example.com/a1");
  article.set_title("Banjir di Jakarta");
  article.set_body("Hujan deras.\nSungai meluap.");
  *article.mutable_published_at() = Seconds(1700000000);
  article.mutable_published_at()->set_nanos(123456000);
  (*article.mutable_metadata())["author"] = "Siti";
  (*article.mutable_metadata())["tags"] = "banjir,jakarta";
  v1::Labels& labels = *stored.mutable_labels();
  labels.mutable_language()->set_confidence(0.97f);
  v1::LabelScore* alternative = labels.mutable_language()->add_alternatives();
  alternative->set_label("ms");
  alternative->set_confidence(0.02f);
  v1::LabelScore* second_topic = labels.add_topics();
  second_topic->set_label("environment");
  second_topic->set_confidence(0.1f);
  labels.mutable_language_model()->set_name("lid.176.ftz");
  labels.mutable_language_model()->set_sha256("ab12");
  labels.mutable_topic_model()->set_name("topics.ftz");
  labels.mutable_topic_model()->set_sha256("cd34");

  const absl::Time before = absl::Now();
  EXPECT_THAT(PutOk({stored}), ElementsAre(v1::PUT_OUTCOME_INSERTED));
  const absl::Time after = absl::Now();

  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  // The store stamps ingested_at with the commit time...
  ASSERT_TRUE(got->has_ingested_at());
  const absl::Time ingested =
      absl::FromUnixSeconds(got->ingested_at().seconds()) +
      absl::Nanoseconds(got->ingested_at().nanos());
  EXPECT_GE(ingested, absl::FromUnixMicros(absl::ToUnixMicros(before)));
  EXPECT_LE(ingested, after);
  // ...and everything else comes back exactly as given.
  got->clear_ingested_at();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, stored))
      << got->DebugString();
}

TEST_F(SqliteArticleStoreTest, KeepsAGivenIngestedAt) {
  v1::StoredArticle stored = MakeArticle("a1");
  *stored.mutable_ingested_at() = Seconds(1600000000);
  PutOk({stored});
  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->ingested_at().seconds(), 1600000000);
}

TEST_F(SqliteArticleStoreTest, PutIsIdempotentById) {
  EXPECT_THAT(PutOk({MakeArticle("a1")}),
              ElementsAre(v1::PUT_OUTCOME_INSERTED));
  v1::StoredArticle changed = MakeArticle("a1");
  changed.mutable_article()->set_body("A different body.");
  EXPECT_THAT(
      PutOk({changed, MakeArticle("a2")}),
      ElementsAre(v1::PUT_OUTCOME_ALREADY_EXISTS, v1::PUT_OUTCOME_INSERTED));

  EXPECT_EQ(Total(), 2);
  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->article().body(), "Body of a1.");
}

TEST_F(SqliteArticleStoreTest, FirstCopyWinsInsideOneBatch) {
  v1::StoredArticle first = MakeArticle("a1");
  v1::StoredArticle second = MakeArticle("a1");
  second.mutable_article()->set_body("Second copy.");
  EXPECT_THAT(PutOk({first, MakeArticle("a2"), second}),
              ElementsAre(v1::PUT_OUTCOME_INSERTED, v1::PUT_OUTCOME_INSERTED,
                          v1::PUT_OUTCOME_ALREADY_EXISTS));
  EXPECT_EQ(Total(), 2);
  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->article().body(), "Body of a1.");
}

TEST_F(SqliteArticleStoreTest, EmptyBatchStoresNothing) {
  EXPECT_THAT(PutOk({}), IsEmpty());
  EXPECT_EQ(Total(), 0);
}

TEST_F(SqliteArticleStoreTest, RejectsAnInvalidArticleAndStoresNothing) {
  struct Case {
    const char* name;
    std::function<void(v1::StoredArticle&)> spoil;
    const char* message;
  };
  const Case cases[] = {
      {"no id", [](v1::StoredArticle& s) { s.mutable_article()->clear_id(); },
       "article.id is empty"},
      {"no body",
       [](v1::StoredArticle& s) { s.mutable_article()->clear_body(); },
       "article.body is empty"},
      {"bad UTF-8",
       [](v1::StoredArticle& s) { s.mutable_article()->set_title("caf\xC3"); },
       "article.title"},
      {"bad timestamp",
       [](v1::StoredArticle& s) {
         s.mutable_article()->mutable_published_at()->set_nanos(-1);
       },
       "article.published_at"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::StoredArticle bad = MakeArticle("bad");
    c.spoil(bad);
    absl::StatusOr<std::vector<v1::PutOutcome>> outcomes =
        store_->Put({MakeArticle("good"), bad});
    EXPECT_EQ(outcomes.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(outcomes.status().message(), HasSubstr("article 1"));
    EXPECT_THAT(outcomes.status().message(), HasSubstr(c.message));
    EXPECT_EQ(store_->Get("good").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(Total(), 0);
  }
}

TEST_F(SqliteArticleStoreTest, GetOfAnUnknownIdIsNotFound) {
  PutOk({MakeArticle("a1")});
  absl::StatusOr<v1::StoredArticle> got = store_->Get("nope");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("nope"));
  EXPECT_EQ(store_->Get("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Four articles with fixed times, so each filter has a known answer.
class SqliteArticleStoreFilterTest : public SqliteArticleStoreTest {
 protected:
  void SetUp() override {
    SqliteArticleStoreTest::SetUp();
    struct Row {
      const char* id;
      const char* language;
      float language_confidence;
      const char* topic;  // "" = no topic
      float topic_confidence;
      const char* source;
      int64_t published_s;  // 0 = unknown
      int64_t ingested_s;
    };
    const Row rows[] = {
        {"a", "id", 0.95f, "politics", 0.9f, "antara", 1000, 100},
        {"b", "en", 0.6f, "sports", 0.4f, "bbc", 2000, 200},
        {"c", "id", 0.7f, "sports", 0.85f, "bbc", 0, 300},
        {"d", "ms", 0.99f, "", 0.0f, "antara", 3000, 400},
    };
    std::vector<v1::StoredArticle> articles;
    for (const Row& row : rows) {
      v1::StoredArticle stored = MakeArticle(row.id, row.language, row.topic);
      stored.mutable_labels()->mutable_language()->set_confidence(
          row.language_confidence);
      if (stored.labels().topics_size() > 0) {
        stored.mutable_labels()->mutable_topics(0)->set_confidence(
            row.topic_confidence);
      }
      stored.mutable_article()->set_source(row.source);
      if (row.published_s != 0) {
        *stored.mutable_article()->mutable_published_at() =
            Seconds(row.published_s);
      }
      *stored.mutable_ingested_at() = Seconds(row.ingested_s);
      articles.push_back(stored);
    }
    PutOk(articles);
  }
};

TEST_F(SqliteArticleStoreFilterTest, EachFilterSelectsItsArticlesNewestFirst) {
  struct Case {
    const char* name;
    std::function<void(v1::ArticleFilter&)> set;
    std::vector<std::string> ids;
  };
  const Case cases[] = {
      {"none", [](v1::ArticleFilter&) {}, {"d", "c", "b", "a"}},
      {"language",
       [](v1::ArticleFilter& f) { f.set_language("id"); },
       {"c", "a"}},
      {"topic",
       [](v1::ArticleFilter& f) { f.set_topic("sports"); },
       {"c", "b"}},
      {"source",
       [](v1::ArticleFilter& f) { f.set_source("antara"); },
       {"d", "a"}},
      {"published after (inclusive; unknown never matches)",
       [](v1::ArticleFilter& f) {
         *f.mutable_published_after() = Seconds(2000);
       },
       {"d", "b"}},
      {"published before (exclusive)",
       [](v1::ArticleFilter& f) {
         *f.mutable_published_before() = Seconds(2000);
       },
       {"a"}},
      {"published range",
       [](v1::ArticleFilter& f) {
         *f.mutable_published_after() = Seconds(1000);
         *f.mutable_published_before() = Seconds(3000);
       },
       {"b", "a"}},
      {"published after the epoch is a real filter",
       [](v1::ArticleFilter& f) { *f.mutable_published_after() = Seconds(0); },
       {"d", "b", "a"}},
      {"ingested after",
       [](v1::ArticleFilter& f) { *f.mutable_ingested_after() = Seconds(200); },
       {"d", "c", "b"}},
      {"ingested before",
       [](v1::ArticleFilter& f) {
         *f.mutable_ingested_before() = Seconds(300);
       },
       {"b", "a"}},
      {"min language confidence (inclusive)",
       [](v1::ArticleFilter& f) { f.set_min_language_confidence(0.7f); },
       {"d", "c", "a"}},
      {"min topic confidence",
       [](v1::ArticleFilter& f) { f.set_min_topic_confidence(0.85f); },
       {"c", "a"}},
      {"all conditions must hold",
       [](v1::ArticleFilter& f) {
         f.set_language("id");
         f.set_min_topic_confidence(0.88f);
       },
       {"a"}},
      {"nothing matches",
       [](v1::ArticleFilter& f) { f.set_language("fr"); },
       {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ArticleFilter filter;
    c.set(filter);
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query(filter, 0, "");
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(Ids(*page), c.ids);
    EXPECT_EQ(page->next_page_token(), "");
    EXPECT_EQ(Total(filter), static_cast<int64_t>(c.ids.size()));
  }
}

TEST_F(SqliteArticleStoreFilterTest,
       CountsByLanguageAndTopicMostFrequentFirst) {
  absl::StatusOr<v1::CountArticlesResponse> counts = store_->Count({});
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 4);
  using Pair = std::pair<std::string, int64_t>;
  // Ties are ordered by label.
  EXPECT_THAT(Counts(counts->by_language()),
              ElementsAre(Pair("id", 2), Pair("en", 1), Pair("ms", 1)));
  // "d" has no topic: counted in total only.
  EXPECT_THAT(Counts(counts->by_topic()),
              ElementsAre(Pair("sports", 2), Pair("politics", 1)));

  v1::ArticleFilter bbc;
  bbc.set_source("bbc");
  counts = store_->Count(bbc);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 2);
  EXPECT_THAT(Counts(counts->by_language()),
              ElementsAre(Pair("en", 1), Pair("id", 1)));
  EXPECT_THAT(Counts(counts->by_topic()), ElementsAre(Pair("sports", 2)));
}

TEST_F(SqliteArticleStoreTest, RejectsAnInvalidFilter) {
  struct Case {
    const char* name;
    std::function<void(v1::ArticleFilter&)> set;
  };
  const Case cases[] = {
      {"confidence above 1",
       [](v1::ArticleFilter& f) { f.set_min_language_confidence(1.5f); }},
      {"negative confidence",
       [](v1::ArticleFilter& f) { f.set_min_topic_confidence(-0.1f); }},
      {"NaN confidence",
       [](v1::ArticleFilter& f) { f.set_min_topic_confidence(std::nanf("")); }},
      {"bad nanos",
       [](v1::ArticleFilter& f) {
         f.mutable_ingested_after()->set_nanos(1000000000);
       }},
      {"year 10000",
       [](v1::ArticleFilter& f) {
         f.mutable_published_before()->set_seconds(253402300800);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ArticleFilter filter;
    c.set(filter);
    EXPECT_EQ(store_->Query(filter, 0, "").status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(store_->Count(filter).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

TEST_F(SqliteArticleStoreTest, PagesReturnEachArticleOnceNewestFirst) {
  // 12 batches of 10; articles in a batch share their ingested_at, so the
  // order within a batch comes from the insertion sequence.
  std::vector<std::string> newest_first;
  for (int batch = 0; batch < 12; ++batch) {
    std::vector<v1::StoredArticle> articles;
    for (int i = 0; i < 10; ++i) {
      const std::string id = absl::StrCat("article-", batch * 10 + i);
      articles.push_back(MakeArticle(id, i % 3 == 0 ? "en" : "id"));
      newest_first.insert(newest_first.begin(), id);
    }
    PutOk(articles);
  }

  std::vector<std::string> seen;
  std::vector<int> page_sizes;
  std::string token;
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query({}, 50, token);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->articles_size());
    for (const std::string& id : Ids(*page)) seen.push_back(id);
    token = page->next_page_token();
  } while (!token.empty() && page_sizes.size() < 10);
  EXPECT_THAT(page_sizes, ElementsAre(50, 50, 20));
  EXPECT_EQ(seen, newest_first);

  // Paging a filtered query yields exactly the filtered list.
  std::vector<std::string> english_newest_first;
  for (const std::string& id : newest_first) {
    if (std::stoi(id.substr(id.find('-') + 1)) % 10 % 3 == 0) {
      english_newest_first.push_back(id);
    }
  }
  v1::ArticleFilter english;
  english.set_language("en");
  seen.clear();
  token.clear();
  int pages = 0;
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query(english, 7, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const std::string& id : Ids(*page)) seen.push_back(id);
    token = page->next_page_token();
  } while (!token.empty() && ++pages < 20);
  EXPECT_EQ(seen, english_newest_first);
}

TEST_F(SqliteArticleStoreTest, ArticlesStoredWhilePagingAppearOnNoLaterPage) {
  for (int i = 0; i < 10; ++i) PutOk({MakeArticle(absl::StrCat("old-", i))});
  absl::StatusOr<v1::QueryArticlesResponse> first = store_->Query({}, 5, "");
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_FALSE(first->next_page_token().empty());
  for (int i = 0; i < 5; ++i) PutOk({MakeArticle(absl::StrCat("new-", i))});

  absl::StatusOr<v1::QueryArticlesResponse> rest =
      store_->Query({}, 100, first->next_page_token());
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_THAT(Ids(*rest),
              ElementsAre("old-4", "old-3", "old-2", "old-1", "old-0"));
  EXPECT_EQ(rest->next_page_token(), "");
}

TEST_F(SqliteArticleStoreTest, PageSizeDefaultsTo50AndIsCappedAt1000) {
  EXPECT_EQ(*EffectivePageSize(0), 50);
  EXPECT_EQ(*EffectivePageSize(7), 7);
  EXPECT_EQ(*EffectivePageSize(5000), 1000);
  EXPECT_EQ(EffectivePageSize(-1).status().code(),
            absl::StatusCode::kInvalidArgument);

  std::vector<v1::StoredArticle> articles;
  for (int i = 0; i < 60; ++i) articles.push_back(MakeArticle(absl::StrCat(i)));
  PutOk(articles);
  absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query({}, 0, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->articles_size(), 50);
  EXPECT_EQ(store_->Query({}, -3, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SqliteArticleStoreTest, MalformedPageTokenIsInvalidArgument) {
  PutOk({MakeArticle("a1")});
  const std::string tokens[] = {
      "garbage!",
      "Zm9v",  // "foo"
      absl::WebSafeBase64Escape("c1:abc:1"),
      absl::WebSafeBase64Escape("c1:100"),
      absl::WebSafeBase64Escape("c1:100:0"),
      absl::WebSafeBase64Escape("c2:100:5"),
  };
  for (const std::string& token : tokens) {
    SCOPED_TRACE(token);
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query({}, 10, token);
    EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(page.status().message(), HasSubstr("page_token"));
  }
}

TEST_F(SqliteArticleStoreTest, PageTokensRoundTrip) {
  const PageCursor cursor{-1234567, 42};
  absl::StatusOr<PageCursor> decoded = DecodePageToken(EncodePageToken(cursor));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->ingested_at_micros, cursor.ingested_at_micros);
  EXPECT_EQ(decoded->sequence, cursor.sequence);
}

TEST_F(SqliteArticleStoreTest, DataSurvivesClosingAndReopening) {
  PutOk({MakeArticle("a1"), MakeArticle("a2")});
  store_.reset();
  store_ = Open();
  ASSERT_NE(store_, nullptr);

  absl::StatusOr<v1::StoredArticle> got = store_->Get("a2");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->article().body(), "Body of a2.");
  EXPECT_THAT(
      PutOk({MakeArticle("a1"), MakeArticle("a3")}),
      ElementsAre(v1::PUT_OUTCOME_ALREADY_EXISTS, v1::PUT_OUTCOME_INSERTED));
  EXPECT_EQ(Total(), 3);
}

TEST_F(SqliteArticleStoreTest, ConcurrentPutsAndReadsAreSafe) {
  constexpr int kThreads = 4;
  constexpr int kBatches = 20;
  constexpr int kBatchSize = 5;
  absl::Mutex mu;
  int shared_inserted = 0;  // guarded by mu
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < kBatches; ++b) {
        // Every thread also offers the same "shared-b" article: exactly one
        // of them may insert it.
        std::vector<v1::StoredArticle> batch = {
            MakeArticle(absl::StrCat("shared-", b))};
        for (int i = 0; i < kBatchSize; ++i) {
          batch.push_back(MakeArticle(absl::StrCat("t", t, "-", b, "-", i)));
        }
        absl::StatusOr<std::vector<v1::PutOutcome>> outcomes =
            store_->Put(batch);
        ASSERT_TRUE(outcomes.ok()) << outcomes.status();
        absl::MutexLock lock(&mu);
        if ((*outcomes)[0] == v1::PUT_OUTCOME_INSERTED) ++shared_inserted;
      }
    });
  }
  // Readers run alongside the writers.
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        ASSERT_TRUE(store_->Query({}, 20, "").ok());
        ASSERT_TRUE(store_->Count({}).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(shared_inserted, kBatches);
  EXPECT_EQ(Total(), kBatches + kThreads * kBatches * kBatchSize);
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
  EXPECT_EQ(OpenArticleStore("postgresql://db/kabar").status().code(),
            absl::StatusCode::kUnimplemented);
  EXPECT_THAT(OpenArticleStore("postgresql://db/kabar").status().message(),
              HasSubstr("PostgreSQL"));
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
