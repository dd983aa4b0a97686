// Copyright kabar authors.
// Test support for the classify service: tiny supervised fastText models
// trained at test time (so no model binary is committed for tests), and the
// location of the real language model. Training needs fastText itself, so
// like fasttext_classifier.cc the .cc file includes it; nothing else in
// tests does.
#ifndef KABAR_SERVICES_CLASSIFY_TESTING_TEST_MODELS_H_
#define KABAR_SERVICES_CLASSIFY_TESTING_TEST_MODELS_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kabar::classify::testing {

// One training line: a label (without "__label__") and its text.
using LabeledText = std::pair<std::string, std::string>;

// A new, empty directory under the test's temporary directory.
std::string MakeTempDir();

// Trains a small supervised fastText model on `examples` and saves it to
// `path`. Texts go through common::NormalizeForTopicModel, as kabar-train
// does. Deterministic: one thread, fixed seed. Takes well under a second
// for a few hundred lines.
absl::Status TrainModel(const std::vector<LabeledText>& examples,
                        const std::string& path);

// The vocabulary of one label of the tiny topic model.
struct TopicVocabulary {
  std::string label;
  std::vector<std::string> words;
};

// The three topics of the tiny topic model: sports, weather, economy.
const std::vector<TopicVocabulary>& TinyTopics();

// A generated sentence about `label` (one of TinyTopics()), `words` long.
// `seed` picks the words.
std::string TopicSentence(const std::string& label, int words, int seed);

// Trains the tiny topic model (labels sports, weather, economy) to `path`.
// `variant` changes the training data, and so the file's SHA-256, without
// changing the labels; a second label set (`relabel`) prefixes every label
// with "alt-", for telling two models apart in reload tests.
absl::Status TrainTinyTopicModel(const std::string& path, int variant = 0,
                                 bool relabel = false);

// ${KABAR_SOURCE_DIR}/models/lid.176.ftz, or "" when the file is missing.
std::string RealLanguageModelPath();

// The seed article under /work/shared, or NOT_FOUND.
absl::StatusOr<std::string> ReadSeedArticle();

}  // namespace kabar::classify::testing

#endif  // KABAR_SERVICES_CLASSIFY_TESTING_TEST_MODELS_H_
