// Copyright kabar authors.
#include "services/classify/fasttext_classifier.h"

#include <fasttext/fasttext.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/classify/language_codes.h"
#include "services/common/logging.h"
#include "services/common/sha256.h"
#include "services/common/status_macros.h"
#include "services/common/metrics.h"
#include "services/common/text.h"

namespace kabar::classify {
namespace {

constexpr char kLanguageRole[] = "language";
constexpr char kTopicRole[] = "topic";
constexpr char kKabarLanguageRole[] = "kabar_language";

// fastText's loadModel(std::istream&) skips the header check that
// loadModel(path) performs, and the header also sets the format version that
// loading consults. Models are loaded from memory (so the bytes hashed are
// the bytes loaded, even if the file is replaced meanwhile), so the check is
// reached through this subclass. It adds no state.
class CheckedFastText final : public fasttext::FastText {
 public:
  // Reads fastText's magic number and version. False when they are wrong.
  bool ReadHeader(std::istream& in) { return checkModel(in); }
};

// A prediction with fastText's label prefix removed.
struct Prediction {
  std::string label;
  float probability;
};

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  const int64_t nanos = absl::ToUnixNanos(time);
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(nanos / 1000000000);
  timestamp.set_nanos(static_cast<int32_t>(nanos % 1000000000));
  return timestamp;
}

absl::Status ValidateOptions(const FastTextClassifier::Options& options) {
  const auto is_probability = [](double p) { return p >= 0.0 && p <= 1.0; };
  if (options.language_model_path.empty()) {
    return absl::InvalidArgumentError("language model path is empty");
  }
  if (options.topic_model_path.empty()) {
    return absl::InvalidArgumentError("topic model path is empty");
  }
  if (!is_probability(options.min_language_confidence) ||
      !is_probability(options.min_alternative_confidence) ||
      !is_probability(options.min_topic_confidence) ||
      !is_probability(options.lid_trust_confidence) ||
      !is_probability(options.kabar_override_confidence)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "confidence thresholds must be in [0, 1]; got min_language_confidence=",
        options.min_language_confidence,
        " min_alternative_confidence=", options.min_alternative_confidence,
        " min_topic_confidence=", options.min_topic_confidence,
        " lid_trust_confidence=", options.lid_trust_confidence,
        " kabar_override_confidence=", options.kabar_override_confidence));
  }
  if (options.top_k_topics < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k_topics must be >= 1; got ", options.top_k_topics));
  }
  if (options.kabar_language_max_bytes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("kabar_language_max_bytes must be >= 0; got ",
                     options.kabar_language_max_bytes));
  }
  if (options.max_language_alternatives < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_language_alternatives must be >= 0; got ",
                     options.max_language_alternatives));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& role,
                                     const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", role, " model ",
                                            path, ": ", std::strerror(errno)));
  }
  std::string bytes;
  try {
    // libstdc++ throws on read errors (e.g. EISDIR) whatever the stream's
    // exception mask.
    bytes.assign(std::istreambuf_iterator<char>(in),
                 std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", role, " model ", path, ": ", e.what()));
  }
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", role, " model ", path));
  }
  return bytes;
}

}  // namespace

struct FastTextClassifier::Model {
  // Exactly one of the two engines is set.
  std::unique_ptr<const CheckedFastText> fasttext;
  std::unique_ptr<const FastPredictor> fast;
  // fastText's label prefix, "__label__" unless the model was trained with
  // another -label.
  std::string label_prefix;
  // Labels without the prefix (language models: as kabar codes), in
  // fastText's label order.
  std::vector<std::string> labels;
  // fastText's labels, with the prefix, in the same order.
  std::vector<std::string> raw_labels;
  v1::ModelInfo info;

  // The k most likely labels at or above `threshold`, best first, into
  // *predictions (whose storage is reused). `line` must not contain a
  // newline.
  absl::Status Predict(absl::string_view line, int k, float threshold,
                       std::vector<Prediction>* predictions) const {
    if (fast != nullptr) {
      thread_local std::vector<FastPredictor::Prediction> raw;
      fast->Predict(line, k, threshold, &raw);
      predictions->resize(raw.size());
      for (size_t i = 0; i < raw.size(); ++i) {
        (*predictions)[i].label = labels[raw[i].label];
        (*predictions)[i].probability = raw[i].probability;
      }
      return absl::OkStatus();
    }
    // Training lines end in a newline, which fastText turns into the
    // end-of-sentence token "</s>"; fastText's own predict tools add one
    // too, so the model sees what it was trained on.
    std::string terminated(line);
    terminated.push_back('\n');
    std::istringstream in(terminated);
    std::vector<std::pair<fasttext::real, std::string>> raw;
    try {
      fasttext->predictLine(in, raw, k, threshold);
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("fastText prediction failed (",
                                              info.path(), "): ", e.what()));
    }
    predictions->clear();
    for (auto& [probability, label] : raw) {
      const auto it =
          std::find(raw_labels.begin(), raw_labels.end(), label);
      predictions->push_back(
          {it != raw_labels.end()
               ? labels[it - raw_labels.begin()]
               : std::string(absl::StripPrefix(label, label_prefix)),
           static_cast<float>(probability)});
    }
    return absl::OkStatus();
  }
};

