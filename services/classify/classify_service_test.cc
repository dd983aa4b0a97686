// Copyright kabar authors.
// Specification of the classify service at its gRPC edge: the real service
// in-process on 127.0.0.1:0, driven through kabar::client::ClassifyClient.
// The language model is the real lid.176.ftz when fetched (language
// assertions are skipped otherwise); the topic model is tiny and trained
// per test.
#include "services/classify/classify_service.h"

#include <grpcpp/client_context.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/classify/fasttext_classifier.h"
#include "services/classify/testing/test_models.h"
#include "services/common/server_runner.h"
#include "services/common/sha256.h"
#include "services/common/status_util.h"

namespace kabar::classify {
namespace {

using ::testing::HasSubstr;
using ::testing::SizeIs;

class ClassifyServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    options_.language_model_path = testing::RealLanguageModelPath();
    options_.topic_model_path = dir_ + "/topic.bin";
    ASSERT_TRUE(testing::TrainTinyTopicModel(options_.topic_model_path).ok());
    if (options_.language_model_path.empty()) {
      // The plumbing is testable without lid.176; language codes are not.
      options_.language_model_path = options_.topic_model_path;
    }
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry =
        ModelRegistry::Create(
            [options = options_]()
                -> absl::StatusOr<std::unique_ptr<const Classifier>> {
              return FastTextClassifier::Create(options);
            });
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = std::move(registry).value();

    ClassifierServiceImpl::Options service_options;
    service_options.num_threads = 2;
    service_ = std::make_unique<ClassifierServiceImpl>(registry_.get(),
                                                       service_options);
    common::ServerOptions server_options;
    server_options.listen = "127.0.0.1:0";
    server_options.health_service_name = kClassifierServiceName;
    absl::StatusOr<std::unique_ptr<common::ServerRunner>> runner =
        common::ServerRunner::Start(server_options, {service_.get()});
    ASSERT_TRUE(runner.ok()) << runner.status();
    runner_ = std::move(runner).value();

    client::ClientOptions client_options;
    client_options.address = absl::StrCat("127.0.0.1:", runner_->port());
    client_options.timeout = absl::Seconds(30);
    client_ = std::make_unique<client::ClassifyClient>(client_options);
    stub_ = v1::ClassifierService::NewStub(client::MakeChannel(client_options));
  }

  void TearDown() override {
    runner_.reset();
    service_.reset();
    std::filesystem::remove_all(dir_);
  }

  static bool HaveRealLanguageModel() {
    return !testing::RealLanguageModelPath().empty();
  }

  // ClassifyClient has no ReloadModels yet; call the stub directly.
  absl::StatusOr<v1::ReloadModelsResponse> ReloadModels() {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::ReloadModelsResponse response;
    const grpc::Status status =
        stub_->ReloadModels(&context, v1::ReloadModelsRequest(), &response);
    if (!status.ok()) return common::FromGrpcStatus(status);
    return response;
  }

  static std::string Sha(const std::string& path) {
    return *common::Sha256FileHex(path);
  }

  std::string dir_;
  FastTextClassifier::Options options_;
  std::unique_ptr<ModelRegistry> registry_;
  std::unique_ptr<ClassifierServiceImpl> service_;
  std::unique_ptr<common::ServerRunner> runner_;
  std::unique_ptr<client::ClassifyClient> client_;
  std::unique_ptr<v1::ClassifierService::Stub> stub_;
};

TEST_F(ClassifyServiceTest, ReportsServingOnTheHealthService) {
  EXPECT_TRUE(client::CheckHealth(absl::StrCat("127.0.0.1:", runner_->port()),
                                  kClassifierServiceName, absl::Seconds(10))
                  .ok());
}

TEST_F(ClassifyServiceTest, AnswersABatchInRequestOrder) {
  // Each text is recognizable by its language or by its topic.
  struct Case {
    std::string body;
    std::string language;  // "" = not checked
    std::string topic;     // "" = not checked
  };
  const std::vector<Case> cases = {
      {"The government announced new measures on Tuesday to curb rising "
       "food prices, officials said.",
       "en", ""},
      {testing::TopicSentence("weather", 12, 1), "", "weather"},
      {"Le gouvernement a annoncé mardi de nouvelles mesures pour freiner la "
       "hausse des prix alimentaires.",
       "fr", ""},
      {testing::TopicSentence("sports", 12, 2), "", "sports"},
      {"Menurut para pejabat, banyak warga tidak bisa membeli kebutuhan "
       "pokok karena harga beras sudah naik.",
       "id", ""},
      {testing::TopicSentence("economy", 12, 3), "", "economy"},
  };
  // Enough texts that the batch is spread over the workers.
  v1::ClassifyBatchRequest request;
  for (int i = 0; i < 60; ++i) {
    request.add_texts()->set_body(cases[i % cases.size()].body);
  }

  absl::StatusOr<v1::ClassifyBatchResponse> response =
      client_->ClassifyBatch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_THAT(response->labels(), SizeIs(request.texts_size()));
  for (int i = 0; i < response->labels_size(); ++i) {
    const Case& c = cases[i % cases.size()];
    const v1::Labels& labels = response->labels(i);
    if (!c.topic.empty()) {
      ASSERT_FALSE(labels.topics().empty()) << i;
      EXPECT_EQ(labels.topics(0).label(), c.topic) << i;
    }
    if (!c.language.empty() && HaveRealLanguageModel()) {
      EXPECT_EQ(labels.language().code(), c.language) << i;
    }
    EXPECT_EQ(labels.topic_model().sha256(), Sha(options_.topic_model_path));
  }
}

