// Copyright kabar authors.
// FastTextClassifier: the Classifier backed by supervised fastText models:
// a language model (the stock lid.176.ftz), optionally kabar's own language
// model (models/language.ftz, trained by kabar-train for the languages
// lid.176 does not know), and a topic model (models/topic.ftz). With two
// language models, one answer comes out of CombineLanguages
// (language_rule.h); every language label goes through LanguageCodes
// (language_codes.h), so both models speak kabar's codes. It is the only kabar code that
// touches fastText: the .cc file includes it and turns its exceptions into
// absl::Status.
//
// Each model sees the text the way it was trained:
//  - language: common::FlattenForLanguageModel(title, body), i.e. one line
//    with case and punctuation intact (lid.176 was trained on raw text);
//  - kabar's language model and topics: common::NormalizeForTopicModel of
//    that line, exactly what kabar-train feeds the trainer.
// Flattening matters: fastText reads a text only up to its first newline,
// so an unflattened multi-paragraph body would be judged on its first line.
//
// Prediction runs on FastPredictor (fast_predictor.h), which gives
// fastText's answers several times faster; fastText's own predictLine stays
// available (Options::engine) for comparison and is used automatically for
// a model FastPredictor does not support.
#ifndef KABAR_SERVICES_CLASSIFY_FASTTEXT_CLASSIFIER_H_
#define KABAR_SERVICES_CLASSIFY_FASTTEXT_CLASSIFIER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/classify/classifier.h"
#include "services/classify/fast_predictor.h"
#include "services/classify/language_rule.h"

namespace kabar::classify {

// Language code reported when the language model is unsure.
inline constexpr char kUndeterminedLanguage[] = "und";

// Immutable once created, and thread-safe: fastText prediction is const and
// keeps its scratch state per call, so one loaded model serves all threads
// with no copies and no locks.
class FastTextClassifier final : public Classifier {
 public:
  struct Options {
    // --- Model files (required) ---

    // Supervised fastText model whose labels are language codes, e.g.
    // models/lid.176.ftz.
    std::string language_model_path;
    // Supervised fastText model whose labels are topics, e.g.
    // models/topic.ftz.
    std::string topic_model_path;
    // Optional: kabar's language model (labels are kabar codes), e.g.
    // models/language.ftz. Empty: lid.176's answer alone, as before.
    std::string kabar_language_model_path;

    // --- Language ---

    // Below this top-1 probability the language is reported as "und".
    // Default 0.4: on headline-length text lid.176 is usually right at
    // 0.5-0.7 with close relatives sharing the rest (id/ms, zh/ja), while
    // under ~0.4 it is guessing from too little text ("Ok." -> en at 0.21).
    // Full articles typically score above 0.7. Range [0, 1].
    double min_language_confidence = 0.4;
    // With kabar's language model: the thresholds of CombineLanguages
    // (language_rule.h, where the defaults are explained). Range [0, 1].
    double lid_trust_confidence = LanguageRuleOptions().lid_trust_confidence;
    double kabar_override_confidence =
        LanguageRuleOptions().kabar_override_confidence;
    // kabar's language model reads at most this many bytes of the
    // normalized text (cut at a space). Default 500: a headline and a first
    // paragraph settle the language (combined MasakhaNEWS dev accuracy
    // 0.989, against 0.996 reading whole articles), and reading whole
    // articles would halve classify throughput. 0: no limit.
    int kabar_language_max_bytes = 500;
    // At most this many runner-up languages in LanguageLabel.alternatives.
    // Default 3: enough to show a close call (id vs ms) without listing
    // lid.176's long tail of 176 labels. >= 0.
    int max_language_alternatives = 3;
    // Runner-up languages below this probability are not listed. Default
    // 0.05: lower ones are noise, so a confident answer has no alternatives.
    // Range [0, 1].
    double min_alternative_confidence = 0.05;

    // --- Topics ---