namespace {

// What fastText read from a model, to check FastPredictor against.
struct FastTextView {
  int dim;
  int loss;
  int32_t nwords;
  std::vector<std::string> labels;  // with their prefix
};

// The fast engine for `bytes`, checked against what fastText read from the
// same bytes; null (and a logged reason) when it cannot be used.
std::unique_ptr<const FastPredictor> MakeFastPredictor(
    const std::string& role, const std::string& path, const std::string& bytes,
    const FastTextView& expected, const FastPredictor::Options& options) {
  const auto fall_back = [&](absl::string_view why) {
    common::LogWarning(absl::StrCat("using fastText's predict for ", role,
                                    " model ", path, ": ", why));
    return nullptr;
  };
  absl::StatusOr<std::unique_ptr<FastPredictor>> fast =
      FastPredictor::Create(bytes, options);
  if (!fast.ok()) return fall_back(fast.status().ToString());
  if ((*fast)->dim() != expected.dim || (*fast)->loss() != expected.loss ||
      (*fast)->num_words() != expected.nwords ||
      (*fast)->labels() != expected.labels) {
    return fall_back("it reads the model differently from fastText");
  }
  return std::move(fast).value();
}

// Loads `bytes` with fastText. Errors: INVALID_ARGUMENT naming `role` and
// `path`, as for FastTextClassifier::Create.
absl::StatusOr<std::unique_ptr<CheckedFastText>> LoadFastText(
    const std::string& role, const std::string& path,
    const std::string& bytes) {
  const auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(role, " model ", path, " ", why));
  };
  auto fasttext = std::make_unique<CheckedFastText>();
  std::istringstream in(bytes);
  // fastText reads the 8-byte header without checking that it got it.
  if (bytes.size() < 8 || !fasttext->ReadHeader(in)) {
    return invalid(
        "is not a fastText model (bad magic number or unsupported version)");
  }
  try {
    fasttext->loadModel(in);
  } catch (const std::exception& e) {
    return invalid(absl::StrCat("cannot be loaded: ", e.what()));
  }
  if (in.fail()) return invalid("is truncated");
  if (fasttext->getArgs().model != fasttext::model_name::sup) {
    return invalid("is not a supervised (classification) model");
  }
  if (fasttext->getDictionary()->nlabels() == 0)
    return invalid("has no labels");
  return fasttext;
}

// Merges predictions of the same code (lid.176's "ar" and "arz" are both
// kabar's "ar"), adding up their probabilities; keeps them best first.
void MergeSameCodes(std::vector<Prediction>* predictions) {
  std::vector<Prediction>& p = *predictions;
  for (size_t i = 0; i < p.size(); ++i) {
    for (size_t j = i + 1; j < p.size();) {
      if (p[j].label == p[i].label) {
        p[i].probability += p[j].probability;
        p.erase(p.begin() + static_cast<std::ptrdiff_t>(j));
      } else {
        ++j;
      }
    }
  }
  std::stable_sort(p.begin(), p.end(),
                   [](const Prediction& a, const Prediction& b) {
                     return a.probability > b.probability;
                   });
}

// Fills *language from one model's predictions (best first): the top code
// when `sure`, else "und"; its probability; and the runners-up (when
// unsure, the best guess itself comes first) at or above
// min_alternative_confidence.
void SetLanguage(const std::vector<Prediction>& languages, bool sure,
                 const FastTextClassifier::Options& options,
                 v1::LanguageLabel* language) {
  language->set_code(kUndeterminedLanguage);
  language->clear_alternatives();
  if (languages.empty()) return;
  if (sure) language->set_code(languages[0].label);
  language->set_confidence(languages[0].probability);
  const size_t first_alternative = sure ? 1 : 0;
  const size_t end =
      std::min(languages.size(),
               first_alternative + options.max_language_alternatives);
  for (size_t i = first_alternative; i < end; ++i) {
    if (languages[i].probability < options.min_alternative_confidence) break;
    v1::LabelScore& alternative = *language->add_alternatives();
    alternative.set_label(languages[i].label);
    alternative.set_confidence(languages[i].probability);
  }
}

