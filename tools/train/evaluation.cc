// Copyright kabar authors.
#include "tools/train/evaluation.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "nlohmann/json.hpp"

namespace kabar::train {
namespace {

constexpr char kNoPrediction[] = "(none)";

double Ratio(int64_t numerator, int64_t denominator) {
  return denominator == 0 ? 0.0
                          : static_cast<double>(numerator) /
                                static_cast<double>(denominator);
}

// Per-label metrics (gold and predicted labels) and their macro-F1 over the
// gold labels.
std::vector<LabelMetrics> ComputeLabelMetrics(
    const std::vector<const LabeledPrediction*>& predictions,
    double* macro_f1) {
  std::map<std::string, LabelMetrics> by_label;
  std::map<std::string, int64_t> true_positives;
  for (const LabeledPrediction* p : predictions) {
    LabelMetrics& gold = by_label[p->gold];
    ++gold.support;
    if (!p->predicted.empty()) ++by_label[p->predicted].predicted;
    if (p->gold == p->predicted) ++true_positives[p->gold];
  }
  std::vector<LabelMetrics> labels;
  double f1_sum = 0;
  int gold_labels = 0;
  for (auto& [label, metrics] : by_label) {
    metrics.label = label;
    const int64_t tp = true_positives[label];
    metrics.precision = Ratio(tp, metrics.predicted);
    metrics.recall = Ratio(tp, metrics.support);
    const double sum = metrics.precision + metrics.recall;
    metrics.f1 = sum == 0 ? 0 : 2 * metrics.precision * metrics.recall / sum;
    metrics.false_positive_rate =
        Ratio(metrics.predicted - tp,
              static_cast<int64_t>(predictions.size()) - metrics.support);
    if (metrics.support > 0) {
      f1_sum += metrics.f1;
      ++gold_labels;
    }
    labels.push_back(metrics);
  }
  *macro_f1 = gold_labels == 0 ? 0 : f1_sum / gold_labels;
  return labels;
}

int64_t CountCorrect(const std::vector<const LabeledPrediction*>& predictions) {
  int64_t correct = 0;
  for (const LabeledPrediction* p : predictions) {
    if (p->gold == p->predicted) ++correct;
  }
  return correct;
}

std::string Fixed(double value) { return absl::StrFormat("%.4f", value); }

}  // namespace

EvaluationReport Evaluate(const std::vector<LabeledPrediction>& predictions) {
  EvaluationReport report;
  std::vector<const LabeledPrediction*> all;
  std::map<std::string, std::vector<const LabeledPrediction*>> by_lang;
  bool any_empty_prediction = false;
  for (const LabeledPrediction& p : predictions) {
    all.push_back(&p);
    if (!p.lang.empty()) by_lang[p.lang].push_back(&p);
    if (p.predicted.empty()) any_empty_prediction = true;
  }
  report.examples = static_cast<int64_t>(all.size());
  report.accuracy = Ratio(CountCorrect(all), report.examples);
  report.labels = ComputeLabelMetrics(all, &report.macro_f1);

  for (const auto& [lang, subset] : by_lang) {
    LanguageMetrics metrics;
    metrics.lang = lang;
    metrics.examples = static_cast<int64_t>(subset.size());
    metrics.accuracy = Ratio(CountCorrect(subset), metrics.examples);
    ComputeLabelMetrics(subset, &metrics.macro_f1);
    report.mean_language_accuracy += metrics.accuracy;
    report.mean_language_macro_f1 += metrics.macro_f1;
    report.languages.push_back(metrics);
  }
  if (!report.languages.empty()) {
    const double count = static_cast<double>(report.languages.size());
    report.mean_language_accuracy /= count;
    report.mean_language_macro_f1 /= count;
  }

  std::map<std::string, size_t> index;
  for (const LabelMetrics& label : report.labels) {
    index[label.label] = report.confusion_labels.size();
    report.confusion_labels.push_back(label.label);
  }
  if (any_empty_prediction) {
    index[""] = report.confusion_labels.size();
    report.confusion_labels.push_back(kNoPrediction);
  }
  const size_t n = report.confusion_labels.size();
  report.confusion.assign(n, std::vector<int64_t>(n, 0));
  for (const LabeledPrediction& p : predictions) {
    ++report.confusion[index[p.gold]][index[p.predicted]];
  }
  return report;
}

std::string FormatReportText(const EvaluationReport& report) {
  std::string out = absl::StrCat("examples: ", report.examples,
                                 "\naccuracy: ", Fixed(report.accuracy),
                                 "\nmacro-F1: ", Fixed(report.macro_f1), "\n");
  if (!report.languages.empty()) {
    absl::StrAppend(
        &out, "languages: ", report.languages.size(),
        "\nmean per-language accuracy: ", Fixed(report.mean_language_accuracy),
        "\nmean per-language macro-F1: ", Fixed(report.mean_language_macro_f1),
        "\n");
  }
  absl::StrAppend(&out,
                  "\n| label | precision | recall | F1 | support | "
                  "predicted | false-positive rate |\n"
                  "|---|---:|---:|---:|---:|---:|---:|\n");
  for (const LabelMetrics& label : report.labels) {
    absl::StrAppend(&out, "| ", label.label, " | ", Fixed(label.precision),
                    " | ", Fixed(label.recall), " | ", Fixed(label.f1), " | ",
                    label.support, " | ", label.predicted, " | ",
                    Fixed(label.false_positive_rate), " |\n");
  }
  if (!report.languages.empty()) {
    absl::StrAppend(&out,
                    "\n| language | examples | accuracy | macro-F1 |\n"
                    "|---|---:|---:|---:|\n");
    for (const LanguageMetrics& lang : report.languages) {
      absl::StrAppend(&out, "| ", lang.lang, " | ", lang.examples, " | ",
                      Fixed(lang.accuracy), " | ", Fixed(lang.macro_f1),
                      " |\n");
    }
  }
  absl::StrAppend(&out,
                  "\nconfusion matrix (rows: gold, columns: predicted)\n\n| |");
  for (const std::string& label : report.confusion_labels) {
    absl::StrAppend(&out, " ", label, " |");
  }
  absl::StrAppend(&out, "\n|---|");
  for (size_t i = 0; i < report.confusion_labels.size(); ++i) {
    absl::StrAppend(&out, "---:|");
  }
  absl::StrAppend(&out, "\n");
  for (size_t g = 0; g < report.confusion.size(); ++g) {
    absl::StrAppend(&out, "| ", report.confusion_labels[g], " |");
    for (int64_t count : report.confusion[g]) {
      absl::StrAppend(&out, " ", count, " |");
    }
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string FormatReportJson(const EvaluationReport& report) {
  nlohmann::json json;
  json["examples"] = report.examples;
  json["accuracy"] = report.accuracy;
  json["macro_f1"] = report.macro_f1;
  json["labels"] = nlohmann::json::array();
  for (const LabelMetrics& label : report.labels) {
    json["labels"].push_back({{"label", label.label},
                              {"precision", label.precision},
                              {"recall", label.recall},
                              {"f1", label.f1},
                              {"support", label.support},
                              {"predicted", label.predicted},
                              {"false_positive_rate",
                               label.false_positive_rate}});
  }
  json["languages"] = nlohmann::json::array();
  for (const LanguageMetrics& lang : report.languages) {
    json["languages"].push_back({{"lang", lang.lang},
                                 {"examples", lang.examples},
                                 {"accuracy", lang.accuracy},
                                 {"macro_f1", lang.macro_f1}});
  }
  json["mean_language_accuracy"] = report.mean_language_accuracy;
  json["mean_language_macro_f1"] = report.mean_language_macro_f1;
  json["confusion_labels"] = report.confusion_labels;
  json["confusion"] = report.confusion;
  return json.dump(2) + "\n";
}

}  // namespace kabar::train
