// Copyright kabar authors.
// Specification of ModelRegistry, with real FastTextClassifiers over tiny
// models trained at test time: a reload reads whatever the model files hold
// now, so tests replace files and reload.
#include "services/classify/model_registry.h"

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/classify/fasttext_classifier.h"
#include "services/classify/testing/test_models.h"

namespace kabar::classify {
namespace {

using ::testing::HasSubstr;

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir();
    options_.language_model_path = dir_ + "/language.bin";
    options_.topic_model_path = dir_ + "/topic.bin";
    ASSERT_TRUE(testing::TrainTinyTopicModel(options_.language_model_path,
                                             /*variant=*/7)
                    .ok());
    ASSERT_TRUE(testing::TrainTinyTopicModel(options_.topic_model_path).ok());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ModelRegistry::Loader Loader() const {
    return
        [options =
             options_]() -> absl::StatusOr<std::unique_ptr<const Classifier>> {
          return FastTextClassifier::Create(options);
        };
  }

  std::unique_ptr<ModelRegistry> CreateRegistry() {
    absl::StatusOr<std::unique_ptr<ModelRegistry>> registry =
        ModelRegistry::Create(Loader());
    EXPECT_TRUE(registry.ok()) << registry.status();
    return registry.ok() ? std::move(registry).value() : nullptr;
  }

  static std::string TopicSha(const Classifier& classifier) {
    return classifier.Models()[1].identity().sha256();
  }

  // Atomically replaces the topic model file, as a deployment would.
  void ReplaceTopicModel(int variant, bool relabel) {
    const std::string next = dir_ + "/topic.next.bin";
    ASSERT_TRUE(testing::TrainTinyTopicModel(next, variant, relabel).ok());
    std::filesystem::rename(next, options_.topic_model_path);
  }

  std::string dir_;
  FastTextClassifier::Options options_;
};

TEST_F(ModelRegistryTest, CreateFailsWhenTheFirstLoadFails) {
  options_.topic_model_path = dir_ + "/missing.bin";
  const absl::Status status = ModelRegistry::Create(Loader()).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(options_.topic_model_path));
}

TEST_F(ModelRegistryTest, ReloadSwapsInTheNewModels) {
  auto registry = CreateRegistry();
  ASSERT_NE(registry, nullptr);
  const std::shared_ptr<const Classifier> before = registry->current();

  ReplaceTopicModel(/*variant=*/1, /*relabel=*/true);
  absl::StatusOr<std::shared_ptr<const Classifier>> reloaded =
      registry->Reload();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();

  EXPECT_EQ(registry->current(), *reloaded);
  EXPECT_NE(TopicSha(*registry->current()), TopicSha(*before));
  absl::StatusOr<v1::Labels> labels = registry->current()->Classify(
      "", testing::TopicSentence("sports", 12, 1), 0);
  ASSERT_TRUE(labels.ok());
  ASSERT_FALSE(labels->topics().empty());
  EXPECT_EQ(labels->topics(0).label(), "alt-sports");
  // Whoever still holds the old classifier can keep using it.
  labels = before->Classify("", testing::TopicSentence("sports", 12, 1), 0);
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->topics(0).label(), "sports");
}

TEST_F(ModelRegistryTest, KeepsOldModelWhenLoadFails) {
  auto registry = CreateRegistry();
  ASSERT_NE(registry, nullptr);
  const std::shared_ptr<const Classifier> before = registry->current();

  // A broken file...
  std::ofstream(options_.topic_model_path, std::ios::trunc) << "not a model";
  absl::StatusOr<std::shared_ptr<const Classifier>> reloaded =
      registry->Reload();
  EXPECT_EQ(reloaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(reloaded.status().message(),
              HasSubstr(options_.topic_model_path));
  EXPECT_EQ(registry->current(), before);

  // ...or a missing one.
  std::filesystem::remove(options_.topic_model_path);
  reloaded = registry->Reload();
  EXPECT_EQ(reloaded.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(registry->current(), before);
  EXPECT_TRUE(registry->current()->Classify("", "rain and wind", 0).ok());

  // Once the file is good again, reload works.
  ReplaceTopicModel(/*variant=*/2, /*relabel=*/false);
  ASSERT_TRUE(registry->Reload().ok());
  EXPECT_NE(registry->current(), before);
}

// Readers classify nonstop while the main thread swaps between two model
// versions with different labels. Every answer comes whole from the
// classifier the request took: its identity is that classifier's, and its
// topic is one of that classifier's labels.
TEST_F(ModelRegistryTest, SwapsWhileOtherThreadsClassify) {
  auto registry = CreateRegistry();
  ASSERT_NE(registry, nullptr);

  std::atomic<bool> stop{false};
  std::atomic<int> answers{0};
  std::atomic<int> relabeled_answers{0};
  std::atomic<int> inconsistent{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&, t] {
      const std::string text = testing::TopicSentence("economy", 15, t);
      while (!stop.load()) {
        // One pointer per request.
        const std::shared_ptr<const Classifier> classifier =
            registry->current();
        absl::StatusOr<v1::Labels> labels = classifier->Classify("", text, 1);
        const v1::ModelInfo topic_model = classifier->Models()[1];
        if (!labels.ok() || labels->topics().empty() ||
            labels->topic_model().sha256() != topic_model.identity().sha256() ||
            !absl::c_linear_search(topic_model.labels(),
                                   labels->topics(0).label()) ||
            !absl::EndsWith(labels->topics(0).label(), "economy")) {
          ++inconsistent;
        }
        if (labels.ok() && !labels->topics().empty() &&
            labels->topics(0).label() == "alt-economy") {
          ++relabeled_answers;
        }
        ++answers;
      }
    });
  }
  for (int swap = 0; swap < 6; ++swap) {
    const bool relabel = swap % 2 == 0;
    ReplaceTopicModel(/*variant=*/swap, relabel);
    ASSERT_TRUE(registry->Reload().ok());
    // Let the readers see this version.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop = true;
  for (std::thread& reader : readers) reader.join();

  EXPECT_GT(answers.load(), 0);
  EXPECT_GT(relabeled_answers.load(), 0);
  EXPECT_EQ(inconsistent.load(), 0);
}

TEST_F(ModelRegistryTest, ConcurrentReloadsAllSucceed) {
  auto registry = CreateRegistry();
  ASSERT_NE(registry, nullptr);
  std::atomic<int> ok{0};
  std::vector<std::thread> reloaders;
  for (int t = 0; t < 3; ++t) {
    reloaders.emplace_back([&] {
      if (registry->Reload().ok()) ++ok;
    });
  }
  for (std::thread& reloader : reloaders) reloader.join();
  EXPECT_EQ(ok.load(), 3);
}

}  // namespace
}  // namespace kabar::classify