// At most `max_bytes` of a normalized text, cut at a space so no word is
// split, or (for scripts written without spaces) at a UTF-8 character
// boundary; the whole text when max_bytes <= 0.
absl::string_view Prefix(absl::string_view text, int max_bytes) {
  if (max_bytes <= 0 || text.size() <= static_cast<size_t>(max_bytes)) {
    return text;
  }
  size_t cut = text.rfind(' ', static_cast<size_t>(max_bytes));
  if (cut == absl::string_view::npos || cut == 0) {
    cut = static_cast<size_t>(max_bytes);
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) {
      --cut;
    }
  }
  return text.substr(0, cut);
}

const char* DecidedBy(LanguageSource source) {
  switch (source) {
    case LanguageSource::kLid:
      return "lid";
    case LanguageSource::kKabar:
      return "kabar";
    case LanguageSource::kBoth:
      return "both";
    case LanguageSource::kNone:
      break;
  }
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<const FastTextClassifier::Model>>
FastTextClassifier::LoadModel(const std::string& role, const std::string& path,
                              const Options& options) {
  KABAR_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(role, path));
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<CheckedFastText> fasttext,
                         LoadFastText(role, path, bytes));
  const fasttext::Args args = fasttext->getArgs();
  std::shared_ptr<const fasttext::Dictionary> dictionary =
      fasttext->getDictionary();

  auto model = std::make_unique<Model>();
  model->label_prefix = args.label;
  v1::ModelInfo& info = model->info;
  info.set_role(role);
  info.set_path(path);
  info.mutable_identity()->set_name(
      std::filesystem::path(path).filename().string());
  info.mutable_identity()->set_sha256(common::Sha256Hex(bytes));
  FastTextView view{
      args.dim, static_cast<int>(args.loss), dictionary->nwords(), {}};
  const bool is_language = role != kTopicRole;
  for (int32_t i = 0; i < dictionary->nlabels(); ++i) {
    view.labels.push_back(dictionary->getLabel(i));
    const absl::string_view label =
        absl::StripPrefix(view.labels.back(), args.label);
    model->labels.push_back(is_language
                                ? LanguageCodes::Default().Map(label)
                                : std::string(label));
    info.add_labels(model->labels.back());
  }
  model->raw_labels = view.labels;
  *info.mutable_loaded_at() = ToTimestamp(absl::Now());
  info.set_size_bytes(static_cast<int64_t>(bytes.size()));
  if (options.engine == Options::Engine::kFast) {
    // fastText's copy is dead weight next to the fast engine (~40 MB for a
    // pruned topic model, mostly its prune index): free it first, so the
    // two are never in memory together, and reload it only to fall back.
    dictionary.reset();
    fasttext.reset();
    model->fast =
        MakeFastPredictor(role, path, bytes, view, options.fast_predictor);
    if (model->fast == nullptr) {
      KABAR_ASSIGN_OR_RETURN(fasttext, LoadFastText(role, path, bytes));
    }
  }
  model->fasttext = std::move(fasttext);
  return model;
}

absl::StatusOr<std::unique_ptr<FastTextClassifier>> FastTextClassifier::Create(
    const Options& options) {
  KABAR_RETURN_IF_ERROR(ValidateOptions(options));
  KABAR_ASSIGN_OR_RETURN(
      std::unique_ptr<const Model> language,
      LoadModel(kLanguageRole, options.language_model_path, options));
  KABAR_ASSIGN_OR_RETURN(
      std::unique_ptr<const Model> topic,
      LoadModel(kTopicRole, options.topic_model_path, options));
  std::unique_ptr<const Model> kabar_language;
  if (!options.kabar_language_model_path.empty()) {
    KABAR_ASSIGN_OR_RETURN(kabar_language,
                           LoadModel(kKabarLanguageRole,
                                     options.kabar_language_model_path,
                                     options));
  }
  return std::unique_ptr<FastTextClassifier>(
      new FastTextClassifier(options, std::move(language), std::move(topic),
                             std::move(kabar_language)));
}

FastTextClassifier::FastTextClassifier(
    Options options, std::unique_ptr<const Model> language,
    std::unique_ptr<const Model> topic,
    std::unique_ptr<const Model> kabar_language)
    : options_(std::move(options)),
      language_(std::move(language)),
      topic_(std::move(topic)),
      kabar_language_(std::move(kabar_language)) {
  language_rule_.min_confidence = options_.min_language_confidence;
  language_rule_.lid_trust_confidence = options_.lid_trust_confidence;
  language_rule_.kabar_override_confidence =
      options_.kabar_override_confidence;
  if (kabar_language_ != nullptr) {
    lid_codes_.insert(language_->labels.begin(), language_->labels.end());
    kabar_codes_.insert(kabar_language_->labels.begin(),
                        kabar_language_->labels.end());
  }
}

FastTextClassifier::~FastTextClassifier() = default;

