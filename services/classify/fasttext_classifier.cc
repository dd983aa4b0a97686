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
#include "services/common/logging.h"
#include "services/common/sha256.h"
#include "services/common/status_macros.h"
#include "services/common/metrics.h"
#include "services/common/text.h"

namespace kabar::classify {
namespace {

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
      !is_probability(options.min_topic_confidence)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "confidence thresholds must be in [0, 1]; got min_language_confidence=",
        options.min_language_confidence,
        " min_alternative_confidence=", options.min_alternative_confidence,
        " min_topic_confidence=", options.min_topic_confidence));
  }
  if (options.top_k_topics < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k_topics must be >= 1; got ", options.top_k_topics));
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
  // Labels without the prefix, in fastText's label order.
  std::vector<std::string> labels;
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
      predictions->push_back(
          {std::string(absl::StripPrefix(label, label_prefix)),
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
  for (int32_t i = 0; i < dictionary->nlabels(); ++i) {
    view.labels.push_back(dictionary->getLabel(i));
    model->labels.emplace_back(
        absl::StripPrefix(view.labels.back(), args.label));
    info.add_labels(model->labels.back());
  }
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
      LoadModel("language", options.language_model_path, options));
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<const Model> topic,
                         LoadModel("topic", options.topic_model_path, options));
  return std::unique_ptr<FastTextClassifier>(
      new FastTextClassifier(options, std::move(language), std::move(topic)));
}

FastTextClassifier::FastTextClassifier(Options options,
                                       std::unique_ptr<const Model> language,
                                       std::unique_ptr<const Model> topic)
    : options_(std::move(options)),
      language_(std::move(language)),
      topic_(std::move(topic)) {}

FastTextClassifier::~FastTextClassifier() = default;

namespace {

// Per-text prediction time of one model: microseconds to milliseconds.
common::Histogram& ModelSeconds(const char* role) {
  static const std::vector<double> buckets = {1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4,
                                              1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 0.1};
  return common::Metrics().GetHistogram(
      "kabar_classify_model_seconds",
      "Time one model took to label one text (normalization included for topics), by "
      "model role (language, topic).",
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
  v1::LanguageLabel& language = *labels.mutable_language();
  language.set_code(kUndeterminedLanguage);

  const std::string line = common::FlattenForLanguageModel(title, body);
  if (line.empty()) return labels;  // Nothing to judge: "und", no topics.

  // Reused per thread: no allocation per call once warm.
  thread_local std::vector<Prediction> predictions;
  static common::Histogram& language_seconds = ModelSeconds("language");
  static common::Histogram& topic_seconds = ModelSeconds("topic");
  auto start = std::chrono::steady_clock::now();
  KABAR_RETURN_IF_ERROR(
      language_->Predict(line, 1 + options_.max_language_alternatives,
                         /*threshold=*/0.0f, &predictions));
  language_seconds.Observe(SecondsSince(start));
  const std::vector<Prediction>& languages = predictions;
  if (!languages.empty()) {
    const bool sure =
        languages[0].probability >= options_.min_language_confidence;
    if (sure) language.set_code(languages[0].label);
    language.set_confidence(languages[0].probability);
    // When unsure, the best guess itself is the first alternative.
    const size_t first_alternative = sure ? 1 : 0;
    const size_t end =
        std::min(languages.size(),
                 first_alternative + options_.max_language_alternatives);
    for (size_t i = first_alternative; i < end; ++i) {
      if (languages[i].probability < options_.min_alternative_confidence) {
        break;
      }
      v1::LabelScore& alternative = *language.add_alternatives();
      alternative.set_label(languages[i].label);
      alternative.set_confidence(languages[i].probability);
    }
  }

  start = std::chrono::steady_clock::now();
  KABAR_RETURN_IF_ERROR(topic_->Predict(
      common::NormalizeForTopicModel(line),
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
  return {language_->info, topic_->info};
}

bool FastTextClassifier::language_uses_fast_engine() const {
  return language_->fast != nullptr;
}

bool FastTextClassifier::topic_uses_fast_engine() const {
  return topic_->fast != nullptr;
}

}  // namespace kabar::classify
