// Copyright kabar authors.
#include "tools/train/trainer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "fasttext/args.h"
#include "fasttext/autotune.h"
#include "fasttext/fasttext.h"
#include "services/common/logging.h"
#include "services/common/status_macros.h"

namespace kabar::train {
namespace {

constexpr char kLabelPrefix[] = "__label__";

absl::StatusOr<fasttext::loss_name> ParseLoss(const std::string& loss) {
  if (loss == "softmax") return fasttext::loss_name::softmax;
  if (loss == "hs") return fasttext::loss_name::hs;
  if (loss == "ns") return fasttext::loss_name::ns;
  if (loss == "ova") return fasttext::loss_name::ova;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown loss \"", loss, "\" (want softmax, hs, ns or ova)"));
}

std::string LossName(fasttext::loss_name loss) {
  switch (loss) {
    case fasttext::loss_name::hs:
      return "hs";
    case fasttext::loss_name::ns:
      return "ns";
    case fasttext::loss_name::ova:
      return "ova";
    case fasttext::loss_name::softmax:
      break;
  }
  return "softmax";
}

absl::Status Validate(const Hyperparameters& h) {
  if (h.epoch < 1) return absl::InvalidArgumentError("epoch must be >= 1");
  if (!(h.lr > 0)) return absl::InvalidArgumentError("lr must be > 0");
  if (h.dim < 1) return absl::InvalidArgumentError("dim must be >= 1");
  if (h.word_ngrams < 1) {
    return absl::InvalidArgumentError("word_ngrams must be >= 1");
  }
  if (h.minn < 0 || h.maxn < 0 || (h.maxn > 0 && h.minn > h.maxn) ||
      (h.maxn > 0 && h.minn == 0)) {
    return absl::InvalidArgumentError(
        "character n-grams need 1 <= minn <= maxn (or minn = maxn = 0)");
  }
  if (h.min_count < 1) {
    return absl::InvalidArgumentError("min_count must be >= 1");
  }
  if (h.bucket < 0) return absl::InvalidArgumentError("bucket must be >= 0");
  return ParseLoss(h.loss).status();
}

Hyperparameters FromArgs(const fasttext::Args& args) {
  Hyperparameters h;
  h.epoch = args.epoch;
  h.lr = args.lr;
  h.dim = args.dim;
  h.word_ngrams = args.wordNgrams;
  h.minn = args.minn;
  h.maxn = args.maxn;
  h.min_count = args.minCount;
  h.bucket = args.bucket;
  h.loss = LossName(args.loss);
  return h;
}

// fastText's name for each Hyperparameters field, as autotune knows them.
std::string FastTextArgName(const std::string& field) {
  if (field == "word_ngrams") return "wordNgrams";
  if (field == "min_count") return "minCount";
  return field;
}

absl::StatusOr<fasttext::Args> ToArgs(const TrainOptions& options) {
  const Hyperparameters& h = options.hyperparameters;
  KABAR_RETURN_IF_ERROR(Validate(h));
  if (options.threads < 1) {
    return absl::InvalidArgumentError("threads must be >= 1");
  }
  fasttext::Args args;
  args.model = fasttext::model_name::sup;
  KABAR_ASSIGN_OR_RETURN(args.loss, ParseLoss(h.loss));
  args.epoch = h.epoch;
  args.lr = h.lr;
  args.dim = h.dim;
  args.wordNgrams = h.word_ngrams;
  args.minn = h.minn;
  args.maxn = h.maxn;
  args.minCount = h.min_count;
  args.bucket = h.bucket;
  // As fastText's CLI does: no buckets are needed without any n-grams.
  if (args.wordNgrams <= 1 && args.maxn == 0) args.bucket = 0;
  args.thread = options.threads;
  args.seed = options.seed;
  args.verbose = options.verbose;
  return args;
}

int64_t FileSize(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

// Loads a fresh .bin model for quantization (fastText's quantize mutates
// the model, so every attempt starts from the file).
absl::StatusOr<std::unique_ptr<fasttext::FastText>> LoadForQuantization(
    const std::string& path) {
  if (FileSize(path) < 0) {
    return absl::NotFoundError(absl::StrCat("no model at ", path));
  }
  auto model = std::make_unique<fasttext::FastText>();
  try {
    model->loadModel(path);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load ", path, ": ", e.what()));
  }
  if (model->isQuant()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is already quantized; quantize the .bin model"));
  }
  if (model->getArgs().model != fasttext::model_name::sup) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a supervised model"));
  }
  return model;
}

