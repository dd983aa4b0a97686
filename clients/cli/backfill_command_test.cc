// Copyright kabar authors.
#include "clients/cli/backfill_command.h"

#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kabar::cli {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::ModelIdentity Model(const std::string& name, const std::string& sha256) {
  v1::ModelIdentity model;
  model.set_name(name);
  model.set_sha256(sha256);
  return model;
}

BackfillTarget Target(const std::string& topic_sha,
                      const std::string& language_sha = "lang-1") {
  return {Model("lid.176.ftz", language_sha), Model("topic.ftz", topic_sha)};
}

v1::StoredArticle MakeArticle(const std::string& id,
                              const std::string& topic_sha,
                              const std::string& language_sha = "lang-1",
                              size_t body_bytes = 10) {
  v1::StoredArticle stored;
  stored.mutable_article()->set_id(id);
  stored.mutable_article()->set_title(absl::StrCat("title ", id));
  stored.mutable_article()->set_body(std::string(body_bytes, 'x'));
  v1::Labels& labels = *stored.mutable_labels();
  labels.mutable_language()->set_code("en");
  labels.add_topics()->set_label("old");
  *labels.mutable_language_model() = Model("lid.176.ftz", language_sha);
  *labels.mutable_topic_model() = Model("topic.ftz", topic_sha);
  return stored;
}

google::protobuf::RepeatedPtrField<v1::StoredArticle> Page(
    const std::vector<v1::StoredArticle>& articles) {
  return {articles.begin(), articles.end()};
}

// The classifier and the store in memory. Pages are offsets into
// `articles`; ClassifyBatch labels every text "new" with `classifier_target`'s
// models; UpdateLabels applies the compare-and-set rules.
class FakeServices {
 public:
  std::vector<v1::StoredArticle> articles;
  // What GetModels reports.
  BackfillTarget reported = Target("topic-2");
  // What ClassifyBatch labels with (differs from `reported` after a reload).
  BackfillTarget classifier_target = Target("topic-2");
  absl::Status classify_error;
  // Runs before each UpdateLabels, e.g. to play a concurrent backfill.
  std::function<void()> before_update;

  v1::QueryArticlesRequest last_query;
  std::vector<int> classify_batch_sizes;
  int update_calls = 0;

  BackfillServices Bind() {
    BackfillServices services;
    services.get_models = [this]() {
      v1::GetModelsResponse response;
      v1::ModelInfo* language = response.add_models();
      language->set_role("language");
      *language->mutable_identity() = reported.language_model;
      v1::ModelInfo* topic = response.add_models();
      topic->set_role("topic");
      *topic->mutable_identity() = reported.topic_model;
      return absl::StatusOr<v1::GetModelsResponse>(response);
    };
    services.query_articles = [this](const v1::QueryArticlesRequest& request) {
      last_query = request;
      size_t offset = 0;
      if (!request.page_token().empty()) {
        EXPECT_TRUE(absl::SimpleAtoi(request.page_token(), &offset));
      }
      v1::QueryArticlesResponse response;
      const size_t end = std::min(
          articles.size(), offset + static_cast<size_t>(request.page_size()));
      for (size_t i = offset; i < end; ++i) {
        *response.add_articles() = articles[i];
      }
      if (end < articles.size())
        response.set_next_page_token(absl::StrCat(end));
      return absl::StatusOr<v1::QueryArticlesResponse>(response);
    };
    services.classify_batch = [this](const v1::ClassifyBatchRequest& request)
        -> absl::StatusOr<v1::ClassifyBatchResponse> {
      if (!classify_error.ok()) return classify_error;
      classify_batch_sizes.push_back(request.texts_size());
      v1::ClassifyBatchResponse response;
      for (const v1::TextToClassify& text : request.texts()) {
        EXPECT_THAT(text.title(), HasSubstr("title "));
        EXPECT_FALSE(text.body().empty());
        v1::Labels* labels = response.add_labels();
        labels->mutable_language()->set_code("en");
        labels->add_topics()->set_label("new");
        *labels->mutable_language_model() = classifier_target.language_model;
        *labels->mutable_topic_model() = classifier_target.topic_model;
      }
      return response;
    };
    services.update_labels = [this](const v1::UpdateLabelsRequest& request) {
      ++update_calls;
      if (before_update) before_update();
      v1::UpdateLabelsResponse response;
      for (const v1::LabelUpdate& update : request.updates()) {
        v1::UpdateResult* result = response.add_results();
        result->set_id(update.id());
        v1::StoredArticle* stored = Find(update.id());
        if (stored == nullptr) {
          result->set_outcome(v1::UPDATE_OUTCOME_NOT_FOUND);
        } else if (update.expected_topic_model_sha256() !=
                       stored->labels().topic_model().sha256() ||
                   update.expected_language_model_sha256() !=
                       stored->labels().language_model().sha256()) {
          result->set_outcome(v1::UPDATE_OUTCOME_SKIPPED);
        } else {
          *stored->mutable_labels() = update.labels();
          result->set_outcome(v1::UPDATE_OUTCOME_UPDATED);
        }
      }
      return absl::StatusOr<v1::UpdateLabelsResponse>(response);
    };
    return services;
  }

