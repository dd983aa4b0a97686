// Copyright kabar authors.
#include "services/classify/testing/test_models.h"

#include <fasttext/fasttext.h>
#include <stdlib.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "services/common/text.h"

namespace kabar::classify::testing {
namespace {

// Words every topic uses, so the model has to look past them.
const std::vector<std::string>& FillerWords() {
  static const auto* words = new std::vector<std::string>{
      "the", "a",   "today", "news",   "report", "said",
      "on",  "and", "with",  "people", "new",    "city"};
  return *words;
}

const TopicVocabulary& Vocabulary(const std::string& label) {
  for (const TopicVocabulary& topic : TinyTopics()) {
    if (topic.label == label) return topic;
  }
  std::abort();  // A test asked for a topic that does not exist.
}

}  // namespace

std::string MakeTempDir() {
  std::string pattern =
      (std::filesystem::path(::testing::TempDir()) / "kabar_classify_XXXXXX")
          .string();
  if (mkdtemp(pattern.data()) == nullptr) std::abort();
  return pattern;
}

absl::Status TrainModel(const std::vector<LabeledText>& examples,
                        const std::string& path) {
  const std::string corpus = path + ".train.txt";
  {
    std::ofstream out(corpus, std::ios::trunc);
    for (const auto& [label, text] : examples) {
      out << "__label__" << label << " " << common::NormalizeForTopicModel(text)
          << "\n";
    }
    if (!out.good()) {
      return absl::InternalError(absl::StrCat("cannot write ", corpus));
    }
  }
  fasttext::Args args;
  args.input = corpus;
  args.model = fasttext::model_name::sup;
  args.loss = fasttext::loss_name::softmax;
  args.dim = 16;
  args.epoch = 40;
  args.lr = 0.5;
  args.minCount = 1;
  args.wordNgrams = 1;
  args.minn = 0;
  args.maxn = 0;
  args.bucket = 0;
  args.thread = 1;  // deterministic
  args.seed = 0;
  args.verbose = 0;
  try {
    fasttext::FastText model;
    model.train(args);
    model.saveModel(path);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("training ", path, " failed: ", e.what()));
  }
  std::filesystem::remove(corpus);
  return absl::OkStatus();
}

const std::vector<TopicVocabulary>& TinyTopics() {
  static const auto* topics = new std::vector<TopicVocabulary>{
      {"sports",
       {"match", "goal", "striker", "league", "coach", "stadium", "score",
        "team", "players", "championship", "referee", "tournament"}},
      {"weather",
       {"rain", "storm", "forecast", "temperature", "wind", "flood", "sunny",
        "clouds", "humidity", "snow", "degrees", "monsoon"}},
      {"economy",
       {"inflation", "bank", "market", "prices", "exports", "interest",
        "rupiah", "investors", "growth", "budget", "trade", "shares"}},
  };
  return *topics;
}

std::string TopicSentence(const std::string& label, int words, int seed) {
  const std::vector<std::string>& vocabulary = Vocabulary(label).words;
  std::mt19937 random(static_cast<uint32_t>(seed) * 7919u +
                      static_cast<uint32_t>(label.size()));
  std::vector<std::string> sentence;
  for (int i = 0; i < words; ++i) {
    // Two topic words for each filler word.
    const std::vector<std::string>& pool =
        i % 3 == 2 ? FillerWords() : vocabulary;
    sentence.push_back(pool[random() % pool.size()]);
  }
  return absl::StrJoin(sentence, " ");
}

absl::Status TrainTinyTopicModel(const std::string& path, int variant,
                                 bool relabel) {
  std::vector<LabeledText> examples;
  for (int i = 0; i < 60; ++i) {
    for (const TopicVocabulary& topic : TinyTopics()) {
      examples.emplace_back(relabel ? "alt-" + topic.label : topic.label,
                            TopicSentence(topic.label, 9, variant * 1000 + i));
    }
  }
  return TrainModel(examples, path);
}

std::string RealLanguageModelPath() {
  const std::string path = KABAR_SOURCE_DIR "/models/lid.176.ftz";
  return std::filesystem::is_regular_file(path) ? path : "";
}

absl::StatusOr<std::string> ReadSeedArticle() {
  const std::string path =
      KABAR_SOURCE_DIR "/../shared/seed/000_bc3e7fe9585bda6e.txt";
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path));
  }
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

}  // namespace kabar::classify::testing