// One quantization of the model at `model_path` with `cutoff` into
// `output_path`; returns the file size.
absl::StatusOr<int64_t> QuantizeOnce(const std::string& model_path,
                                     const QuantizeOptions& options,
                                     int64_t cutoff, bool retrain,
                                     const std::string& output_path) {
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<fasttext::FastText> model,
                         LoadForQuantization(model_path));
  const fasttext::Args model_args = model->getArgs();
  fasttext::Args qargs;
  qargs.input = options.training_file;
  qargs.output = output_path;
  qargs.cutoff = static_cast<size_t>(cutoff);
  qargs.dsub = static_cast<size_t>(options.dsub);
  qargs.qnorm = options.qnorm;
  qargs.qout = options.qout;
  qargs.retrain = retrain;
  qargs.epoch =
      options.retrain_epoch > 0 ? options.retrain_epoch : model_args.epoch;
  qargs.lr = options.retrain_lr > 0 ? options.retrain_lr : model_args.lr;
  qargs.thread = options.threads;
  qargs.verbose = options.verbose;
  try {
    model->quantize(qargs);
    model->saveModel(output_path);
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("quantizing ", model_path, ": ", e.what()));
  }
  const int64_t bytes = FileSize(output_path);
  if (bytes < 0) {
    return absl::InternalError(absl::StrCat("cannot stat ", output_path));
  }
  return bytes;
}

}  // namespace

std::string Hyperparameters::ToString() const {
  return absl::StrCat("epoch=", epoch, " lr=", lr, " dim=", dim,
                      " word_ngrams=", word_ngrams, " minn=", minn,
                      " maxn=", maxn, " min_count=", min_count,
                      " bucket=", bucket, " loss=", loss);
}

absl::StatusOr<Hyperparameters> TrainModel(const std::string& training_file,
                                           const TrainOptions& options,
                                           const std::string& output_path) {
  KABAR_ASSIGN_OR_RETURN(fasttext::Args args, ToArgs(options));
  args.input = training_file;
  args.output = output_path;
  auto model = std::make_shared<fasttext::FastText>();
  try {
    if (options.autotune_seconds > 0) {
      if (options.autotune_validation_file.empty()) {
        return absl::InvalidArgumentError(
            "autotune needs a validation file (--dev or "
            "--validation_fraction)");
      }
      args.autotuneValidationFile = options.autotune_validation_file;
      args.autotuneDuration = options.autotune_seconds;
      for (const std::string& field : options.fixed) {
        args.setManual(FastTextArgName(field));
      }
      fasttext::Autotune autotune(model);
      autotune.train(args);
    } else {
      model->train(args);
    }
    model->saveModel(output_path);
  } catch (const std::invalid_argument& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("training on ", training_file, ": ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(
        absl::StrCat("training on ", training_file, ": ", e.what()));
  }
  return FromArgs(model->getArgs());
}

