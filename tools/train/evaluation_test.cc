// Copyright kabar authors.
#include "tools/train/evaluation.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace kabar::train {
namespace {

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Worked by hand:
//   a: support 3, predicted 3, tp 2 -> P 2/3, R 2/3, F1 2/3
//   b: support 2, predicted 3, tp 1 -> P 1/3, R 1/2, F1 0.4
//   c: support 2, predicted 1, tp 1 -> P 1,   R 1/2, F1 2/3
//   accuracy 4/7, macro-F1 (2/3 + 0.4 + 2/3) / 3 = 0.57778
//   x: accuracy 3/4; a P 1 R 2/3 F1 0.8, b P 1/2 R 1 F1 2/3 -> 0.73333
//   y: accuracy 1/3; a (only predicted, not averaged), b 0, c 2/3 -> 1/3
const std::vector<LabeledPrediction>& Example() {
  static const auto* predictions = new std::vector<LabeledPrediction>{
      {"a", "a", "x"}, {"a", "a", "x"}, {"a", "b", "x"}, {"b", "b", "x"},
      {"b", "a", "y"}, {"c", "c", "y"}, {"c", "b", "y"},
  };
  return *predictions;
}

TEST(EvaluateTest, MatchesHandComputedMetrics) {
  const EvaluationReport report = Evaluate(Example());
  constexpr double kEps = 1e-9;
  EXPECT_EQ(report.examples, 7);
  EXPECT_THAT(report.accuracy, DoubleNear(4.0 / 7, kEps));
  EXPECT_THAT(report.macro_f1, DoubleNear((2.0 / 3 + 0.4 + 2.0 / 3) / 3, kEps));
  ASSERT_EQ(report.labels.size(), 3u);
  EXPECT_EQ(report.labels[1].label, "b");
  EXPECT_THAT(report.labels[1].precision, DoubleNear(1.0 / 3, kEps));
  EXPECT_THAT(report.labels[1].recall, DoubleNear(0.5, kEps));
  EXPECT_THAT(report.labels[1].f1, DoubleNear(0.4, kEps));
  EXPECT_EQ(report.labels[1].support, 2);
  EXPECT_EQ(report.labels[1].predicted, 3);
  // b: 2 false positives among the 5 examples that are not b.
  EXPECT_THAT(report.labels[1].false_positive_rate, DoubleNear(0.4, kEps));
  // a: 1 of 4; c: 0 of 5.
  EXPECT_THAT(report.labels[0].false_positive_rate, DoubleNear(0.25, kEps));
  EXPECT_THAT(report.labels[2].false_positive_rate, DoubleNear(0.0, kEps));
  EXPECT_THAT(report.labels[2].precision, DoubleNear(1.0, kEps));

  ASSERT_EQ(report.languages.size(), 2u);
  EXPECT_EQ(report.languages[0].lang, "x");
  EXPECT_THAT(report.languages[0].accuracy, DoubleNear(0.75, kEps));
  EXPECT_THAT(report.languages[0].macro_f1,
              DoubleNear((0.8 + 2.0 / 3) / 2, kEps));
  EXPECT_THAT(report.languages[1].accuracy, DoubleNear(1.0 / 3, kEps));
  EXPECT_THAT(report.languages[1].macro_f1, DoubleNear(1.0 / 3, kEps));
  EXPECT_THAT(report.mean_language_accuracy,
              DoubleNear((0.75 + 1.0 / 3) / 2, kEps));

  EXPECT_THAT(report.confusion_labels, ElementsAre("a", "b", "c"));
  EXPECT_THAT(report.confusion,
              ElementsAre(ElementsAre(2, 1, 0), ElementsAre(1, 1, 0),
                          ElementsAre(0, 1, 1)));
}

TEST(EvaluateTest, EmptyPredictionsGetTheirOwnColumn) {
  const EvaluationReport report =
      Evaluate({{"a", "a", ""}, {"a", "", ""}, {"b", "b", ""}});
  EXPECT_TRUE(report.languages.empty());
  EXPECT_THAT(report.confusion_labels, ElementsAre("a", "b", "(none)"));
  EXPECT_THAT(report.confusion[0], ElementsAre(1, 0, 1));
  EXPECT_THAT(report.macro_f1, DoubleNear((2.0 / 3 + 1.0) / 2, 1e-9));
}

TEST(EvaluateTest, MacroF1AveragesGoldLabelsOnly) {
  // "z" is predicted but never gold: listed, yet not averaged.
  const EvaluationReport report =
      Evaluate({{"a", "a", ""}, {"a", "z", ""}, {"b", "b", ""}});
  ASSERT_EQ(report.labels.size(), 3u);
  EXPECT_EQ(report.labels[2].label, "z");
  EXPECT_EQ(report.labels[2].support, 0);
  EXPECT_THAT(report.macro_f1, DoubleNear((2.0 / 3 + 1.0) / 2, 1e-9));
}

TEST(EvaluateTest, EmptyInputIsAllZero) {
  const EvaluationReport report = Evaluate({});
  EXPECT_EQ(report.examples, 0);
  EXPECT_EQ(report.accuracy, 0);
  EXPECT_TRUE(report.confusion.empty());
}

TEST(FormatReportTest, TextHasTheTables) {
  const std::string text = FormatReportText(Evaluate(Example()));
  EXPECT_THAT(text, HasSubstr("accuracy: 0.5714"));
  EXPECT_THAT(text, HasSubstr("macro-F1: 0.5778"));
  EXPECT_THAT(text, HasSubstr("| b | 0.3333 | 0.5000 | 0.4000 | 2 |"));
  EXPECT_THAT(text, HasSubstr("| x | 4 | 0.7500 | 0.7333 |"));
  EXPECT_THAT(text, HasSubstr("| c | 0 | 1 | 1 |"));
}

TEST(FormatReportTest, JsonRoundTrips) {
  const nlohmann::json json =
      nlohmann::json::parse(FormatReportJson(Evaluate(Example())));
  EXPECT_EQ(json["examples"], 7);
  EXPECT_NEAR(json["accuracy"].get<double>(), 4.0 / 7, 1e-9);
  EXPECT_EQ(json["labels"].size(), 3u);
  EXPECT_EQ(json["languages"][1]["lang"], "y");
  EXPECT_EQ(json["confusion"][2][1], 1);
}

}  // namespace
}  // namespace kabar::train