  v1::StoredArticle* Find(const std::string& id) {
    for (v1::StoredArticle& stored : articles) {
      if (stored.article().id() == id) return &stored;
    }
    return nullptr;
  }

  int CountWithTopicModel(const std::string& sha) const {
    int count = 0;
    for (const v1::StoredArticle& stored : articles) {
      count += stored.labels().topic_model().sha256() == sha;
    }
    return count;
  }
};

TEST(BackfillTest, TargetComesFromTheReportedModels) {
  FakeServices fake;
  absl::StatusOr<v1::GetModelsResponse> models = fake.Bind().get_models();
  ASSERT_TRUE(models.ok());
  absl::StatusOr<BackfillTarget> target = TargetFromModels(*models);
  ASSERT_TRUE(target.ok()) << target.status();
  EXPECT_EQ(target->topic_model.sha256(), "topic-2");
  EXPECT_EQ(target->language_model.sha256(), "lang-1");

  models->mutable_models()->RemoveLast();
  EXPECT_EQ(TargetFromModels(*models).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(TargetFromModels({}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(BackfillTest, NeedsBackfillWhenEitherModelDiffers) {
  struct Case {
    const char* name;
    v1::StoredArticle article;
    bool stale;
  };
  v1::StoredArticle unlabeled = MakeArticle("u", "");
  unlabeled.mutable_labels()->clear_language_model();
  unlabeled.mutable_labels()->clear_topic_model();
  const Case cases[] = {
      {"current", MakeArticle("a", "topic-2"), false},
      {"old topic model", MakeArticle("b", "topic-1"), true},
      {"old language model", MakeArticle("c", "topic-2", "lang-0"), true},
      {"no model identities", unlabeled, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(NeedsBackfill(c.article.labels(), Target("topic-2")), c.stale);
  }
}

TEST(BackfillTest, PlansOnlyStaleArticlesInBoundedBatches) {
  std::vector<v1::StoredArticle> articles;
  for (int i = 0; i < 7; ++i) {
    articles.push_back(
        MakeArticle(absl::StrCat(i), i % 3 == 0 ? "topic-2" : "topic-1"));
  }
  // Stale: 1, 2, 4, 5.
  BatchLimits limits;
  limits.max_texts = 3;
  EXPECT_THAT(PlanBackfillBatches(Page(articles), Target("topic-2"), limits),
              ElementsAre(ElementsAre(1, 2, 4), ElementsAre(5)));
  limits.max_texts = 0;  // counts as 1
  EXPECT_EQ(
      PlanBackfillBatches(Page(articles), Target("topic-2"), limits).size(), 4);
  EXPECT_THAT(PlanBackfillBatches(Page(articles), Target("topic-1", "lang-1"),
                                  BatchLimits()),
              ElementsAre(ElementsAre(0, 3, 6)));
  EXPECT_THAT(PlanBackfillBatches(Page({}), Target("topic-2"), BatchLimits()),
              IsEmpty());
}

TEST(BackfillTest, BatchesStayUnderTheByteLimit) {
  // Titles are "title N" (7 bytes) plus bodies of the given size.
  const std::vector<v1::StoredArticle> articles = {
      MakeArticle("0", "old", "lang-1", 43),   // 50 bytes
      MakeArticle("1", "old", "lang-1", 43),   // 50
      MakeArticle("2", "old", "lang-1", 493),  // 500: over the limit alone
      MakeArticle("3", "old", "lang-1", 3),    // 10
      MakeArticle("4", "old", "lang-1", 83),   // 90
      MakeArticle("5", "old", "lang-1", 3),    // 10
  };
  BatchLimits limits;
  limits.max_bytes = 100;
  EXPECT_THAT(PlanBackfillBatches(Page(articles), Target("topic-2"), limits),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2), ElementsAre(3, 4),
                          ElementsAre(5)));
}

TEST(BackfillTest, RelabelsEveryStaleArticleAndASecondRunNothing) {
  FakeServices fake;
  for (int i = 0; i < 1234; ++i) {
    fake.articles.push_back(MakeArticle(absl::StrCat("a", i),
                                        i % 3 == 0 ? "topic-2" : "topic-1",
                                        i % 7 == 0 ? "lang-0" : "lang-1"));
  }
  int stale = 0;
  for (const v1::StoredArticle& stored : fake.articles) {
    stale += NeedsBackfill(stored.labels(), Target("topic-2"));
  }
  BackfillOptions options;
  options.filter.set_language("en");
  options.batch.max_texts = 64;
  std::ostringstream messages;

  BackfillSummary summary = RunBackfill(fake.Bind(), options, &messages);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.ExitCode(), 0);
  EXPECT_EQ(summary.scanned, 1234);
  EXPECT_EQ(summary.stale, stale);
  EXPECT_EQ(summary.updated, stale);
  EXPECT_EQ(summary.skipped, 0);
  EXPECT_EQ(summary.not_found, 0);
  EXPECT_EQ(summary.other_model, 0);
  EXPECT_EQ(fake.CountWithTopicModel("topic-2"), 1234);
  for (const v1::StoredArticle& stored : fake.articles) {
    EXPECT_FALSE(NeedsBackfill(stored.labels(), Target("topic-2")));
  }
  // The filter and page size reach the store; batches stay bounded.
  EXPECT_EQ(fake.last_query.filter().language(), "en");
  EXPECT_EQ(fake.last_query.page_size(), 500);
  for (int size : fake.classify_batch_sizes) EXPECT_LE(size, 64);
  EXPECT_EQ(messages.str(), "");  // no progress line unless asked
  EXPECT_THAT(summary.ToString(),
              HasSubstr(absl::StrCat("scanned 1234, stale ", stale,
                                     ", updated ", stale, ", skipped 0")));
  EXPECT_THAT(summary.ToString(), HasSubstr("topic topic.ftz@topic-2"));

  fake.classify_batch_sizes.clear();
  summary = RunBackfill(fake.Bind(), options, &messages);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.scanned, 1234);
  EXPECT_EQ(summary.stale, 0);
  EXPECT_EQ(summary.updated, 0);
  EXPECT_THAT(fake.classify_batch_sizes, IsEmpty());
}

TEST(BackfillTest, DryRunOnlyCounts) {
  FakeServices fake;
  for (int i = 0; i < 10; ++i) {
    fake.articles.push_back(
        MakeArticle(absl::StrCat(i), i < 4 ? "topic-1" : "topic-2"));
  }
  BackfillOptions options;
  options.dry_run = true;
  options.page_size = 3;
  const BackfillSummary summary = RunBackfill(fake.Bind(), options, nullptr);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.scanned, 10);
  EXPECT_EQ(summary.stale, 4);
  EXPECT_EQ(summary.updated, 0);
  EXPECT_THAT(fake.classify_batch_sizes, IsEmpty());
  EXPECT_EQ(fake.update_calls, 0);
  EXPECT_EQ(fake.CountWithTopicModel("topic-1"), 4);
  EXPECT_THAT(summary.ToString(),
              HasSubstr("dry run: scanned 10, would update 4"));
}