TEST_F(ClassifyServiceTest, HonoursTopKTopics) {
  v1::ClassifyBatchRequest request;
  request.add_texts()->set_body(
      absl::StrCat(testing::TopicSentence("sports", 8, 1), " ",
                   testing::TopicSentence("weather", 8, 2), " ",
                   testing::TopicSentence("economy", 8, 3)));
  request.set_top_k_topics(1);
  absl::StatusOr<v1::ClassifyBatchResponse> response =
      client_->ClassifyBatch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_LE(response->labels(0).topics_size(), 1);

  request.set_top_k_topics(-1);
  EXPECT_EQ(client_->ClassifyBatch(request).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ClassifyServiceTest, EmptyBatchGetsAnEmptyAnswer) {
  absl::StatusOr<v1::ClassifyBatchResponse> response =
      client_->ClassifyBatch(v1::ClassifyBatchRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_THAT(response->labels(), SizeIs(0));
}

TEST_F(ClassifyServiceTest, EmptyTextsAreUndetermined) {
  v1::ClassifyBatchRequest request;
  request.add_texts();
  request.add_texts()->set_body(" \n\n ");
  absl::StatusOr<v1::ClassifyBatchResponse> response =
      client_->ClassifyBatch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_THAT(response->labels(), SizeIs(2));
  for (const v1::Labels& labels : response->labels()) {
    EXPECT_EQ(labels.language().code(), kUndeterminedLanguage);
    EXPECT_THAT(labels.topics(), SizeIs(0));
  }
}

TEST_F(ClassifyServiceTest, BatchSizeIsLimited) {
  v1::ClassifyBatchRequest request;
  for (int i = 0; i < ClassifierServiceImpl::Options().max_batch_size; ++i) {
    request.add_texts()->set_title("Rain");
  }
  EXPECT_TRUE(client_->ClassifyBatch(request).ok());

  request.add_texts()->set_title("One too many");
  const absl::Status status = client_->ClassifyBatch(request).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("1025"));
  EXPECT_THAT(status.message(), HasSubstr("1024"));
}

TEST_F(ClassifyServiceTest, GetModelsDescribesBothModels) {
  absl::StatusOr<v1::GetModelsResponse> response = client_->GetModels();
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_THAT(response->models(), SizeIs(2));

  const v1::ModelInfo& language = response->models(0);
  EXPECT_EQ(language.role(), "language");
  EXPECT_EQ(language.path(), options_.language_model_path);
  EXPECT_EQ(language.identity().sha256(), Sha(options_.language_model_path));
  EXPECT_GT(language.size_bytes(), 0);
  EXPECT_GT(language.loaded_at().seconds(), 0);
  EXPECT_FALSE(language.labels().empty());

  const v1::ModelInfo& topic = response->models(1);
  EXPECT_EQ(topic.role(), "topic");
  EXPECT_EQ(topic.path(), options_.topic_model_path);
  EXPECT_EQ(topic.identity().name(), "topic.bin");
  EXPECT_EQ(topic.identity().sha256(), Sha(options_.topic_model_path));
  EXPECT_EQ(topic.size_bytes(), static_cast<int64_t>(std::filesystem::file_size(
                                    options_.topic_model_path)));
  EXPECT_THAT(topic.labels(),
              ::testing::UnorderedElementsAre("sports", "weather", "economy"));
}

TEST_F(ClassifyServiceTest, ReloadModelsSwapsInReplacedFiles) {
  const std::string next = dir_ + "/next.bin";
  ASSERT_TRUE(
      testing::TrainTinyTopicModel(next, /*variant=*/1, /*relabel=*/true).ok());
  std::filesystem::rename(next, options_.topic_model_path);

  absl::StatusOr<v1::ReloadModelsResponse> reloaded = ReloadModels();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  ASSERT_THAT(reloaded->models(), SizeIs(2));
  EXPECT_EQ(reloaded->models(1).identity().sha256(),
            Sha(options_.topic_model_path));

  absl::StatusOr<v1::GetModelsResponse> models = client_->GetModels();
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(models->models(1).identity().sha256(),
            Sha(options_.topic_model_path));
  v1::ClassifyBatchRequest request;
  request.add_texts()->set_body(testing::TopicSentence("sports", 12, 5));
  absl::StatusOr<v1::ClassifyBatchResponse> response =
      client_->ClassifyBatch(request);
  ASSERT_TRUE(response.ok());
  EXPECT_EQ(response->labels(0).topics(0).label(), "alt-sports");
}

TEST_F(ClassifyServiceTest, FailedReloadKeepsServingTheOldModels) {
  const std::string old_sha = Sha(options_.topic_model_path);
  std::ofstream(options_.topic_model_path, std::ios::trunc) << "garbage";

  const absl::Status status = ReloadModels().status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr(options_.topic_model_path));

  absl::StatusOr<v1::GetModelsResponse> models = client_->GetModels();
  ASSERT_TRUE(models.ok());
  EXPECT_EQ(models->models(1).identity().sha256(), old_sha);
  v1::ClassifyBatchRequest request;
  request.add_texts()->set_body(testing::TopicSentence("sports", 12, 5));
  absl::StatusOr<v1::ClassifyBatchResponse> response =
      client_->ClassifyBatch(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->labels(0).topics(0).label(), "sports");
}

}  // namespace
}  // namespace kabar::classify
