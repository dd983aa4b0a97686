// Copyright kabar authors.
// The ArticleStore contract, as one value-parameterized suite that every
// backend must pass: each test runs once per backend on a fresh, empty
// database opened through OpenArticleStore. Backend-specific behaviour (file
// handling, schema internals, connection errors) is tested beside each
// backend instead.
//
// The PostgreSQL instances need a server: set KABAR_TEST_POSTGRES_URL (see
// testing/postgres_test_database.h); without it they are skipped.
#include <stdlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <ostream>
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
#include "services/store/testing/postgres_test_database.h"

namespace kabar::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// ---- Backends ----

// Where one test's articles live; removed when destroyed.
class TestDatabase {
 public:
  virtual ~TestDatabase() = default;
  // The --db value that opens it.
  virtual std::string url() const = 0;
};

class SqliteTestDatabase final : public TestDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create() {
    std::string pattern = testing::TempDir() + "kabar_conformance_XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError("mkdtemp failed");
    }
    return std::unique_ptr<TestDatabase>(new SqliteTestDatabase(pattern));
  }
  ~SqliteTestDatabase() override { std::filesystem::remove_all(dir_); }
  std::string url() const override {
    return absl::StrCat("sqlite://", dir_, "/articles.db");
  }

 private:
  explicit SqliteTestDatabase(std::string dir) : dir_(std::move(dir)) {}
  const std::string dir_;
};

class PostgresConformanceDatabase final : public TestDatabase {
 public:
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create() {
    absl::StatusOr<std::unique_ptr<PostgresTestDatabase>> database =
        PostgresTestDatabase::Create();
    if (!database.ok()) return database.status();
    return std::unique_ptr<TestDatabase>(
        new PostgresConformanceDatabase(std::move(*database)));
  }
  std::string url() const override { return database_->url(); }

 private:
  explicit PostgresConformanceDatabase(
      std::unique_ptr<PostgresTestDatabase> database)
      : database_(std::move(database)) {}
  const std::unique_ptr<PostgresTestDatabase> database_;
};

struct Backend {
  std::string name;
  // "" when the backend can be tested here; else why not (the test skips).
  std::function<std::string()> skip_reason;
  std::function<absl::StatusOr<std::unique_ptr<TestDatabase>>()> create;
};

void PrintTo(const Backend& backend, std::ostream* out) {
  *out << backend.name;
}

const Backend kBackends[] = {
    {"Sqlite", [] { return std::string(); }, &SqliteTestDatabase::Create},
    {"Postgres",
     [] {
       return PostgresTestDatabase::ServerUrl().empty()
                  ? PostgresTestDatabase::SkipMessage()
                  : std::string();
     },
     &PostgresConformanceDatabase::Create},
};

std::string BackendName(const testing::TestParamInfo<Backend>& info) {
  return info.param.name;
}

// ---- Helpers ----

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

class ArticleStoreConformanceTest : public testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    const std::string skip = GetParam().skip_reason();
    if (!skip.empty()) GTEST_SKIP() << skip;
    absl::StatusOr<std::unique_ptr<TestDatabase>> database =
        GetParam().create();
    ASSERT_TRUE(database.ok()) << database.status();
    database_ = std::move(*database);
    store_ = Open();
    ASSERT_NE(store_, nullptr);
  }

  void TearDown() override {
    store_.reset();  // before the database goes
    database_.reset();
  }

  // Another store on the same database, as a restart or a second replica
  // would open it.
  std::unique_ptr<ArticleStore> Open() {
    absl::StatusOr<std::unique_ptr<ArticleStore>> store =
        OpenArticleStore(database_->url());
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

  std::unique_ptr<TestDatabase> database_;
  std::unique_ptr<ArticleStore> store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, ArticleStoreConformanceTest,
                         testing::ValuesIn(kBackends), BackendName);

TEST_P(ArticleStoreConformanceTest, GetReturnsEveryFieldPutStored) {
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
  // The store stamps ingested_at with the commit time (PostgreSQL: the
  // server's clock, the same as ours here)...
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

TEST_P(ArticleStoreConformanceTest, KeepsUnusualTextByteForByte) {
  // NUL and control characters where the rules allow them, scripts from
  // several languages, characters outside the BMP, quotes and backslashes.
  const std::string nul("a\0b", 3);
  v1::StoredArticle stored = MakeArticle("ид/مقال/記事-😀 'x' \\ \"y\"");
  stored.mutable_article()->set_title(absl::StrCat("Заголовок ", nul, " 🗞"));
  stored.mutable_article()->set_body(
      absl::StrCat("Teks\r\n\tberita ", nul, " العربية 中文 \x7f end"));
  stored.mutable_article()->set_url(absl::StrCat("https://x/", nul));
  (*stored.mutable_article()->mutable_metadata())[nul] = nul;
  stored.mutable_article()->set_source("sumber 'kutip'");
  stored.mutable_labels()->mutable_language()->set_code("ру");
  *stored.mutable_ingested_at() = Seconds(1600000000);

  EXPECT_THAT(PutOk({stored}), ElementsAre(v1::PUT_OUTCOME_INSERTED));
  absl::StatusOr<v1::StoredArticle> got = store_->Get(stored.article().id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*got, stored))
      << got->DebugString();

  v1::ArticleFilter filter;
  filter.set_source("sumber 'kutip'");
  filter.set_language("ру");
  absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query(filter, 0, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre(stored.article().id()));
}

TEST_P(ArticleStoreConformanceTest, StoresALargeArticle) {
  // 2 MB of mostly distinct words: more than PostgreSQL's tsvector could
  // hold, so this checks that indexing never refuses an article.
  std::string body;
  for (int i = 0; body.size() < (2 << 20); ++i) {
    absl::StrAppend(&body, "w", i * 7919, " ");
  }
  v1::StoredArticle stored = MakeArticle("big");
  stored.mutable_article()->set_body(body);
  stored.mutable_article()->set_title(body.substr(0, 100000));
  EXPECT_THAT(PutOk({stored}), ElementsAre(v1::PUT_OUTCOME_INSERTED));
  absl::StatusOr<v1::StoredArticle> got = store_->Get("big");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->article().body(), body);
}

