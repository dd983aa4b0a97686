// Copyright kabar authors.
// StoreServiceImpl served in-process on a free port over a real SQLite file,
// driven through the C++ StoreClient as other services would drive it.
#include "services/store/store_service.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/server_runner.h"
#include "services/store/sqlite_article_store.h"

namespace kabar::store {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

v1::StoredArticle MakeArticle(const std::string& id) {
  v1::StoredArticle stored;
  stored.mutable_article()->set_id(id);
  stored.mutable_article()->set_source("antara");
  stored.mutable_article()->set_body(absl::StrCat("Body of ", id, "."));
  stored.mutable_labels()->mutable_language()->set_code("id");
  stored.mutable_labels()->mutable_language()->set_confidence(0.9f);
  return stored;
}

class StoreServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = testing::TempDir() + "kabar_store_service_XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;

    SqliteArticleStore::Options store_options;
    store_options.path = dir_ + "/articles.db";
    absl::StatusOr<std::unique_ptr<SqliteArticleStore>> store =
        SqliteArticleStore::Create(store_options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);

    service_ = std::make_unique<StoreServiceImpl>(store_.get(),
                                                  StoreServiceImpl::Options{2});
    common::ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.health_service_name = "kabar.v1.StoreService";
    server_options.shutdown_grace = absl::Seconds(1);
    absl::StatusOr<std::unique_ptr<common::ServerRunner>> runner =
        common::ServerRunner::Start(server_options, {service_.get()});
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(*runner);

    address_ = absl::StrCat("127.0.0.1:", runner_->port());
    client::ClientOptions client_options;
    client_options.address = address_;
    client_options.timeout = absl::Seconds(10);
    client_ = std::make_unique<client::StoreClient>(client_options);
  }

  void TearDown() override {
    // The server goes first: it must stop calling into the service, and the
    // service into the store.
    runner_.reset();
    service_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::string address_;
  std::unique_ptr<SqliteArticleStore> store_;
  std::unique_ptr<StoreServiceImpl> service_;
  std::unique_ptr<common::ServerRunner> runner_;
  std::unique_ptr<client::StoreClient> client_;
};

TEST_F(StoreServiceTest, ReportsServingOnTheHealthService) {
  EXPECT_TRUE(
      client::CheckHealth(address_, "kabar.v1.StoreService", absl::Seconds(5))
          .ok());
}

TEST_F(StoreServiceTest, PutThenGetAndQueryOverTheWire) {
  v1::PutArticlesRequest put;
  *put.add_articles() = MakeArticle("a1");
  *put.add_articles() = MakeArticle("a2");
  *put.add_articles() = MakeArticle("a1");
  absl::StatusOr<v1::PutArticlesResponse> put_response =
      client_->PutArticles(put);
  ASSERT_TRUE(put_response.ok()) << put_response.status();
  ASSERT_EQ(put_response->results_size(), 3);
  EXPECT_EQ(put_response->results(0).id(), "a1");
  EXPECT_EQ(put_response->results(0).outcome(), v1::PUT_OUTCOME_INSERTED);
  EXPECT_EQ(put_response->results(1).id(), "a2");
  EXPECT_EQ(put_response->results(1).outcome(), v1::PUT_OUTCOME_INSERTED);
  EXPECT_EQ(put_response->results(2).id(), "a1");
  EXPECT_EQ(put_response->results(2).outcome(), v1::PUT_OUTCOME_ALREADY_EXISTS);

  absl::StatusOr<v1::StoredArticle> got = client_->GetArticle("a2");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->article().body(), "Body of a2.");
  EXPECT_TRUE(got->has_ingested_at());

  v1::QueryArticlesRequest query;
  query.mutable_filter()->set_language("id");
  query.set_page_size(1);
  absl::StatusOr<v1::QueryArticlesResponse> page =
      client_->QueryArticles(query);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->articles_size(), 1);
  EXPECT_EQ(page->articles(0).article().id(), "a2");
  query.set_page_token(page->next_page_token());
  page = client_->QueryArticles(query);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->articles_size(), 1);
  EXPECT_EQ(page->articles(0).article().id(), "a1");
  EXPECT_EQ(page->next_page_token(), "");

  absl::StatusOr<v1::CountArticlesResponse> counts =
      client_->CountArticles(v1::CountArticlesRequest());
  ASSERT_TRUE(counts.ok()) << counts.status();
  EXPECT_EQ(counts->total(), 2);
  ASSERT_EQ(counts->by_language_size(), 1);
  EXPECT_EQ(counts->by_language(0).label(), "id");
  EXPECT_EQ(counts->by_language(0).count(), 2);
}

