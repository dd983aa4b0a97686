// Copyright kabar authors.
#include "tools/train/commands.h"

#include <fstream>
#include <map>
#include <algorithm>
#include <memory>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/logging.h"
#include "services/common/sha256.h"
#include "services/common/status_macros.h"
#include "tools/train/evaluation.h"
#include "tools/train/temp_dir.h"
#include "tools/train/tsv_reader.h"

namespace kabar::train {
namespace {

std::string LabelCounts(const std::vector<Example>& examples) {
  std::map<std::string, int64_t> counts;
  for (const Example& example : examples) ++counts[example.label];
  std::string out;
  for (const auto& [label, count] : counts) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", label, "=", count);
  }
  return out;
}

absl::Status CopyFile(const std::string& from, const std::string& to) {
  std::ifstream in(from, std::ios::binary);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  if (!in.is_open() || !out.is_open()) {
    return absl::InternalError(absl::StrCat("cannot copy ", from, " to ", to));
  }
  out << in.rdbuf();
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", to));
  return absl::OkStatus();
}

absl::Status LogModel(const std::string& path) {
  KABAR_ASSIGN_OR_RETURN(const std::string digest, common::Sha256FileHex(path));
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  common::LogInfo(absl::StrCat("wrote ", path, " (",
                               static_cast<int64_t>(in.tellg()),
                               " bytes, sha256 ", digest, ")"));
  return absl::OkStatus();
}

// The language kabar-classify reports for each example (see
// EvalCommand::lid_model).
absl::StatusOr<std::vector<LabeledPrediction>> PredictServedLanguage(
    const EvalCommand& command, const std::vector<Example>& examples) {
  classify::FastTextClassifier::Options options = command.classifier;
  options.language_model_path = command.lid_model;
  options.kabar_language_model_path = command.model;
  options.topic_model_path = command.topic_model;
  KABAR_ASSIGN_OR_RETURN(
      const std::unique_ptr<classify::FastTextClassifier> classifier,
      classify::FastTextClassifier::Create(options));
  std::vector<LabeledPrediction> predictions;
  predictions.reserve(examples.size());
  for (const Example& example : examples) {
    KABAR_ASSIGN_OR_RETURN(const v1::Labels labels,
                           classifier->Classify("", example.line, 1));
    predictions.push_back(
        {example.label, labels.language().code(), example.lang});
  }
  return predictions;
}

}  // namespace

absl::StatusOr<std::vector<Example>> LoadExamples(const DataOptions& data) {
  if (data.inputs.empty()) {
    return absl::InvalidArgumentError("no inputs given (--input)");
  }
  LabelMap label_map;
  if (!data.label_map_path.empty()) {
    KABAR_ASSIGN_OR_RETURN(label_map, LabelMap::ReadFile(data.label_map_path));
  }
  std::vector<Example> examples;
  for (const std::string& spec : data.inputs) {
    KABAR_ASSIGN_OR_RETURN(InputSpec input, ParseInputSpec(spec));
    if (input.lang.empty()) input.lang = data.default_lang;
    ReadStats stats;
    KABAR_ASSIGN_OR_RETURN(
        std::vector<Example> read,
        ReadExamples(input, data.mapping, label_map, &stats));
    common::LogInfo(absl::StrCat(
        "read ", input.path, ": ", stats.rows, " rows, ", read.size(),
        " examples (repeat ", input.repeat, ", balance ", input.balance,
        "); skipped ", stats.dropped_by_label_map, " by label map, ",
        stats.empty_label, " without label, ", stats.empty_text,
        " without text, ", stats.invalid_utf8, " invalid UTF-8"));
    examples.insert(examples.end(), std::make_move_iterator(read.begin()),
                    std::make_move_iterator(read.end()));
  }
  return examples;
}