TEST(BackfillTest, ArticlesRelabeledMeanwhileAreSkippedOrNotFound) {
  FakeServices fake;
  for (int i = 0; i < 5; ++i) {
    fake.articles.push_back(MakeArticle(absl::StrCat(i), "topic-1"));
  }
  fake.before_update = [&fake]() {
    if (fake.update_calls != 1) return;
    // Another backfill got to article 1 first; article 3 was deleted.
    fake.Find("1")->mutable_labels()->mutable_topic_model()->set_sha256(
        "topic-2");
    fake.Find("3")->mutable_article()->set_id("gone");
  };
  const BackfillSummary summary =
      RunBackfill(fake.Bind(), BackfillOptions(), nullptr);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.stale, 5);
  EXPECT_EQ(summary.updated, 3);
  EXPECT_EQ(summary.skipped, 1);
  EXPECT_EQ(summary.not_found, 1);
  EXPECT_EQ(summary.ExitCode(), 0);
}

TEST(BackfillTest, LabelsFromAModelLoadedMeanwhileAreCounted) {
  FakeServices fake;
  for (int i = 0; i < 3; ++i) {
    fake.articles.push_back(MakeArticle(absl::StrCat(i), "topic-1"));
  }
  fake.classifier_target = Target("topic-3");  // reloaded after GetModels
  const BackfillSummary summary =
      RunBackfill(fake.Bind(), BackfillOptions(), nullptr);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_EQ(summary.updated, 3);
  EXPECT_EQ(summary.other_model, 3);
  EXPECT_THAT(summary.ToString(), HasSubstr("run the backfill again"));
}

TEST(BackfillTest, AFailedCallStopsTheRun) {
  FakeServices fake;
  for (int i = 0; i < 3; ++i) {
    fake.articles.push_back(MakeArticle(absl::StrCat(i), "topic-1"));
  }
  fake.classify_error =
      absl::UnavailableError("classifier at 127.0.0.1:1: connection refused");
  const BackfillSummary summary =
      RunBackfill(fake.Bind(), BackfillOptions(), nullptr);
  EXPECT_EQ(summary.status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(summary.ExitCode(), 1);
  EXPECT_EQ(summary.updated, 0);
  EXPECT_EQ(fake.update_calls, 0);
  EXPECT_EQ(fake.CountWithTopicModel("topic-1"), 3);
}

TEST(BackfillTest, ShowsProgressWhenAsked) {
  FakeServices fake;
  fake.articles.push_back(MakeArticle("a", "topic-1"));
  BackfillOptions options;
  options.show_progress = true;
  std::ostringstream messages;
  const BackfillSummary summary = RunBackfill(fake.Bind(), options, &messages);
  ASSERT_TRUE(summary.status.ok()) << summary.status;
  EXPECT_THAT(messages.str(), HasSubstr("backfill: scanned 1, stale 1"));
  // The line is erased at the end, so the summary starts on a clean line.
  EXPECT_THAT(messages.str(), ::testing::EndsWith("\r\x1b[K"));
}

}  // namespace
}  // namespace kabar::cli