TEST_P(ArticleStoreConformanceTest, KeepsAGivenIngestedAt) {
  v1::StoredArticle stored = MakeArticle("a1");
  *stored.mutable_ingested_at() = Seconds(1600000000);
  stored.mutable_ingested_at()->set_nanos(7000);
  PutOk({stored});
  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->ingested_at().seconds(), 1600000000);
  EXPECT_EQ(got->ingested_at().nanos(), 7000);
}

TEST_P(ArticleStoreConformanceTest, PutIsIdempotentById) {
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

TEST_P(ArticleStoreConformanceTest, FirstCopyWinsInsideOneBatch) {
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

TEST_P(ArticleStoreConformanceTest, LargeBatchKeepsOrderAndFirstCopies) {
  // Bigger than a backend might send in one statement.
  constexpr int kArticles = 1200;
  std::vector<v1::StoredArticle> batch;
  for (int i = 0; i < kArticles; ++i) {
    // Ids sort differently from batch order.
    batch.push_back(MakeArticle(absl::StrCat("z", (i * 7) % kArticles)));
  }
  v1::StoredArticle late_copy = batch[3];
  late_copy.mutable_article()->set_body("Late copy.");
  batch.push_back(late_copy);
  batch.push_back(MakeArticle("existing"));
  PutOk({MakeArticle("existing")});

  const std::vector<v1::PutOutcome> outcomes = PutOk(batch);
  ASSERT_EQ(outcomes.size(), batch.size());
  for (int i = 0; i < kArticles; ++i) {
    EXPECT_EQ(outcomes[i], v1::PUT_OUTCOME_INSERTED) << i;
  }
  EXPECT_EQ(outcomes[kArticles], v1::PUT_OUTCOME_ALREADY_EXISTS);
  EXPECT_EQ(outcomes[kArticles + 1], v1::PUT_OUTCOME_ALREADY_EXISTS);
  absl::StatusOr<v1::StoredArticle> got = store_->Get(batch[3].article().id());
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->article().body(), batch[3].article().body());

  // One time stamp for the batch; newest first is reverse batch order.
  absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query({}, 3, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre(batch[kArticles - 1].article().id(),
                                      batch[kArticles - 2].article().id(),
                                      batch[kArticles - 3].article().id()));
  EXPECT_EQ(Total(), kArticles + 1);
}

TEST_P(ArticleStoreConformanceTest, EmptyBatchStoresNothing) {
  EXPECT_THAT(PutOk({}), IsEmpty());
  EXPECT_EQ(Total(), 0);
}

TEST_P(ArticleStoreConformanceTest, RejectsAnInvalidArticleAndStoresNothing) {
  struct Case {
    const char* name;
    std::function<void(v1::StoredArticle&)> spoil;
    const char* message;
  };
  const std::string nul("x\0y", 3);
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
      {"NUL in id",
       [&](v1::StoredArticle& s) { s.mutable_article()->set_id(nul); },
       "article.id contains a NUL"},
      {"NUL in source",
       [&](v1::StoredArticle& s) { s.mutable_article()->set_source(nul); },
       "article.source contains a NUL"},
      {"NUL in language",
       [&](v1::StoredArticle& s) {
         s.mutable_labels()->mutable_language()->set_code(nul);
       },
       "labels.language.code contains a NUL"},
      {"NUL in a topic",
       [&](v1::StoredArticle& s) {
         s.mutable_labels()->add_topics()->set_label(nul);
       },
       "labels.topics contains a NUL"},
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

TEST_P(ArticleStoreConformanceTest, GetOfAnUnknownIdIsNotFound) {
  PutOk({MakeArticle("a1")});
  absl::StatusOr<v1::StoredArticle> got = store_->Get("nope");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(got.status().message(), HasSubstr("nope"));
  // Ids no article can have are simply not found.
  EXPECT_EQ(store_->Get(std::string("a1\0", 3)).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("a1\xC3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Four articles with fixed times, so each filter has a known answer.
class ArticleStoreFilterConformanceTest : public ArticleStoreConformanceTest {
 protected:
  void SetUp() override {
    ArticleStoreConformanceTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
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

INSTANTIATE_TEST_SUITE_P(Backends, ArticleStoreFilterConformanceTest,
                         testing::ValuesIn(kBackends), BackendName);

TEST_P(ArticleStoreFilterConformanceTest, EachFilterSelectsNewestFirst) {
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
      {"language is exact",
       [](v1::ArticleFilter& f) { f.set_language("ID"); },
       {}},
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

TEST_P(ArticleStoreFilterConformanceTest, CountsMostFrequentFirst) {
  absl::StatusOr<v1::CountArticlesResponse> counts =
      store_->Count(v1::ArticleFilter());
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

  v1::ArticleFilter none;
  none.set_language("fr");
  counts = store_->Count(none);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 0);
  EXPECT_THAT(counts->by_language(), IsEmpty());
  EXPECT_THAT(counts->by_topic(), IsEmpty());
}

TEST_P(ArticleStoreConformanceTest, CountTiesAreOrderedByteWise) {
  // Byte order, not a locale's: "B" < "a" < "b" < "é".
  std::vector<v1::StoredArticle> articles;
  const char* const languages[] = {"é", "b", "a", "B"};
  for (int i = 0; i < 4; ++i) {
    articles.push_back(MakeArticle(absl::StrCat("x", i), languages[i]));
  }
  PutOk(articles);
  absl::StatusOr<v1::CountArticlesResponse> counts =
      store_->Count(v1::ArticleFilter());
  ASSERT_TRUE(counts.ok()) << counts.status();
  using Pair = std::pair<std::string, int64_t>;
  EXPECT_THAT(
      Counts(counts->by_language()),
      ElementsAre(Pair("B", 1), Pair("a", 1), Pair("b", 1), Pair("é", 1)));
}

TEST_P(ArticleStoreConformanceTest, RejectsAnInvalidFilter) {
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
      {"bad UTF-8 language",
       [](v1::ArticleFilter& f) { f.set_language("\xC3"); }},
      {"NUL in source",
       [](v1::ArticleFilter& f) { f.set_source(std::string("a\0", 2)); }},
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

TEST_P(ArticleStoreConformanceTest, PagesReturnEachArticleOnceNewestFirst) {
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

TEST_P(ArticleStoreConformanceTest, PagingBreaksTiesByInsertionOrder) {
  // Same given ingested_at in separate batches: the later batch is newer.
  std::vector<std::string> newest_first;
  for (int i = 0; i < 6; ++i) {
    v1::StoredArticle stored = MakeArticle(absl::StrCat("tie-", i));
    *stored.mutable_ingested_at() = Seconds(1000);
    PutOk({stored});
    newest_first.insert(newest_first.begin(), stored.article().id());
  }
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query({}, 4, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const std::string& id : Ids(*page)) seen.push_back(id);
    token = page->next_page_token();
  } while (!token.empty() && ++pages < 10);
  EXPECT_EQ(seen, newest_first);
}

TEST_P(ArticleStoreConformanceTest,
       ArticlesStoredWhilePagingAppearOnNoLaterPage) {
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

TEST_P(ArticleStoreConformanceTest, PageSizeDefaultsTo50AndIsCappedAt1000) {
  std::vector<v1::StoredArticle> articles;
  for (int i = 0; i < 1005; ++i) {
    articles.push_back(MakeArticle(absl::StrCat(i)));
  }
  PutOk(articles);
  absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query({}, 0, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->articles_size(), 50);
  page = store_->Query({}, 5000, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->articles_size(), 1000);
  EXPECT_FALSE(page->next_page_token().empty());
  EXPECT_EQ(store_->Query({}, -3, "").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ArticleStoreConformanceTest, MalformedPageTokenIsInvalidArgument) {
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

TEST_P(ArticleStoreConformanceTest, AHandMadeTokenResumesAfterItsCursor) {
  // Tokens are the shared PageCursor format, so they mean the same on every
  // backend: resume strictly after (ingested_at, sequence).
  for (int i = 0; i < 3; ++i) {
    v1::StoredArticle stored = MakeArticle(absl::StrCat("t", i));
    *stored.mutable_ingested_at() = Seconds(100 * (i + 1));
    PutOk({stored});
  }
  const PageCursor cursor{ToUnixMicros(Seconds(300)), 1};
  absl::StatusOr<v1::QueryArticlesResponse> page =
      store_->Query({}, 10, EncodePageToken(cursor));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre("t1", "t0"));
}

TEST_P(ArticleStoreConformanceTest, DataSurvivesClosingAndReopening) {
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

TEST_P(ArticleStoreConformanceTest, TwoStoresOnOneDatabaseShareIt) {
  // Two replicas (or two processes) on one database.
  std::unique_ptr<ArticleStore> other = Open();
  ASSERT_NE(other, nullptr);
  PutOk({MakeArticle("a1")});
  absl::StatusOr<std::vector<v1::PutOutcome>> outcomes =
      other->Put({MakeArticle("a1"), MakeArticle("a2")});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(v1::PUT_OUTCOME_ALREADY_EXISTS,
                                     v1::PUT_OUTCOME_INSERTED));
  EXPECT_TRUE(store_->Get("a2").ok());
  absl::StatusOr<v1::QueryArticlesResponse> page = other->Query({}, 10, "");
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_THAT(Ids(*page), ElementsAre("a2", "a1"));
}

TEST_P(ArticleStoreConformanceTest, ConcurrentPutsAndReadsAreSafe) {
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
        ASSERT_TRUE(store_->Count(v1::ArticleFilter()).ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_EQ(shared_inserted, kBatches);
  EXPECT_EQ(Total(), kBatches + kThreads * kBatches * kBatchSize);
}

// ---- UpdateLabels ----

// Labels from "another model": language, one topic and both identities.
v1::Labels RelabeledAs(const std::string& language, const std::string& topic,
                       float topic_confidence, const std::string& topic_sha) {
  v1::Labels labels;
  labels.mutable_language()->set_code(language);
  labels.mutable_language()->set_confidence(0.75f);
  v1::LabelScore* top = labels.add_topics();
  top->set_label(topic);
  top->set_confidence(topic_confidence);
  labels.mutable_language_model()->set_name("lid.176.ftz");
  labels.mutable_language_model()->set_sha256("lang-a");
  labels.mutable_topic_model()->set_name("topic.ftz");
  labels.mutable_topic_model()->set_sha256(topic_sha);
  return labels;
}

// An article as labeled by topic model "topic-a".
v1::StoredArticle MakeLabeledArticle(const std::string& id) {
  v1::StoredArticle stored = MakeArticle(id);
  stored.mutable_labels()->mutable_language_model()->set_sha256("lang-a");
  stored.mutable_labels()->mutable_topic_model()->set_sha256("topic-a");
  return stored;
}

v1::LabelUpdate Update(const std::string& id, const v1::Labels& labels) {
  v1::LabelUpdate update;
  update.set_id(id);
  *update.mutable_labels() = labels;
  return update;
}

v1::LabelUpdate UpdateIfTopicModel(const std::string& id,
                                   const v1::Labels& labels,
                                   const std::string& expected_topic_sha) {
  v1::LabelUpdate update = Update(id, labels);
  update.set_expected_topic_model_sha256(expected_topic_sha);
  return update;
}

TEST_P(ArticleStoreConformanceTest, UpdateLabelsReplacesLabelsAndKeepsTheRest) {
  v1::StoredArticle stored = MakeLabeledArticle("a1");
  stored.mutable_article()->set_url("https://example.com/a1");
  *stored.mutable_article()->mutable_published_at() = Seconds(1700000000);
  (*stored.mutable_article()->mutable_metadata())["author"] = "Siti";
  *stored.mutable_ingested_at() = Seconds(1600000000);
  stored.mutable_ingested_at()->set_nanos(5000);
  PutOk({stored, MakeLabeledArticle("a2")});

  const v1::Labels relabeled = RelabeledAs("ms", "sports", 0.6f, "topic-b");
  absl::StatusOr<std::vector<v1::UpdateOutcome>> outcomes =
      store_->UpdateLabels({Update("a1", relabeled)});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(v1::UPDATE_OUTCOME_UPDATED));

  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  v1::StoredArticle expected = stored;
  *expected.mutable_labels() = relabeled;
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(*got, expected))
      << got->DebugString();
  got = store_->Get("a2");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->labels().topic_model().sha256(), "topic-a");
}

TEST_P(ArticleStoreConformanceTest, UpdateLabelsMovesTheFilterColumns) {
  PutOk({MakeLabeledArticle("a1"), MakeLabeledArticle("a2")});
  absl::StatusOr<std::vector<v1::UpdateOutcome>> outcomes =
      store_->UpdateLabels(
          {Update("a1", RelabeledAs("ms", "sports", 0.6f, "topic-b"))});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();

  struct Case {
    const char* name;
    std::function<void(v1::ArticleFilter&)> set;
    std::vector<std::string> ids;
  };
  const Case cases[] = {
      {"new topic",
       [](v1::ArticleFilter& f) { f.set_topic("sports"); },
       {"a1"}},
      {"old topic",
       [](v1::ArticleFilter& f) { f.set_topic("politics"); },
       {"a2"}},
      {"new language",
       [](v1::ArticleFilter& f) { f.set_language("ms"); },
       {"a1"}},
      {"old language",
       [](v1::ArticleFilter& f) { f.set_language("id"); },
       {"a2"}},
      {"new language confidence",
       [](v1::ArticleFilter& f) { f.set_min_language_confidence(0.8f); },
       {"a2"}},
      {"new topic confidence",
       [](v1::ArticleFilter& f) { f.set_min_topic_confidence(0.7f); },
       {"a2"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::ArticleFilter filter;
    c.set(filter);
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query(filter, 0, "");
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(Ids(*page), c.ids);
    EXPECT_EQ(Total(filter), static_cast<int64_t>(c.ids.size()));
  }
  absl::StatusOr<v1::CountArticlesResponse> counts =
      store_->Count(v1::ArticleFilter());
  ASSERT_TRUE(counts.ok()) << counts.status();
  using Pair = std::pair<std::string, int64_t>;
  EXPECT_THAT(Counts(counts->by_topic()),
              ElementsAre(Pair("politics", 1), Pair("sports", 1)));

  // Labels without a topic leave the topic column empty.
  v1::Labels no_topic = RelabeledAs("ms", "x", 0.5f, "topic-b");
  no_topic.clear_topics();
  outcomes = store_->UpdateLabels({Update("a2", no_topic)});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  counts = store_->Count(v1::ArticleFilter());
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 2);
  EXPECT_THAT(Counts(counts->by_topic()), ElementsAre(Pair("sports", 1)));
}

TEST_P(ArticleStoreConformanceTest, UpdateLabelsOfAnUnknownIdIsNotFound) {
  PutOk({MakeLabeledArticle("a1")});
  absl::StatusOr<std::vector<v1::UpdateOutcome>> outcomes =
      store_->UpdateLabels(
          {Update("nope", RelabeledAs("en", "sports", 0.5f, "topic-b")),
           Update("a1", RelabeledAs("en", "sports", 0.5f, "topic-b"))});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(v1::UPDATE_OUTCOME_NOT_FOUND,
                                     v1::UPDATE_OUTCOME_UPDATED));
  EXPECT_EQ(Total(), 1);
  EXPECT_EQ(store_->Get("nope").status().code(), absl::StatusCode::kNotFound);
}

TEST_P(ArticleStoreConformanceTest, UpdateLabelsComparesAndSets) {
  PutOk({MakeLabeledArticle("a1"), MakeLabeledArticle("a2")});
  const v1::Labels b = RelabeledAs("en", "sports", 0.5f, "topic-b");
  const v1::Labels c = RelabeledAs("en", "health", 0.5f, "topic-c");

  // The stored article still has topic-a: only the update expecting it
  // applies, and a repeat of it inside the batch sees topic-b and skips.
  absl::StatusOr<std::vector<v1::UpdateOutcome>> outcomes =
      store_->UpdateLabels({UpdateIfTopicModel("a1", c, "topic-x"),
                            UpdateIfTopicModel("a1", b, "topic-a"),
                            UpdateIfTopicModel("a1", c, "topic-a"),
                            UpdateIfTopicModel("a2", c, "topic-a")});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(
      *outcomes,
      ElementsAre(v1::UPDATE_OUTCOME_SKIPPED, v1::UPDATE_OUTCOME_UPDATED,
                  v1::UPDATE_OUTCOME_SKIPPED, v1::UPDATE_OUTCOME_UPDATED));
  absl::StatusOr<v1::StoredArticle> got = store_->Get("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->labels().topic_model().sha256(), "topic-b");
  EXPECT_EQ(got->labels().topics(0).label(), "sports");

  // A second run of the same backfill finds nothing left to do.
  outcomes = store_->UpdateLabels({UpdateIfTopicModel("a1", b, "topic-a")});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(v1::UPDATE_OUTCOME_SKIPPED));

  // The language model condition holds on its own, and both must hold.
  v1::LabelUpdate wrong_language = UpdateIfTopicModel("a1", c, "topic-b");
  wrong_language.set_expected_language_model_sha256("lang-x");
  v1::LabelUpdate right_language = UpdateIfTopicModel("a1", c, "topic-b");
  right_language.set_expected_language_model_sha256("lang-a");
  outcomes = store_->UpdateLabels({wrong_language, right_language});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(v1::UPDATE_OUTCOME_SKIPPED,
                                     v1::UPDATE_OUTCOME_UPDATED));

  // "" expects an article labeled without a model identity.
  PutOk({MakeArticle("bare")});
  outcomes = store_->UpdateLabels(
      {UpdateIfTopicModel("bare", b, ""), UpdateIfTopicModel("a2", b, "")});
  ASSERT_TRUE(outcomes.ok()) << outcomes.status();
  EXPECT_THAT(*outcomes, ElementsAre(v1::UPDATE_OUTCOME_UPDATED,
                                     v1::UPDATE_OUTCOME_SKIPPED));
}

TEST_P(ArticleStoreConformanceTest, UpdateLabelsKeepsThePlaceInQueryOrder) {
  // Separate batches, so order comes from ingested_at and then sequence.
  std::vector<std::string> newest_first;
  for (int i = 0; i < 6; ++i) {
    PutOk({MakeLabeledArticle(absl::StrCat("p", i))});
    newest_first.insert(newest_first.begin(), absl::StrCat("p", i));
  }
  // Page while relabeling every article not yet seen, as a backfill does.
  std::vector<std::string> seen;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store_->Query({}, 2, token);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const std::string& id : Ids(*page)) seen.push_back(id);
    token = page->next_page_token();
    std::vector<v1::LabelUpdate> updates;
    for (const std::string& id : newest_first) {
      updates.push_back(
          Update(id, RelabeledAs("en", absl::StrCat("t", pages), 0.5f, "b")));
    }
    ASSERT_TRUE(store_->UpdateLabels(updates).ok());
  } while (!token.empty() && ++pages < 10);
  EXPECT_EQ(seen, newest_first);
}

TEST_P(ArticleStoreConformanceTest, RejectsAnInvalidUpdateAndUpdatesNothing) {
  PutOk({MakeLabeledArticle("good")});
  const v1::Labels valid = RelabeledAs("en", "sports", 0.5f, "topic-b");
  struct Case {
    const char* name;
    std::function<void(v1::LabelUpdate&)> spoil;
    const char* message;
  };
  const std::string nul("x\0y", 3);
  const Case cases[] = {
      {"no id", [](v1::LabelUpdate& u) { u.clear_id(); }, "id is empty"},
      {"no labels", [](v1::LabelUpdate& u) { u.clear_labels(); },
       "labels are not set"},
      {"NUL in a topic",
       [&](v1::LabelUpdate& u) {
         u.mutable_labels()->mutable_topics(0)->set_label(nul);
       },
       "labels.topics contains a NUL"},
      {"bad UTF-8 language",
       [](v1::LabelUpdate& u) {
         u.mutable_labels()->mutable_language()->set_code("\xC3");
       },
       "labels.language.code"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    v1::LabelUpdate bad = Update("bad", valid);
    c.spoil(bad);
    absl::StatusOr<std::vector<v1::UpdateOutcome>> outcomes =
        store_->UpdateLabels({Update("good", valid), bad});
    EXPECT_EQ(outcomes.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(outcomes.status().message(), HasSubstr("update 1"));
    EXPECT_THAT(outcomes.status().message(), HasSubstr(c.message));
    absl::StatusOr<v1::StoredArticle> got = store_->Get("good");
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->labels().topic_model().sha256(), "topic-a");
  }
  absl::StatusOr<std::vector<v1::UpdateOutcome>> none =
      store_->UpdateLabels({});
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_THAT(*none, IsEmpty());
}

TEST_P(ArticleStoreConformanceTest, RacingUpdatesApplyEachArticleOnce) {
  // Two replicas backfilling the same articles at once, each expecting the
  // old model: every article is updated by exactly one of them.
  constexpr int kArticles = 40;
  std::vector<v1::StoredArticle> articles;
  for (int i = 0; i < kArticles; ++i) {
    articles.push_back(MakeLabeledArticle(absl::StrCat("r", i)));
  }
  PutOk(articles);
  std::unique_ptr<ArticleStore> other = Open();
  ASSERT_NE(other, nullptr);

  std::vector<int> updated(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      ArticleStore* store = t == 0 ? store_.get() : other.get();
      const v1::Labels labels =
          RelabeledAs("en", "sports", 0.5f, absl::StrCat("topic-b", t));
      // Small batches in opposite orders, so the two interleave.
      for (int b = 0; b < kArticles / 5; ++b) {
        std::vector<v1::LabelUpdate> updates;
        for (int i = 0; i < 5; ++i) {
          const int index = b * 5 + i;
          updates.push_back(UpdateIfTopicModel(
              absl::StrCat("r", t == 0 ? index : kArticles - 1 - index), labels,
              "topic-a"));
        }
        absl::StatusOr<std::vector<v1::UpdateOutcome>> outcomes =
            store->UpdateLabels(updates);
        ASSERT_TRUE(outcomes.ok()) << outcomes.status();
        for (v1::UpdateOutcome outcome : *outcomes) {
          updated[t] += outcome == v1::UPDATE_OUTCOME_UPDATED;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(updated[0] + updated[1], kArticles);
  int still_old = 0;
  for (int i = 0; i < kArticles; ++i) {
    absl::StatusOr<v1::StoredArticle> got = store_->Get(absl::StrCat("r", i));
    ASSERT_TRUE(got.ok()) << got.status();
    still_old += got->labels().topic_model().sha256() == "topic-a";
  }
  EXPECT_EQ(still_old, 0);
}

// ---- Full-text search, sorting, grouped counts, reads after a cursor ----

// An article with the given title and body (and published time, if given).
v1::StoredArticle TextArticle(const std::string& id, const std::string& title,
                              const std::string& body,
                              int64_t published_seconds = INT64_MIN) {
  v1::StoredArticle stored = MakeArticle(id);
  stored.mutable_article()->set_title(title);
  stored.mutable_article()->set_body(body);
  if (published_seconds != INT64_MIN) {
    *stored.mutable_article()->mutable_published_at() =
        Seconds(published_seconds);
  }
  return stored;
}

v1::QueryArticlesRequest TextQuery(
    const std::string& text, v1::QuerySort sort = v1::QUERY_SORT_UNSPECIFIED,
    int page_size = 10) {
  v1::QueryArticlesRequest request;
  request.mutable_filter()->set_text(text);
  request.set_sort(sort);
  request.set_page_size(page_size);
  return request;
}

TEST_P(ArticleStoreConformanceTest, TextSearchRanksAndHighlights) {
  PutOk({
      TextArticle("passing", "Weather report",
                  "Rain tomorrow. Diplomats mention ASEAN multilateralism "
                  "once, in passing, between other topics of the week."),
      TextArticle("focused", "ASEAN multilateralism under strain",
                  "ASEAN members debate multilateralism and what "
                  "multilateralism means for ASEAN now."),
      TextArticle("half", "ASEAN summit", "Leaders met in Jakarta."),
      TextArticle("none", "Football", "A match report."),
  });
  absl::StatusOr<v1::QueryArticlesResponse> hits =
      store_->Query(TextQuery("ASEAN multilateralism"));
  ASSERT_TRUE(hits.ok()) << hits.status();
  // Every word must occur; more (and title) occurrences rank higher.
  EXPECT_THAT(Ids(*hits), ElementsAre("focused", "passing"));
  ASSERT_EQ(hits->matches_size(), 2);
  EXPECT_GT(hits->matches(0).relevance(), hits->matches(1).relevance());
  for (const v1::TextMatch& match : hits->matches()) {
    EXPECT_THAT(match.snippet(), HasSubstr("[ASEAN]"));
    EXPECT_THAT(match.snippet(), HasSubstr("[multilateralism]"));
    EXPECT_EQ(match.snippet().find('\n'), std::string::npos);
  }
  // Case does not matter; words match whole (no stemming, no prefixes).
  hits = store_->Query(TextQuery("jakarta"));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), ElementsAre("half"));
  EXPECT_THAT(hits->matches(0).snippet(), HasSubstr("[Jakarta]"));
  hits = store_->Query(TextQuery("multilateral"));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), IsEmpty());
}

TEST_P(ArticleStoreConformanceTest, TextSearchMatchesPhrasesAndDiacritics) {
  PutOk({TextArticle("fr", "Le président élu", "Une élection serrée."),
         TextArticle("swapped", "Élu président", "Autre chose.")});
  absl::StatusOr<v1::QueryArticlesResponse> hits =
      store_->Query(TextQuery("\"président élu\""));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), ElementsAre("fr"));
  // SQLite also folds diacritics (remove_diacritics 2), PostgreSQL's
  // 'simple' configuration does not: only the exact form is portable.
  hits = store_->Query(TextQuery("ÉLECTION", v1::QUERY_SORT_INGESTED));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), ElementsAre("fr"));
}

TEST_P(ArticleStoreConformanceTest, TextIsNeverQuerySyntax) {
  PutOk({TextArticle("a", "Cats AND dogs", "NEAR the (river) OR sea*")});
  // Operators and special characters of FTS5 and tsquery are plain text.
  for (const char* text : {"AND", "cats OR", "NEAR(river)", "sea*", "(river)",
                           "dogs:*", "!cats", "cats & dogs", "river) OR (x",
                           "-cats", "cats^2", "\"the river\" sea"}) {
    absl::StatusOr<v1::QueryArticlesResponse> hits =
        store_->Query(TextQuery(text));
    ASSERT_TRUE(hits.ok()) << text << ": " << hits.status();
  }
  absl::StatusOr<v1::QueryArticlesResponse> hits =
      store_->Query(TextQuery("sea*"));
  ASSERT_TRUE(hits.ok());
  EXPECT_THAT(Ids(*hits), ElementsAre("a"));  // "sea", not a prefix search
}

TEST_P(ArticleStoreConformanceTest, MalformedTextQueriesAreInvalidArgument) {
  PutOk({MakeArticle("a")});
  for (const std::string& text :
       {std::string("\"unbalanced quote"), std::string("a \" b \" c \""),
        std::string("!!! ..."), std::string("   "), std::string(2000, 'x'),
        std::string("nul\0byte", 8), std::string("bad \xff utf8")}) {
    absl::StatusOr<v1::QueryArticlesResponse> hits =
        store_->Query(TextQuery(text));
    EXPECT_EQ(hits.status().code(), absl::StatusCode::kInvalidArgument)
        << absl::CHexEscape(text.substr(0, 40)) << ": " << hits.status();
    v1::CountArticlesRequest count;
    count.mutable_filter()->set_text(text);
    EXPECT_EQ(store_->Count(count).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  absl::StatusOr<v1::QueryArticlesResponse> hits =
      store_->Query(TextQuery("\"unbalanced"));
  EXPECT_THAT(hits.status().message(), HasSubstr("unbalanced double quote"));
}

TEST_P(ArticleStoreConformanceTest, RelevanceSortNeedsText) {
  v1::QueryArticlesRequest request;
  request.set_sort(v1::QUERY_SORT_RELEVANCE);
  absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query(request);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("relevance"));
  request.set_sort(static_cast<v1::QuerySort>(77));
  EXPECT_EQ(store_->Query(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ArticleStoreConformanceTest, SortsByPublishedWithUnknownLast) {
  for (const bool with_text : {false, true}) {
    // Each pass has its own articles, told apart by source.
    const std::string source = with_text ? "text" : "plain";
    auto article = [&](const std::string& id, int64_t published_seconds) {
      v1::StoredArticle stored =
          TextArticle(source + id, "t", "news", published_seconds);
      stored.mutable_article()->set_source(source);
      return stored;
    };
    PutOk({article("old", 1000), article("unknown", INT64_MIN),
           article("new", 3000), article("mid", 2000),
           article("unknown2", INT64_MIN)});
    // Paged two at a time, the order holds across pages.
    v1::QueryArticlesRequest request =
        TextQuery(with_text ? "news" : "", v1::QUERY_SORT_PUBLISHED, 2);
    request.mutable_filter()->set_source(source);
    std::vector<std::string> ids;
    do {
      absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query(request);
      ASSERT_TRUE(page.ok()) << page.status();
      for (const std::string& id : Ids(*page)) ids.push_back(id);
      request.set_page_token(page->next_page_token());
      // Stored while paging, newest published of all: on no later page.
      PutOk({article(absl::StrCat("late", ids.size()), 9999)});
    } while (!request.page_token().empty());
    EXPECT_THAT(ids, ElementsAre(source + "new", source + "mid", source + "old",
                                 source + "unknown2", source + "unknown"));
  }
}

TEST_P(ArticleStoreConformanceTest, PagesByRelevanceWithoutGapsOrRepeats) {
  std::vector<v1::StoredArticle> articles;
  for (int i = 0; i < 7; ++i) {
    // i mentions of "flood": distinct scores, plus two equal ones (ties
    // broken by sequence).
    std::string body = "The river";
    for (int k = 0; k <= i % 5; ++k) body += " flood and water";
    articles.push_back(TextArticle(absl::StrCat("f", i), "Report", body));
  }
  PutOk(articles);
  absl::StatusOr<v1::QueryArticlesResponse> all =
      store_->Query(TextQuery("flood", v1::QUERY_SORT_RELEVANCE, 100));
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->articles_size(), 7);
  for (int i = 1; i < all->matches_size(); ++i) {
    EXPECT_GE(all->matches(i - 1).relevance(), all->matches(i).relevance());
  }
  v1::QueryArticlesRequest request =
      TextQuery("flood", v1::QUERY_SORT_RELEVANCE, 3);
  std::vector<std::string> paged;
  do {
    absl::StatusOr<v1::QueryArticlesResponse> page = store_->Query(request);
    ASSERT_TRUE(page.ok()) << page.status();
    for (const std::string& id : Ids(*page)) paged.push_back(id);
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty());
  EXPECT_EQ(paged, Ids(*all));
  // A token is bound to its sort.
  request = TextQuery("flood", v1::QUERY_SORT_RELEVANCE, 3);
  absl::StatusOr<v1::QueryArticlesResponse> first = store_->Query(request);
  ASSERT_TRUE(first.ok());
  request.set_page_token(first->next_page_token());
  request.set_sort(v1::QUERY_SORT_INGESTED);
  EXPECT_EQ(store_->Query(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ArticleStoreConformanceTest, TextCombinesWithFilters) {
  PutOk({TextArticle("idflood", "Banjir", "flood in Jakarta"),
         MakeArticle("endry", "en", "weather")});
  v1::StoredArticle en = MakeArticle("enflood", "en", "weather");
  en.mutable_article()->set_body("flood warning");
  PutOk({en});
  v1::QueryArticlesRequest request = TextQuery("flood");
  request.mutable_filter()->set_language("en");
  absl::StatusOr<v1::QueryArticlesResponse> hits = store_->Query(request);
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_THAT(Ids(*hits), ElementsAre("enflood"));
  v1::CountArticlesRequest count;
  count.mutable_filter()->set_text("flood");
  absl::StatusOr<v1::CountArticlesResponse> counts = store_->Count(count);
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 2);
  EXPECT_THAT(Counts(counts->by_language()),
              ElementsAre(std::make_pair("en", 1), std::make_pair("id", 1)));
}

TEST_P(ArticleStoreConformanceTest, CountsGroupByEachDimension) {
  constexpr int64_t kDay = 86400;
  const int64_t day0 = 20000 * kDay;  // 2024-10-04
  v1::StoredArticle a = TextArticle("a", "t", "b", day0 + 10);
  a.mutable_article()->set_source("Warta");
  v1::StoredArticle b = TextArticle("b", "t", "b", day0 + kDay - 1);
  b.mutable_article()->set_source("Warta");
  v1::StoredArticle c = TextArticle("c", "t", "b", day0 + 2 * kDay);
  *c.mutable_labels() = MakeArticle("x", "en", "sports").labels();
  v1::StoredArticle d = TextArticle("d", "t", "b");  // published unknown
  *d.mutable_labels() = MakeArticle("x", "en", "").labels();
  v1::StoredArticle e = TextArticle("e", "t", "b", -kDay + 1);  // 1969-12-31
  for (v1::StoredArticle* stored : {&a, &b, &c, &d, &e}) {
    *stored->mutable_ingested_at() = Seconds(day0 + 5);
  }
  *e.mutable_ingested_at() = Seconds(day0 + kDay);
  PutOk({a, b, c, d, e});
  using Pairs = std::vector<std::pair<std::string, int64_t>>;
  auto grouped = [&](v1::CountDimension by,
                     const std::string& topic = "") -> Pairs {
    v1::CountArticlesRequest request;
    request.set_group_by(by);
    request.mutable_filter()->set_topic(topic);
    absl::StatusOr<v1::CountArticlesResponse> counts = store_->Count(request);
    EXPECT_TRUE(counts.ok()) << counts.status();
    if (!counts.ok()) return {};
    EXPECT_EQ(counts->total(), topic.empty() ? 5 : 3);
    EXPECT_THAT(counts->by_language(), IsEmpty());
    return Counts(counts->groups());
  };
  EXPECT_EQ(grouped(v1::COUNT_DIMENSION_LANGUAGE),
            (Pairs{{"id", 3}, {"en", 2}}));
  EXPECT_EQ(grouped(v1::COUNT_DIMENSION_TOPIC),
            (Pairs{{"politics", 3}, {"sports", 1}}));
  EXPECT_EQ(grouped(v1::COUNT_DIMENSION_SOURCE),
            (Pairs{{"antara", 3}, {"Warta", 2}}));
  EXPECT_EQ(grouped(v1::COUNT_DIMENSION_PUBLISHED_DAY),
            (Pairs{{"1969-12-31", 1}, {"2024-10-04", 2}, {"2024-10-06", 1}}));
  EXPECT_EQ(grouped(v1::COUNT_DIMENSION_INGESTED_DAY),
            (Pairs{{"2024-10-04", 4}, {"2024-10-05", 1}}));
  EXPECT_EQ(grouped(v1::COUNT_DIMENSION_PUBLISHED_DAY, "politics"),
            (Pairs{{"1969-12-31", 1}, {"2024-10-04", 2}}));
  v1::CountArticlesRequest bad;
  bad.set_group_by(static_cast<v1::CountDimension>(99));
  EXPECT_EQ(store_->Count(bad).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ArticleStoreConformanceTest, ReadAfterReturnsArrivalsInOrder) {
  absl::StatusOr<ArticlesAfter> empty = store_->ReadAfter({}, 0, 10);
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_THAT(empty->articles, IsEmpty());
  EXPECT_EQ(empty->scanned_through, 0);

  PutOk(
      {MakeArticle("a", "id"), MakeArticle("b", "en"), MakeArticle("c", "id")});
  absl::StatusOr<ArticlesAfter> start = store_->ReadAfter({}, 0, 0);
  ASSERT_TRUE(start.ok()) << start.status();
  const int64_t cursor = start->scanned_through;
  EXPECT_GT(cursor, 0);
  PutOk({MakeArticle("d", "id"), MakeArticle("a", "id")});  // "a" exists
  PutOk({MakeArticle("e", "en"), MakeArticle("f", "id")});

  v1::ArticleFilter indonesian;
  indonesian.set_language("id");
  absl::StatusOr<ArticlesAfter> after =
      store_->ReadAfter(indonesian, cursor, 10);
  ASSERT_TRUE(after.ok()) << after.status();
  std::vector<std::string> ids;
  for (const auto& [sequence, article] : after->articles) {
    EXPECT_GT(sequence, cursor);
    ids.push_back(article.article().id());
  }
  EXPECT_THAT(ids, ElementsAre("d", "f"));
  // Scanned past "e" too, which did not match.
  absl::StatusOr<ArticlesAfter> all = store_->ReadAfter({}, cursor, 10);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->articles.size(), 3u);
  EXPECT_EQ(after->scanned_through, all->articles.back().first);

  // A limit stops at the last article returned; resuming there continues.
  absl::StatusOr<ArticlesAfter> first = store_->ReadAfter({}, 0, 4);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->articles.size(), 4u);
  EXPECT_EQ(first->scanned_through, first->articles.back().first);
  absl::StatusOr<ArticlesAfter> rest =
      store_->ReadAfter({}, first->scanned_through, 4);
  ASSERT_TRUE(rest.ok());
  std::vector<std::string> rest_ids;
  for (const auto& entry : rest->articles) {
    rest_ids.push_back(entry.second.article().id());
  }
  EXPECT_THAT(rest_ids, ElementsAre("e", "f"));

  v1::ArticleFilter text;
  text.set_text("body");
  EXPECT_EQ(store_->ReadAfter(text, 0, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->ReadAfter({}, -1, 10).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_P(ArticleStoreConformanceTest, ReadAfterSeesWritesOfAnotherStore) {
  // A second replica (or a restarted store) on the same database: its
  // writes are read in commit order, so a cursor never skips one.
  std::unique_ptr<ArticleStore> other = Open();
  ASSERT_NE(other, nullptr);
  int64_t cursor = 0;
  std::vector<std::string> seen;
  for (int round = 0; round < 5; ++round) {
    ArticleStore* writer = round % 2 == 0 ? store_.get() : other.get();
    ASSERT_TRUE(writer
                    ->Put({MakeArticle(absl::StrCat("r", round, "a")),
                           MakeArticle(absl::StrCat("r", round, "b"))})
                    .ok());
    absl::StatusOr<ArticlesAfter> read = store_->ReadAfter({}, cursor, 100);
    ASSERT_TRUE(read.ok()) << read.status();
    for (const auto& entry : read->articles) {
      seen.push_back(entry.second.article().id());
    }
    cursor = read->scanned_through;
  }
  EXPECT_THAT(seen, ElementsAre("r0a", "r0b", "r1a", "r1b", "r2a", "r2b", "r3a",
                                "r3b", "r4a", "r4b"));
}

// ---- The shared helpers (no backend involved) ----

TEST(ArticleStoreHelpersTest, PageSizeDefaultsTo50AndIsCappedAt1000) {
  EXPECT_EQ(*EffectivePageSize(0), 50);
  EXPECT_EQ(*EffectivePageSize(7), 7);
  EXPECT_EQ(*EffectivePageSize(5000), 1000);
  EXPECT_EQ(EffectivePageSize(-1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ArticleStoreHelpersTest, TextQueriesSplitIntoWordsAndPhrases) {
  EXPECT_THAT(*ParseTextQuery(""), IsEmpty());
  EXPECT_THAT(*ParseTextQuery("  ASEAN   multilateralism "),
              ElementsAre("ASEAN", "multilateralism"));
  EXPECT_THAT(*ParseTextQuery("banjir \"kota  Jakarta\" - !"),
              ElementsAre("banjir", "kota Jakarta"));
  EXPECT_THAT(*ParseTextQuery("ñandú"), ElementsAre("ñandú"));
  EXPECT_EQ(ParseTextQuery("\"open").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseTextQuery("\"\" ...").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::string many;
  for (int i = 0; i < 33; ++i) absl::StrAppend(&many, "w", i, " ");
  EXPECT_EQ(ParseTextQuery(many).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ArticleStoreHelpersTest, DaysAreUtcCalendarDates) {
  EXPECT_EQ(DayLabel(0), "1970-01-01");
  EXPECT_EQ(DayLabel(-1), "1969-12-31");
  EXPECT_EQ(DayLabel(20000), "2024-10-04");
  EXPECT_EQ(DayLabel(-719162), "0001-01-01");
}

TEST(ArticleStoreHelpersTest, PageTokensOfEverySortRoundTrip) {
  PageCursor cursor;
  cursor.sort = v1::QUERY_SORT_RELEVANCE;
  cursor.relevance = 0.1 + 0.2;  // not exactly representable in decimal
  cursor.sequence = 9;
  cursor.max_sequence = 12;
  absl::StatusOr<PageCursor> decoded =
      DecodePageToken(EncodePageToken(cursor), v1::QUERY_SORT_RELEVANCE);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->relevance, cursor.relevance);
  EXPECT_EQ(decoded->max_sequence, 12);
  EXPECT_EQ(DecodePageToken(EncodePageToken(cursor), v1::QUERY_SORT_PUBLISHED)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeWatchCursor("42").value_or(-1), 42);
  EXPECT_EQ(DecodeWatchCursor("x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeWatchCursor("-3").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ArticleStoreHelpersTest, PageTokensRoundTrip) {
  const PageCursor cursor{-1234567, 42};
  absl::StatusOr<PageCursor> decoded = DecodePageToken(EncodePageToken(cursor));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->ingested_at_micros, cursor.ingested_at_micros);
  EXPECT_EQ(decoded->sequence, cursor.sequence);
}

}  // namespace
}  // namespace kabar::store