absl::Status RunTrain(const TrainCommand& command) {
  if (command.output.empty()) {
    return absl::InvalidArgumentError("--output is required");
  }
  if (command.validation_fraction < 0 || command.validation_fraction >= 1) {
    return absl::InvalidArgumentError(
        "--validation_fraction must be in [0, 1)");
  }
  KABAR_ASSIGN_OR_RETURN(std::vector<Example> training,
                         LoadExamples(command.data));
  std::vector<Example> dev;
  if (!command.dev_inputs.empty()) {
    DataOptions dev_data = command.data;
    dev_data.inputs = command.dev_inputs;
    KABAR_ASSIGN_OR_RETURN(dev, LoadExamples(dev_data));
  } else if (command.validation_fraction > 0) {
    std::vector<std::string> labels;
    for (const Example& example : training) labels.push_back(example.label);
    const Split split = StratifiedSplit(labels, command.validation_fraction,
                                        command.train.seed);
    std::vector<Example> kept;
    for (size_t i : split.first) dev.push_back(std::move(training[i]));
    for (size_t i : split.second) kept.push_back(std::move(training[i]));
    training = std::move(kept);
  }
  if (training.empty()) {
    return absl::InvalidArgumentError("no training examples");
  }
  if (command.shuffle) {
    std::mt19937_64 random(command.train.seed);
    std::shuffle(training.begin(), training.end(), random);
  }
  common::LogInfo(absl::StrCat("training examples: ", training.size(), " (",
                               LabelCounts(training), ")"));
  if (!dev.empty()) {
    common::LogInfo(absl::StrCat("dev examples: ", dev.size(), " (",
                                 LabelCounts(dev), ")"));
  }

  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<TempDir> temp, TempDir::Create());
  const std::string training_file = temp->File("train.txt");
  KABAR_RETURN_IF_ERROR(WriteFastTextFile(training, training_file));
  TrainOptions options = command.train;
  if (options.autotune_seconds > 0) {
    if (dev.empty()) {
      return absl::InvalidArgumentError(
          "--autotune_seconds needs --dev or --validation_fraction");
    }
    options.autotune_validation_file = temp->File("dev.txt");
    KABAR_RETURN_IF_ERROR(
        WriteFastTextFile(dev, options.autotune_validation_file));
  }
  const std::string bin =
      command.quantize ? temp->File("model.bin") : command.output;
  common::LogInfo(absl::StrCat(
      "training: ", options.hyperparameters.ToString(),
      " threads=", options.threads, " seed=", options.seed,
      options.autotune_seconds > 0
          ? absl::StrCat(" autotune=", options.autotune_seconds, "s")
          : ""));
  KABAR_ASSIGN_OR_RETURN(const Hyperparameters used,
                         TrainModel(training_file, options, bin));
  common::LogInfo(absl::StrCat("trained: ", used.ToString()));

  if (command.quantize) {
    QuantizeOptions quantize_options = command.quantize_options;
    quantize_options.training_file = training_file;
    KABAR_ASSIGN_OR_RETURN(
        const QuantizeResult result,
        QuantizeModel(bin, quantize_options, temp->File("model.ftz")));
    common::LogInfo(absl::StrCat("quantized: cutoff ", result.cutoff,
                                 result.retrained ? ", retrained" : "", ", ",
                                 result.bytes, " bytes"));
    KABAR_RETURN_IF_ERROR(CopyFile(temp->File("model.ftz"), command.output));
  }
  KABAR_RETURN_IF_ERROR(LogModel(command.output));

  if (!dev.empty()) {
    KABAR_ASSIGN_OR_RETURN(const std::unique_ptr<TrainedModel> model,
                           TrainedModel::Load(command.output));
    const EvaluationReport report = Evaluate(PredictAll(*model, dev));
    common::LogInfo(absl::StrFormat(
        "dev: %d examples, accuracy %.4f, macro-F1 %.4f, mean per-language "
        "accuracy %.4f over %d languages",
        report.examples, report.accuracy, report.macro_f1,
        report.mean_language_accuracy, report.languages.size()));
  }
  return absl::OkStatus();
}

absl::Status RunQuantize(const QuantizeCommand& command) {
  if (command.model.empty() || command.output.empty()) {
    return absl::InvalidArgumentError("--model and --output are required");
  }
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<TempDir> temp, TempDir::Create());
  QuantizeOptions options = command.options;
  if (!command.data.inputs.empty()) {
    KABAR_ASSIGN_OR_RETURN(const std::vector<Example> training,
                           LoadExamples(command.data));
    options.training_file = temp->File("train.txt");
    KABAR_RETURN_IF_ERROR(WriteFastTextFile(training, options.training_file));
  }
  KABAR_ASSIGN_OR_RETURN(
      const QuantizeResult result,
      QuantizeModel(command.model, options, temp->File("model.ftz")));
  common::LogInfo(absl::StrCat("quantized: cutoff ", result.cutoff,
                               result.retrained ? ", retrained" : "", ", ",
                               result.bytes, " bytes"));
  KABAR_RETURN_IF_ERROR(CopyFile(temp->File("model.ftz"), command.output));
  return LogModel(command.output);
}

absl::StatusOr<std::string> RunEval(const EvalCommand& command) {
  if (command.format != "text" && command.format != "json") {
    return absl::InvalidArgumentError("--format must be text or json");
  }
  KABAR_ASSIGN_OR_RETURN(const std::vector<Example> examples,
                         LoadExamples(command.data));
  std::vector<LabeledPrediction> predictions;
  if (command.lid_model.empty()) {
    KABAR_ASSIGN_OR_RETURN(const std::unique_ptr<TrainedModel> model,
                           TrainedModel::Load(command.model));
    predictions = PredictAll(*model, examples);
  } else {
    KABAR_ASSIGN_OR_RETURN(predictions, PredictServedLanguage(command, examples));
  }
  const EvaluationReport report = Evaluate(predictions);
  return command.format == "json" ? FormatReportJson(report)
                                  : FormatReportText(report);
}

absl::Status RunSplit(const SplitCommand& command) {
  if (command.input.empty() || command.output_first.empty() ||
      command.output_second.empty()) {
    return absl::InvalidArgumentError(
        "--input, --output_first and --output_second are required");
  }
  if (command.fraction < 0 || command.fraction > 1) {
    return absl::InvalidArgumentError("--fraction must be in [0, 1]");
  }
  KABAR_ASSIGN_OR_RETURN(const TsvTable table, ReadTsvFile(command.input));
  const int label_column = table.ColumnIndex(command.label_field);
  std::vector<std::string> labels;
  for (const std::vector<std::string>& row : table.rows) {
    labels.push_back(label_column >= 0 ? row[label_column] : "");
  }
  const Split split = StratifiedSplit(labels, command.fraction, command.seed);
  const auto write = [&](const std::vector<size_t>& indices,
                         const std::string& path) -> absl::Status {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    WriteTsvRecord(table.header, &out);
    for (size_t i : indices) WriteTsvRecord(table.rows[i], &out);
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
    common::LogInfo(
        absl::StrCat("wrote ", path, ": ", indices.size(), " rows"));
    return absl::OkStatus();
  };
  KABAR_RETURN_IF_ERROR(write(split.first, command.output_first));
  return write(split.second, command.output_second);
}

}  // namespace kabar::train