namespace {

// Per-text prediction time of one model: microseconds to milliseconds.
common::Histogram& ModelSeconds(const char* role) {
  static const std::vector<double> buckets = {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                              1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1};
  return common::Metrics().GetHistogram(
      "kabar_classify_model_seconds",
      "Time one model took to label one text (normalization included for topics), by "
      "model role (language, kabar_language, topic).",
      buckets, {{"model", role}});
}

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

absl::StatusOr<v1::Labels> FastTextClassifier::Classify(
    absl::string_view title, absl::string_view body, int top_k_topics) const {
  if (top_k_topics < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k_topics must be >= 0; got ", top_k_topics));
  }
  if (absl::Status valid = common::ValidateUtf8(title); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("title: ", valid.message()));
  }
  if (absl::Status valid = common::ValidateUtf8(body); !valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("body: ", valid.message()));
  }

  v1::Labels labels;
  *labels.mutable_language_model() = language_->info.identity();
  *labels.mutable_topic_model() = topic_->info.identity();
  if (kabar_language_ != nullptr) {
    *labels.mutable_kabar_language_model() = kabar_language_->info.identity();
  }
  v1::LanguageLabel& language = *labels.mutable_language();
  language.set_code(kUndeterminedLanguage);

  const std::string line = common::FlattenForLanguageModel(title, body);
  if (line.empty()) return labels;  // Nothing to judge: "und", no topics.
  const std::string normalized = common::NormalizeForTopicModel(line);

  // Reused per thread: no allocation per call once warm. One extra
  // prediction makes up for codes merged away.
  const int k = 2 + options_.max_language_alternatives;
  thread_local std::vector<Prediction> lid;
  static common::Histogram& language_seconds = ModelSeconds("language");
  static common::Histogram& kabar_language_seconds = ModelSeconds("kabar_language");
  static common::Histogram& topic_seconds = ModelSeconds("topic");
  auto start = std::chrono::steady_clock::now();
  KABAR_RETURN_IF_ERROR(language_->Predict(line, k, /*threshold=*/0.0f, &lid));
  language_seconds.Observe(SecondsSince(start));
  MergeSameCodes(&lid);
  if (kabar_language_ == nullptr) {
    SetLanguage(lid, !lid.empty() && lid[0].probability >=
                                         options_.min_language_confidence,
                options_, &language);
  } else {
    thread_local std::vector<Prediction> kabar;
    start = std::chrono::steady_clock::now();
    KABAR_RETURN_IF_ERROR(kabar_language_->Predict(
        Prefix(normalized, options_.kabar_language_max_bytes), k,
        /*threshold=*/0.0f, &kabar));
    kabar_language_seconds.Observe(SecondsSince(start));
    const auto guess = [](const std::vector<Prediction>& predictions,
                          const absl::flat_hash_set<std::string>& other) {
      if (predictions.empty()) return LanguageGuess{"", 0, false};
      return LanguageGuess{predictions[0].label, predictions[0].probability,
                           other.contains(predictions[0].label)};
    };
    const LanguageGuess lid_guess = guess(lid, kabar_codes_);
    const LanguageGuess kabar_guess = guess(kabar, lid_codes_);
    const LanguageDecision decision =
        CombineLanguages(lid_guess, kabar_guess, language_rule_);
    // The alternatives come from the model whose answer is reported, or
    // from the surer one.
    const bool use_kabar =
        decision.source == LanguageSource::kKabar ||
        (decision.source != LanguageSource::kLid &&
         kabar_guess.confidence > lid_guess.confidence);
    SetLanguage(use_kabar ? kabar : lid,
                decision.source != LanguageSource::kNone, options_, &language);
    if (decision.source != LanguageSource::kNone) {
      language.set_confidence(static_cast<float>(decision.confidence));
    }
    language.set_decided_by(DecidedBy(decision.source));
  }

  thread_local std::vector<Prediction> predictions;
  start = std::chrono::steady_clock::now();
  KABAR_RETURN_IF_ERROR(topic_->Predict(
      normalized,
      top_k_topics > 0 ? top_k_topics : options_.top_k_topics,
      static_cast<float>(options_.min_topic_confidence), &predictions));
  topic_seconds.Observe(SecondsSince(start));
  for (const Prediction& topic : predictions) {
    v1::LabelScore& score = *labels.add_topics();
    score.set_label(topic.label);
    score.set_confidence(topic.probability);
  }
  return labels;
}

std::vector<v1::ModelInfo> FastTextClassifier::Models() const {
  std::vector<v1::ModelInfo> models = {language_->info, topic_->info};
  if (kabar_language_ != nullptr) models.push_back(kabar_language_->info);
  return models;
}

bool FastTextClassifier::language_uses_fast_engine() const {
  return language_->fast != nullptr;
}

bool FastTextClassifier::topic_uses_fast_engine() const {
  return topic_->fast != nullptr;
}

}  // namespace kabar::classify
