// Copyright kabar authors.
// The kabar-train subcommands (train, quantize, eval, split) as library
// functions, so main.cc only turns flags into these option structs and
// tests can run whole commands. Each command logs progress with
// common::LogInfo and returns a Status; none of them reads flags.
#ifndef KABAR_TOOLS_TRAIN_COMMANDS_H_
#define KABAR_TOOLS_TRAIN_COMMANDS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/classify/fasttext_classifier.h"
#include "tools/train/dataset.h"
#include "tools/train/trainer.h"

namespace kabar::train {

// Where labeled examples come from.
struct DataOptions {
  // Input specs, "[LANG=]PATH[@REPEAT][%BALANCE]" (see InputSpec).
  std::vector<std::string> inputs;
  FieldMapping mapping;
  // Optional label map file (see LabelMap); empty for none.
  std::string label_map_path;
  // Language for inputs without a LANG= prefix or language column.
  std::string default_lang;
};

// Reads every input of `data` in order. Errors as ReadExamples, plus
// INVALID_ARGUMENT when there are no inputs.
absl::StatusOr<std::vector<Example>> LoadExamples(const DataOptions& data);

struct TrainCommand {
  DataOptions data;
  // Development inputs (same mapping and label map). When empty and
  // validation_fraction > 0, that fraction of the training examples is held
  // out instead (stratified by label, seeded by train.seed).
  std::vector<std::string> dev_inputs;
  double validation_fraction = 0;
  TrainOptions train;
  // Shuffle the training examples (seeded by train.seed) before training.
  // fastText reads its file in order, so data sorted by label (SIB-200 is
  // sorted by language) leaves the model remembering mostly the last
  // labels; a language-ID model must be trained shuffled.
  bool shuffle = false;
  // Write a quantized .ftz (with `quantize`) instead of the .bin.
  bool quantize = false;
  QuantizeOptions quantize_options;  // training_file is filled in
  std::string output;
};

// Builds the fastText training file, trains (autotuning on the dev set
// when asked), optionally quantizes, writes `output` and logs the dev
// accuracy and macro-F1.
absl::Status RunTrain(const TrainCommand& command);

struct QuantizeCommand {
  std::string model;  // a .bin model
  // When data.inputs is set, the pruned model is retrained on them.
  DataOptions data;
  QuantizeOptions options;  // training_file is filled in
  std::string output;
};

absl::Status RunQuantize(const QuantizeCommand& command);

struct EvalCommand {
  std::string model;
  DataOptions data;
  std::string format = "text";  // "text" (Markdown) or "json"
  // When set, evaluates the language kabar-classify reports instead of
  // `model` alone: the classify service's FastTextClassifier with this
  // model (lid.176) as its language model, `model` (optional) as kabar's
  // language model and `topic_model`, on each example's raw line. The
  // classifier's language options come from `classifier`; its model paths
  // are filled in. Labels must be kabar language codes ("und" counts as
  // wrong).
  std::string lid_model;
  std::string topic_model = "models/topic.ftz";
  classify::FastTextClassifier::Options classifier;
};

// Returns the rendered report.
absl::StatusOr<std::string> RunEval(const EvalCommand& command);

struct SplitCommand {
  std::string input;  // a TSV file with a header
  // Stratify by this column when the header has it.
  std::string label_field = "category";
  double fraction = 0.5;  // share of the rows in output_first
  uint64_t seed = 1;
  std::string output_first;
  std::string output_second;
};

// Splits a TSV file's rows in two (see StratifiedSplit), keeping the header
// and the original order in both outputs.
absl::Status RunSplit(const SplitCommand& command);

}  // namespace kabar::train

#endif  // KABAR_TOOLS_TRAIN_COMMANDS_H_