    // Topics returned when a request does not say (top_k_topics = 0).
    // Default 3: an article can span a few topics (politics and economy),
    // and more than three is rarely informative. >= 1.
    int top_k_topics = 3;
    // Topics below this probability are dropped, so a text may get fewer
    // than top_k topics or none. Default 0.2: the topic model has about
    // seven labels, so uniform guessing is ~0.14 per label; 0.2 keeps
    // secondary topics the model actually favours and drops that tail.
    // Range [0, 1].
    double min_topic_confidence = 0.2;

    // --- Prediction engine ---

    enum class Engine {
      // FastPredictor: fastText's answers, several times faster. A model it
      // does not support (logged at load) falls back to kFastText.
      kFast,
      // fastText's own predictLine: the reference, for comparison.
      kFastText,
    };
    // Default kFast. Both give the same labels; probabilities agree to
    // float rounding (~1e-7).
    Engine engine = Engine::kFast;
    // Memory budgets of the fast engine; see FastPredictor::Options.
    FastPredictor::Options fast_predictor;
  };

  // Loads both models and records each file's SHA-256, size and labels.
  // Errors: INVALID_ARGUMENT for out-of-range options or a path left empty;
  // NOT_FOUND when a model file cannot be opened; INVALID_ARGUMENT when it
  // is not a (complete) supervised fastText model. Messages name the path.
  static absl::StatusOr<std::unique_ptr<FastTextClassifier>> Create(
      const Options& options);

  ~FastTextClassifier() override;
  FastTextClassifier(const FastTextClassifier&) = delete;
  FastTextClassifier& operator=(const FastTextClassifier&) = delete;

  // See Classifier::Classify. The language is the top-1 prediction with its
  // probability, plus up to max_language_alternatives runners-up at or above
  // min_alternative_confidence. When the top-1 probability is below
  // min_language_confidence the code is "und", `confidence` is the best
  // guess's probability and the guesses, best first, are the alternatives.
  // With kabar's language model, CombineLanguages picks the model whose
  // answer is reported (with that model's alternatives) and
  // LanguageLabel.decided_by says which; an "und" lists lid.176's guesses.
  // Topics are the top `top_k_topics` (0: options' top_k_topics) at or
  // above min_topic_confidence, most likely first. Labels never carry
  // fastText's "__label__" prefix.
  absl::StatusOr<v1::Labels> Classify(absl::string_view title,
                                      absl::string_view body,
                                      int top_k_topics) const override;

  // Role ("language", "topic", "kabar_language"), path, identity (file name
  // and SHA-256), labels (language codes as kabar reports them), load time
  // and size of each model: lid.176, topic, then kabar's language model
  // when loaded.
  std::vector<v1::ModelInfo> Models() const override;

  const Options& options() const { return options_; }

  // Whether the language and topic models run on FastPredictor (false:
  // fastText's predictLine, by choice or because the model is unsupported).
  bool language_uses_fast_engine() const;
  bool topic_uses_fast_engine() const;
  bool has_kabar_language_model() const { return kabar_language_ != nullptr; }

 private:
  // A loaded fastText model and what GetModels says about it. Defined in
  // the .cc file so fastText stays out of this header.
  struct Model;

  // Reads, checks and loads one model file, preparing the engine `options`
  // asks for. Errors as for Create.
  // Language models' labels are mapped to kabar codes.
  static absl::StatusOr<std::unique_ptr<const Model>> LoadModel(
      const std::string& role, const std::string& path, const Options& options);

  FastTextClassifier(Options options, std::unique_ptr<const Model> language,
                     std::unique_ptr<const Model> topic,
                     std::unique_ptr<const Model> kabar_language);

  const Options options_;
  const std::unique_ptr<const Model> language_;
  const std::unique_ptr<const Model> topic_;
  const std::unique_ptr<const Model> kabar_language_;  // may be null
  // The codes each language model can answer (empty without kabar's).
  absl::flat_hash_set<std::string> lid_codes_;
  absl::flat_hash_set<std::string> kabar_codes_;
  LanguageRuleOptions language_rule_;  // from options_
};

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_FASTTEXT_CLASSIFIER_H_
