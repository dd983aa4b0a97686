// Copyright kabar authors.
#include "services/classify/language_rule.h"

#include "gtest/gtest.h"

namespace kabar::classify {
namespace {

// Defaults: min 0.4, lid trusted from 0.5 on its trusted codes (id, en,
// sw, ... not hi), kabar overrides from 0.999.
const LanguageRuleOptions kOptions;

LanguageGuess Guess(const char* code, double confidence,
                    bool other_knows = true) {
  return LanguageGuess{code, confidence, other_knows};
}

TEST(CombineLanguagesTest, AgreementTakesTheHigherConfidence) {
  const LanguageDecision d =
      CombineLanguages(Guess("id", 0.55), Guess("id", 0.97), kOptions);
  EXPECT_EQ(d.code, "id");
  EXPECT_DOUBLE_EQ(d.confidence, 0.97);
  EXPECT_EQ(d.source, LanguageSource::kBoth);
}

TEST(CombineLanguagesTest, AgreementNeedsOneSureModel) {
  const LanguageDecision d =
      CombineLanguages(Guess("id", 0.3), Guess("id", 0.35), kOptions);
  EXPECT_EQ(d.code, "");
  EXPECT_EQ(d.source, LanguageSource::kNone);
  EXPECT_DOUBLE_EQ(d.confidence, 0.35);
}

// lid.176 calls isiXhosa English with confidence; it cannot know better.
TEST(CombineLanguagesTest, KabarWinsOnALanguageLidDoesNotKnow) {
  const LanguageDecision d = CombineLanguages(
      Guess("en", 0.95), Guess("xh", 0.6, /*other_knows=*/false), kOptions);
  EXPECT_EQ(d.code, "xh");
  EXPECT_DOUBLE_EQ(d.confidence, 0.6);
  EXPECT_EQ(d.source, LanguageSource::kKabar);
}

TEST(CombineLanguagesTest, UnsureKabarDoesNotWinOnAnUnknownLanguage) {
  const LanguageDecision d = CombineLanguages(
      Guess("en", 0.95), Guess("xh", 0.3, /*other_knows=*/false), kOptions);
  EXPECT_EQ(d.code, "en");
  EXPECT_EQ(d.source, LanguageSource::kLid);
}

TEST(CombineLanguagesTest, LidWinsOnALanguageKabarDoesNotKnow) {
  const LanguageDecision d = CombineLanguages(
      Guess("la", 0.5, /*other_knows=*/false), Guess("it", 0.98), kOptions);
  EXPECT_EQ(d.code, "la");
  EXPECT_EQ(d.source, LanguageSource::kLid);
}

// Indonesian and Malay: lid.176, trained on far more text, keeps a
// confident answer against a kabar model that is not nearly certain.
TEST(CombineLanguagesTest, ConfidentLidKeepsADisagreement) {
  const LanguageDecision d =
      CombineLanguages(Guess("id", 0.93), Guess("ms", 0.9), kOptions);
  EXPECT_EQ(d.code, "id");
  EXPECT_DOUBLE_EQ(d.confidence, 0.93);
  EXPECT_EQ(d.source, LanguageSource::kLid);
}

// lid.176 labels Somali articles English; kabar's model is certain.
TEST(CombineLanguagesTest, CertainKabarOverridesConfidentLid) {
  const LanguageDecision d =
      CombineLanguages(Guess("en", 0.95), Guess("so", 0.9995), kOptions);
  EXPECT_EQ(d.code, "so");
  EXPECT_EQ(d.source, LanguageSource::kKabar);
}

TEST(CombineLanguagesTest, UnconfidentLidLosesToSureKabar) {
  const LanguageDecision d =
      CombineLanguages(Guess("sw", 0.45), Guess("ha", 0.8), kOptions);
  EXPECT_EQ(d.code, "ha");
  EXPECT_EQ(d.source, LanguageSource::kKabar);
}

// lid.176 calls Bhojpuri Hindi; on hi it is not trusted over kabar.
TEST(CombineLanguagesTest, UntrustedLidAnswerLosesToSureKabar) {
  const LanguageDecision d =
      CombineLanguages(Guess("hi", 0.8), Guess("bho", 0.9), kOptions);
  EXPECT_EQ(d.code, "bho");
  EXPECT_EQ(d.source, LanguageSource::kKabar);

  LanguageRuleOptions every_code_trusted;
  every_code_trusted.lid_trusted_codes.clear();
  EXPECT_EQ(CombineLanguages(Guess("hi", 0.8), Guess("bho", 0.9),
                             every_code_trusted)
                .code,
            "hi");
}

TEST(CombineLanguagesTest, SureLidAnswersWhenKabarIsUnsure) {
  const LanguageDecision d =
      CombineLanguages(Guess("sw", 0.7), Guess("ha", 0.2), kOptions);
  EXPECT_EQ(d.code, "sw");
  EXPECT_EQ(d.source, LanguageSource::kLid);
}

TEST(CombineLanguagesTest, BothUnsureIsNone) {
  const LanguageDecision d =
      CombineLanguages(Guess("sw", 0.3), Guess("ha", 0.39), kOptions);
  EXPECT_EQ(d.code, "");
  EXPECT_EQ(d.source, LanguageSource::kNone);
  EXPECT_DOUBLE_EQ(d.confidence, 0.39);
}

TEST(CombineLanguagesTest, AnEmptyAnswerIsIgnored) {
  EXPECT_EQ(CombineLanguages(Guess("", 0), Guess("ha", 0.8), kOptions).code,
            "ha");
  EXPECT_EQ(CombineLanguages(Guess("sw", 0.8), Guess("", 0), kOptions).code,
            "sw");
  EXPECT_EQ(CombineLanguages(Guess("", 0), Guess("", 0), kOptions).source,
            LanguageSource::kNone);
}

TEST(CombineLanguagesTest, ThresholdsAreInclusiveAndConfigurable) {
  LanguageRuleOptions options;
  options.min_confidence = 0.5;
  options.lid_trust_confidence = 0.6;
  options.kabar_override_confidence = 0.8;
  EXPECT_EQ(CombineLanguages(Guess("id", 0.6), Guess("ms", 0.79), options).code,
            "id");
  EXPECT_EQ(CombineLanguages(Guess("id", 0.6), Guess("ms", 0.8), options).code,
            "ms");
  EXPECT_EQ(CombineLanguages(Guess("id", 0.59), Guess("ms", 0.5), options).code,
            "ms");
  EXPECT_EQ(CombineLanguages(Guess("id", 0.49), Guess("ms", 0.49), options).code,
            "");
}

}  // namespace
}  // namespace kabar::classify