absl::StatusOr<QuantizeResult> QuantizeModel(const std::string& model_path,
                                             const QuantizeOptions& options,
                                             const std::string& output_path) {
  if (options.dsub < 1 || options.cutoff < 0 || options.max_bytes < 0) {
    return absl::InvalidArgumentError(
        "quantization needs dsub >= 1, cutoff >= 0 and max_bytes >= 0");
  }
  QuantizeResult result;
  result.cutoff = options.cutoff;
  if (options.max_bytes > 0 && options.cutoff == 0) {
    // Find a cutoff by quantizing without retraining (cheap). Retraining
    // below changes neither which rows are kept nor the file size.
    int64_t rows = 0;
    int64_t output_bytes = 0;
    int64_t dim = 0;
    {
      KABAR_ASSIGN_OR_RETURN(std::unique_ptr<fasttext::FastText> model,
                             LoadForQuantization(model_path));
      rows = model->getInputMatrix()->size(0);
      dim = model->getInputMatrix()->size(1);
      output_bytes = 4 * model->getOutputMatrix()->size(0) * dim;
    }
    // First guess as fastText's autotune makes it: per kept row, one byte
    // per subvector, one for the norm and about ten for the dictionary;
    // fixed costs are the codebooks and the output matrix. The size is
    // nearly linear in the rows kept, so later guesses follow the line
    // through the last two measurements.
    const int64_t row_bytes =
        (dim + options.dsub - 1) / options.dsub + (options.qnorm ? 1 : 0) + 10;
    int64_t cutoff =
        (options.max_bytes - 4 * 256 * dim - output_bytes - 1024) / row_bytes;
    if (cutoff <= 256 || cutoff >= rows) cutoff = 0;
    int64_t previous_rows = 0;
    int64_t previous_bytes = 0;
    for (int attempt = 0;; ++attempt) {
      KABAR_ASSIGN_OR_RETURN(
          const int64_t bytes,
          QuantizeOnce(model_path, options, cutoff, false, output_path));
      common::LogInfo(absl::StrCat("quantize: cutoff ", cutoff, " -> ", bytes,
                                   " bytes (target ", options.max_bytes, ")"));
      if (bytes <= options.max_bytes) break;
      const int64_t current = cutoff > 0 ? cutoff : rows;
      double bytes_per_row =
          static_cast<double>(bytes) / static_cast<double>(current);
      if (previous_rows > current && previous_bytes > bytes) {
        bytes_per_row = static_cast<double>(previous_bytes - bytes) /
                        static_cast<double>(previous_rows - current);
      }
      const double excess = static_cast<double>(bytes - options.max_bytes);
      const int64_t next = std::min<int64_t>(
          current - 1,
          static_cast<int64_t>(current - excess / bytes_per_row * 1.01));
      previous_rows = current;
      previous_bytes = bytes;
      if (attempt >= 12 || next < 256) {
        std::remove(output_path.c_str());
        return absl::FailedPreconditionError(
            absl::StrCat("cannot quantize ", model_path, " into ",
                         options.max_bytes, " bytes (smallest tried: ", bytes,
                         " bytes at cutoff ", cutoff, ")"));
      }
      cutoff = next;
    }
    result.cutoff = cutoff;
  }
  result.retrained = !options.training_file.empty() && result.cutoff > 0;
  KABAR_ASSIGN_OR_RETURN(result.bytes,
                         QuantizeOnce(model_path, options, result.cutoff,
                                      result.retrained, output_path));
  return result;
}

struct TrainedModel::Impl {
  fasttext::FastText fasttext;
};

TrainedModel::TrainedModel(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

TrainedModel::~TrainedModel() = default;

absl::StatusOr<std::unique_ptr<TrainedModel>> TrainedModel::Load(
    const std::string& path) {
  if (FileSize(path) < 0) {
    return absl::NotFoundError(absl::StrCat("no model at ", path));
  }
  auto impl = std::make_unique<Impl>();
  try {
    impl->fasttext.loadModel(path);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load ", path, ": ", e.what()));
  }
  if (impl->fasttext.getArgs().model != fasttext::model_name::sup) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is not a supervised model"));
  }
  return std::unique_ptr<TrainedModel>(new TrainedModel(std::move(impl)));
}

std::string TrainedModel::PredictLabel(const std::string& text) const {
  std::istringstream in(text + "\n");
  std::vector<std::pair<fasttext::real, std::string>> predictions;
  impl_->fasttext.predictLine(in, predictions, 1, 0.0);
  if (predictions.empty()) return "";
  std::string label = std::move(predictions[0].second);
  if (absl::StartsWith(label, kLabelPrefix)) {
    label.erase(0, sizeof(kLabelPrefix) - 1);
  }
  return label;
}

std::vector<std::string> TrainedModel::labels() const {
  const auto dictionary = impl_->fasttext.getDictionary();
  std::vector<std::string> labels;
  for (int32_t i = 0; i < dictionary->nlabels(); ++i) {
    std::string label = dictionary->getLabel(i);
    if (absl::StartsWith(label, kLabelPrefix)) {
      label.erase(0, sizeof(kLabelPrefix) - 1);
    }
    labels.push_back(std::move(label));
  }
  return labels;
}

bool TrainedModel::quantized() const { return impl_->fasttext.isQuant(); }

Hyperparameters TrainedModel::hyperparameters() const {
  return FromArgs(impl_->fasttext.getArgs());
}

std::vector<LabeledPrediction> PredictAll(
    const TrainedModel& model, const std::vector<Example>& examples) {
  std::vector<LabeledPrediction> predictions;
  predictions.reserve(examples.size());
  for (const Example& example : examples) {
    predictions.push_back(
        {example.label, model.PredictLabel(example.text), example.lang});
  }
  return predictions;
}

}  // namespace kabar::train