TEST_F(StoreServiceTest, BadRequestsComeBackWithClearCodes) {
  v1::QueryArticlesRequest query;
  query.set_page_token("not a token");
  absl::StatusOr<v1::QueryArticlesResponse> page =
      client_->QueryArticles(query);
  EXPECT_EQ(page.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(page.status().message(), HasSubstr("page_token"));

  query.set_page_token("");
  query.set_page_size(-1);
  EXPECT_EQ(client_->QueryArticles(query).status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::PutArticlesRequest put;
  *put.add_articles() = MakeArticle("a1");
  put.add_articles()->mutable_article()->set_id("no-body");
  absl::StatusOr<v1::PutArticlesResponse> put_response =
      client_->PutArticles(put);
  EXPECT_EQ(put_response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(put_response.status().message(), HasSubstr("no-body"));

  absl::StatusOr<v1::StoredArticle> got = client_->GetArticle("a1");
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->GetArticle("").status().code(),
            absl::StatusCode::kInvalidArgument);

  v1::CountArticlesRequest count;
  count.mutable_filter()->set_min_topic_confidence(2.0f);
  EXPECT_EQ(client_->CountArticles(count).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreServiceTest, EmptyBatchIsAccepted) {
  absl::StatusOr<v1::PutArticlesResponse> put_response =
      client_->PutArticles(v1::PutArticlesRequest());
  ASSERT_TRUE(put_response.ok()) << put_response.status();
  EXPECT_EQ(put_response->results_size(), 0);
}

TEST_F(StoreServiceTest, UpdateLabelsOverTheWire) {
  v1::PutArticlesRequest put;
  *put.add_articles() = MakeArticle("a1");
  put.mutable_articles(0)->mutable_labels()->mutable_topic_model()->set_sha256(
      "old");
  ASSERT_TRUE(client_->PutArticles(put).ok());

  v1::UpdateLabelsRequest request;
  for (const char* id : {"a1", "a1", "nope"}) {
    v1::LabelUpdate* update = request.add_updates();
    update->set_id(id);
    update->mutable_labels()->mutable_language()->set_code("ms");
    update->mutable_labels()->mutable_topic_model()->set_sha256("new");
    update->set_expected_topic_model_sha256("old");
  }
  absl::StatusOr<v1::UpdateLabelsResponse> response =
      client_->UpdateLabels(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 3);
  EXPECT_EQ(response->results(0).id(), "a1");
  EXPECT_EQ(response->results(0).outcome(), v1::UPDATE_OUTCOME_UPDATED);
  EXPECT_EQ(response->results(1).outcome(), v1::UPDATE_OUTCOME_SKIPPED);
  EXPECT_EQ(response->results(2).id(), "nope");
  EXPECT_EQ(response->results(2).outcome(), v1::UPDATE_OUTCOME_NOT_FOUND);
  absl::StatusOr<v1::StoredArticle> got = client_->GetArticle("a1");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->labels().language().code(), "ms");

  request.mutable_updates(0)->clear_labels();
  EXPECT_EQ(client_->UpdateLabels(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// ---- WatchArticles ----

// Reads from a watch with a time limit: after `timeout` the call is
// cancelled, so a missing message fails the test instead of hanging it.
class WatchReader {
 public:
  WatchReader(const client::StoreClient& client,
              const v1::WatchArticlesRequest& request,
              absl::Duration timeout = absl::Seconds(20))
      : call_(client.WatchArticles(request)), watchdog_([this, timeout] {
          if (!done_.WaitForNotificationWithTimeout(timeout)) call_->Cancel();
        }) {}
  ~WatchReader() {
    done_.Notify();
    watchdog_.join();
    call_->Cancel();
  }

  // The next message, or the final status when the stream ended.
  absl::StatusOr<v1::WatchArticlesResponse> Next() {
    v1::WatchArticlesResponse message;
    if (call_->Read(&message)) return message;
    absl::Status status = call_->Finish();
    if (status.ok()) status = absl::OutOfRangeError("stream ended with OK");
    return status;
  }

  // The ids of the next `count` articles; stops at the first error.
  std::vector<std::string> NextIds(int count, std::string* last_cursor) {
    std::vector<std::string> ids;
    while (static_cast<int>(ids.size()) < count) {
      absl::StatusOr<v1::WatchArticlesResponse> message = Next();
      if (!message.ok()) {
        ADD_FAILURE() << message.status();
        break;
      }
      EXPECT_TRUE(message->has_article());
      ids.push_back(message->article().article().id());
      *last_cursor = message->cursor();
    }
    return ids;
  }

 private:
  const std::unique_ptr<client::WatchCall> call_;
  absl::Notification done_;
  std::thread watchdog_;
};

void Put(const client::StoreClient& client, const std::vector<std::string>& ids,
         const std::string& language = "id") {
  v1::PutArticlesRequest put;
  for (const std::string& id : ids) {
    v1::StoredArticle* stored = put.add_articles();
    *stored = MakeArticle(id);
    stored->mutable_labels()->mutable_language()->set_code(language);
  }
  absl::StatusOr<v1::PutArticlesResponse> response = client.PutArticles(put);
  ASSERT_TRUE(response.ok()) << response.status();
}

TEST_F(StoreServiceTest, WatchPushesArrivalsAndResumesFromACursor) {
  Put(*client_, {"before"});
  std::string cursor;
  {
    WatchReader watch(*client_, v1::WatchArticlesRequest());
    // The first message only says where the stream starts: after "before".
    absl::StatusOr<v1::WatchArticlesResponse> start = watch.Next();
    ASSERT_TRUE(start.ok()) << start.status();
    EXPECT_FALSE(start->has_article());
    EXPECT_FALSE(start->cursor().empty());
    Put(*client_, {"a", "b"});
    Put(*client_, {"a", "c"});  // "a" is a duplicate: not pushed again
    EXPECT_THAT(watch.NextIds(3, &cursor), ElementsAre("a", "b", "c"));
  }
  // Stored while nobody watched: a watch from the cursor gets exactly those.
  Put(*client_, {"d", "e"});
  v1::WatchArticlesRequest resume;
  resume.set_cursor(cursor);
  WatchReader watch(*client_, resume);
  absl::StatusOr<v1::WatchArticlesResponse> start = watch.Next();
  ASSERT_TRUE(start.ok()) << start.status();
  EXPECT_EQ(start->cursor(), cursor);
  EXPECT_THAT(watch.NextIds(2, &cursor), ElementsAre("d", "e"));
  Put(*client_, {"f"});
  EXPECT_THAT(watch.NextIds(1, &cursor), ElementsAre("f"));
}

TEST_F(StoreServiceTest, WatchPushesOnlyMatchingArticles) {
  v1::WatchArticlesRequest request;
  request.mutable_filter()->set_language("en");
  WatchReader watch(*client_, request);
  ASSERT_TRUE(watch.Next().ok());
  Put(*client_, {"id1", "id2"}, "id");
  Put(*client_, {"en1"}, "en");
  Put(*client_, {"id3"}, "id");
  Put(*client_, {"en2"}, "en");
  std::string cursor;
  EXPECT_THAT(watch.NextIds(2, &cursor), ElementsAre("en1", "en2"));
}

TEST_F(StoreServiceTest, WatchDeliversLargeBacklogsInOrder) {
  // More than one read batch: the stream buffers a batch at a time.
  std::vector<std::string> ids;
  for (int i = 0; i < 250; ++i) ids.push_back(absl::StrCat("n", 1000 + i));
  v1::WatchArticlesRequest request;
  request.set_cursor("0");  // from the very beginning
  Put(*client_, ids);
  WatchReader watch(*client_, request);
  ASSERT_TRUE(watch.Next().ok());
  std::string cursor;
  EXPECT_EQ(watch.NextIds(250, &cursor), ids);
}

TEST_F(StoreServiceTest, WatchRefusesBadCursorsAndTextFilters) {
  v1::WatchArticlesRequest request;
  request.set_cursor("yesterday");
  absl::StatusOr<v1::WatchArticlesResponse> message =
      WatchReader(*client_, request).Next();
  EXPECT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(message.status().message(), HasSubstr("cursor"));
  request.set_cursor("");
  request.mutable_filter()->set_text("banjir");
  message = WatchReader(*client_, request).Next();
  EXPECT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument);
  request.mutable_filter()->set_text("");
  request.mutable_filter()->set_min_topic_confidence(2);
  message = WatchReader(*client_, request).Next();
  EXPECT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(StoreServiceTest, AnOpenWatchDoesNotHoldUpShutdown) {
  WatchReader watch(*client_, v1::WatchArticlesRequest());
  ASSERT_TRUE(watch.Next().ok());
  const absl::Time start = absl::Now();
  runner_->Shutdown();
  runner_.reset();  // waits for in-flight calls, up to shutdown_grace (1s)
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  absl::StatusOr<v1::WatchArticlesResponse> end = watch.Next();
  EXPECT_FALSE(end.ok());
  // Clients reconnect on these.
  EXPECT_TRUE(end.status().code() == absl::StatusCode::kUnavailable ||
              end.status().code() == absl::StatusCode::kCancelled)
      << end.status();
}

TEST_F(StoreServiceTest, QueryAndCountCarryTextSortAndGrouping) {
  v1::PutArticlesRequest put;
  *put.add_articles() = MakeArticle("a1");
  put.mutable_articles(0)->mutable_article()->set_title("Banjir di Jakarta");
  *put.add_articles() = MakeArticle("a2");
  ASSERT_TRUE(client_->PutArticles(put).ok());
  v1::QueryArticlesRequest query;
  query.mutable_filter()->set_text("jakarta");
  absl::StatusOr<v1::QueryArticlesResponse> page =
      client_->QueryArticles(query);
  ASSERT_TRUE(page.ok()) << page.status();
  ASSERT_EQ(page->articles_size(), 1);
  ASSERT_EQ(page->matches_size(), 1);
  EXPECT_THAT(page->matches(0).snippet(), HasSubstr("[Jakarta]"));
  query.mutable_filter()->set_text("\"jakarta");
  EXPECT_EQ(client_->QueryArticles(query).status().code(),
            absl::StatusCode::kInvalidArgument);
  query.mutable_filter()->set_text("");
  query.set_sort(v1::QUERY_SORT_RELEVANCE);
  EXPECT_EQ(client_->QueryArticles(query).status().code(),
            absl::StatusCode::kInvalidArgument);
  v1::CountArticlesRequest count;
  count.set_group_by(v1::COUNT_DIMENSION_SOURCE);
  absl::StatusOr<v1::CountArticlesResponse> counts =
      client_->CountArticles(count);
  ASSERT_TRUE(counts.ok()) << counts.status();
  ASSERT_EQ(counts->groups_size(), 1);
  EXPECT_EQ(counts->groups(0).label(), "antara");
  EXPECT_EQ(counts->groups(0).count(), 2);
}

}  // namespace
}  // namespace kabar::store
