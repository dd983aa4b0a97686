// Copyright kabar authors.
// End to end: train a tiny model on generated data, evaluate it, quantize
// it and load the .ftz with fastText itself. Runs in about a second.
#include "tools/train/trainer.h"

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "fasttext/fasttext.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/train/commands.h"
#include "tools/train/temp_dir.h"
#include "tools/train/tsv_reader.h"

namespace kabar::train {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

// Writes a MasakhaNEWS-shaped TSV whose articles mix topical words (and
// their inflections, so character n-grams matter) with shared filler.
void WriteCorpus(const std::string& path, int rows, uint32_t seed) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> topics = {
      {"sports",
       {"football", "goal", "match", "striker", "league", "coach", "stadium"}},
      {"politics",
       {"election", "minister", "parliament", "vote", "senate", "policy"}},
      {"technology",
       {"software", "internet", "robot", "computer", "satellite", "data"}}};
  const std::vector<std::string> filler = {"the",  "a",      "news", "today",
                                           "said", "people", "new",  "year"};
  std::mt19937 rng(seed);
  std::ofstream out(path, std::ios::binary);
  WriteTsvRecord({"category", "headline", "text", "url"}, &out);
  for (int i = 0; i < rows; ++i) {
    const auto& [label, words] = topics[i % topics.size()];
    const auto pick = [&](const std::vector<std::string>& from) {
      return from[rng() % from.size()];
    };
    std::string body;
    for (int w = 0; w < 12; ++w) {
      body += (rng() % 3 == 0 ? pick(words) + (rng() % 2 ? "s" : "")
                              : pick(filler));
      body += w == 5 ? ".\n" : " ";
    }
    WriteTsvRecord({label, "Update: " + pick(words), body,
                    "http://example.com/" + std::to_string(i)},
                   &out);
  }
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
    WriteCorpus(dir_->File("train.tsv"), 300, 1);
    WriteCorpus(dir_->File("dev.tsv"), 90, 2);
    std::ofstream(dir_->File("labels.tsv"))
        << "technology\tscience/technology\n";
  }

  TrainCommand SmallTrainCommand() {
    TrainCommand command;
    command.data.inputs = {"eng=" + dir_->File("train.tsv")};
    command.data.label_map_path = dir_->File("labels.tsv");
    command.dev_inputs = {"eng=" + dir_->File("dev.tsv")};
    Hyperparameters& h = command.train.hyperparameters;
    h.epoch = 20;
    h.lr = 0.5;
    h.dim = 16;
    h.minn = 2;
    h.maxn = 4;
    h.word_ngrams = 2;
    h.bucket = 5000;
    command.train.threads = 1;
    command.output = dir_->File("model.bin");
    return command;
  }

  std::unique_ptr<TempDir> dir_;
};

TEST_F(TrainerTest, TrainsEvaluatesQuantizesAndLoads) {
  ASSERT_TRUE(RunTrain(SmallTrainCommand()).ok());

  EvalCommand eval;
  eval.model = dir_->File("model.bin");
  eval.data.inputs = {"eng=" + dir_->File("dev.tsv")};
  eval.data.label_map_path = dir_->File("labels.tsv");
  eval.format = "json";
  absl::StatusOr<std::string> report = RunEval(eval);
  ASSERT_TRUE(report.ok()) << report.status();
  const nlohmann::json json = nlohmann::json::parse(*report);
  EXPECT_EQ(json["examples"], 90);
  EXPECT_GT(json["accuracy"].get<double>(), 0.6);  // chance is 1/3
  EXPECT_EQ(json["languages"][0]["lang"], "eng");

  // Quantize to a size that needs a cutoff, retraining on the data.
  const int64_t bin_bytes = FileSize(dir_->File("model.bin"));
  QuantizeCommand quantize;
  quantize.model = dir_->File("model.bin");
  quantize.data = eval.data;
  quantize.data.inputs = {dir_->File("train.tsv")};
  quantize.options.max_bytes = 40000;
  quantize.output = dir_->File("model.ftz");
  ASSERT_TRUE(RunQuantize(quantize).ok());
  const int64_t ftz_bytes = FileSize(dir_->File("model.ftz"));
  EXPECT_GT(ftz_bytes, 0);
  EXPECT_LE(ftz_bytes, 40000);
  EXPECT_LT(ftz_bytes, bin_bytes);

  fasttext::FastText fasttext;
  fasttext.loadModel(dir_->File("model.ftz"));
  EXPECT_TRUE(fasttext.isQuant());
  EXPECT_EQ(fasttext.getDictionary()->nlabels(), 3);

  absl::StatusOr<std::unique_ptr<TrainedModel>> model =
      TrainedModel::Load(dir_->File("model.ftz"));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE((*model)->quantized());
  EXPECT_THAT((*model)->labels(),
              UnorderedElementsAre("sports", "politics", "science/technology"));
  EXPECT_EQ((*model)->PredictLabel("the football match goal said striker"),
            "sports");
  eval.model = dir_->File("model.ftz");
  report = RunEval(eval);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(nlohmann::json::parse(*report)["accuracy"].get<double>(), 0.6);
}

TEST_F(TrainerTest, OneThreadIsReproducible) {
  TrainCommand command = SmallTrainCommand();
  command.output = dir_->File("a.ftz");
  command.quantize = true;
  command.quantize_options.cutoff = 1000;
  ASSERT_TRUE(RunTrain(command).ok());
  command.output = dir_->File("b.ftz");
  ASSERT_TRUE(RunTrain(command).ok());
  std::ifstream a(dir_->File("a.ftz"), std::ios::binary);
  std::ifstream b(dir_->File("b.ftz"), std::ios::binary);
  const std::string a_bytes((std::istreambuf_iterator<char>(a)), {});
  const std::string b_bytes((std::istreambuf_iterator<char>(b)), {});
  EXPECT_FALSE(a_bytes.empty());
  EXPECT_TRUE(a_bytes == b_bytes);
}

TEST_F(TrainerTest, ValidationFractionHoldsOutData) {
  TrainCommand command = SmallTrainCommand();
  command.dev_inputs.clear();
  command.validation_fraction = 0.2;
  EXPECT_TRUE(RunTrain(command).ok());
}

TEST_F(TrainerTest, RejectsBadOptions) {
  TrainCommand command = SmallTrainCommand();
  command.train.hyperparameters.loss = "hinge";
  absl::Status status = RunTrain(command);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("hinge"));

  command = SmallTrainCommand();
  command.dev_inputs.clear();
  command.train.autotune_seconds = 5;
  EXPECT_EQ(RunTrain(command).code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(TrainedModel::Load(dir_->File("missing.bin")).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(TrainedModel::Load(dir_->File("train.tsv")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TrainerTest, SplitIsDeterministicAndComplete) {
  SplitCommand split;
  split.input = dir_->File("dev.tsv");
  split.output_first = dir_->File("first.tsv");
  split.output_second = dir_->File("second.tsv");
  ASSERT_TRUE(RunSplit(split).ok());
  absl::StatusOr<TsvTable> first = ReadTsvFile(split.output_first);
  absl::StatusOr<TsvTable> second = ReadTsvFile(split.output_second);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->rows.size(), 45u);
  EXPECT_EQ(second->rows.size(), 45u);
  EXPECT_EQ(first->header, second->header);
}

}  // namespace
}  // namespace kabar::train
