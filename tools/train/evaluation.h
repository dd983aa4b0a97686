// Copyright kabar authors.
// Classification metrics for kabar-train's `eval` command: accuracy,
// per-label precision/recall/F1 and false-positive rate, macro-F1, per-language accuracy and
// macro-F1, and the confusion matrix, with text (Markdown tables) and JSON
// renderings. Pure functions; thread-safe.
#ifndef KABAR_TOOLS_TRAIN_EVALUATION_H_
#define KABAR_TOOLS_TRAIN_EVALUATION_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kabar::train {

// One evaluated example. `predicted` is empty when the model gave nothing.
struct LabeledPrediction {
  std::string gold;
  std::string predicted;
  std::string lang;  // empty when unknown
};

struct LabelMetrics {
  std::string label;
  double precision = 0;  // 0 when the label was never predicted
  double recall = 0;     // 0 when the label never occurs
  double f1 = 0;
  int64_t support = 0;    // gold examples with this label
  int64_t predicted = 0;  // examples predicted as this label
  // Share of the examples of other labels predicted as this one: false
  // positives / (examples - support); 0 when every example has this label.
  // A high rate marks a label the model uses as a catch-all (lid.176 calls
  // many African languages "en").
  double false_positive_rate = 0;
};

struct LanguageMetrics {
  std::string lang;
  int64_t examples = 0;
  double accuracy = 0;
  double macro_f1 = 0;
};

// Macro-F1 averages the F1 of the labels that occur in the gold data (the
// evaluation set's label set, like scikit-learn's f1_score(average="macro",
// labels=gold labels)). Predicting a label that never occurs still costs
// recall on the true label; that label is listed with support 0 but not
// averaged.
struct EvaluationReport {
  int64_t examples = 0;
  double accuracy = 0;
  double macro_f1 = 0;
  std::vector<LabelMetrics> labels;  // sorted by label
  // Sorted by language; empty when no example has a language.
  std::vector<LanguageMetrics> languages;
  // Unweighted means over `languages` (0 when there are none).
  double mean_language_accuracy = 0;
  double mean_language_macro_f1 = 0;
  // confusion[g][p]: examples of gold label confusion_labels[g] predicted as
  // confusion_labels[p]. The labels are those of `labels`, plus a last
  // column "(none)" only when some prediction was empty.
  std::vector<std::string> confusion_labels;
  std::vector<std::vector<int64_t>> confusion;
};

EvaluationReport Evaluate(const std::vector<LabeledPrediction>& predictions);

// Markdown: a summary, then the per-label, per-language and confusion
// tables. Numbers have 4 decimals.
std::string FormatReportText(const EvaluationReport& report);

// The same content as one JSON object.
std::string FormatReportJson(const EvaluationReport& report);

}  // namespace kabar::train

#endif  // KABAR_TOOLS_TRAIN_EVALUATION_H_
