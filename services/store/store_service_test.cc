// Copyright kabar authors.
// StoreServiceImpl served in-process on a free port over a real SQLite file,
// driven through the C++ StoreClient as other services would drive it.
#include "services/store/store_service.h"

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
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

}  // namespace
}  // namespace kabar::store
