// Copyright kabar authors.
// kabar-train's wrapper around fastText's C++ training API: supervised
// training (optionally autotuned against a validation file), quantization
// to a size budget, and loading a model to predict. The only kabar-train
// file that includes fastText; fastText's exceptions become absl::Status
// here. Training writes only the paths it is given.
#ifndef KABAR_TOOLS_TRAIN_TRAINER_H_
#define KABAR_TOOLS_TRAIN_TRAINER_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tools/train/dataset.h"
#include "tools/train/evaluation.h"

namespace kabar::train {

// fastText's supervised hyperparameters. Defaults are fastText's.
struct Hyperparameters {
  int epoch = 5;
  double lr = 0.1;
  int dim = 100;
  int word_ngrams = 1;   // word n-gram length (fastText's wordNgrams)
  int minn = 0;          // shortest character n-gram; 0 turns them off
  int maxn = 0;          // longest character n-gram
  int min_count = 1;     // words seen fewer times get only subword vectors
  int bucket = 2000000;  // hash buckets for word and character n-grams
  std::string loss = "softmax";  // softmax, hs, ns or ova

  std::string ToString() const;
};

struct TrainOptions {
  Hyperparameters hyperparameters;
  // fastText trains with `threads` Hogwild threads. Only 1 thread makes a
  // run bit-for-bit reproducible.
  int threads = 1;
  int seed = 1;
  // When > 0, fastText's autotune searches hyperparameters for this long,
  // scoring on `autotune_validation_file` (fastText format, required then),
  // then retrains with the best ones. Names in `fixed` (Hyperparameters
  // field names, e.g. "minn") are left as given.
  int autotune_seconds = 0;
  std::string autotune_validation_file;
  std::set<std::string> fixed;
  // fastText's verbosity: 0 silent, 2 shows progress on stderr.
  int verbose = 0;
};

// Trains a supervised model on `training_file` (fastText format, see
// WriteFastTextFile) and saves it to `output_path` (.bin format). Returns
// the hyperparameters of the saved model (autotune's choice, if used).
// INVALID_ARGUMENT for bad options or an unusable training file, INTERNAL
// when fastText fails otherwise.
absl::StatusOr<Hyperparameters> TrainModel(const std::string& training_file,
                                           const TrainOptions& options,
                                           const std::string& output_path);

struct QuantizeOptions {
  // fastText format. When set and a cutoff applies, the pruned model is
  // retrained on it (fastText's -retrain) before product quantization.
  std::string training_file;
  // Keep only the `cutoff` input rows (words and n-gram buckets) with the
  // largest norms; 0 keeps all, or as many as `max_bytes` allows.
  int64_t cutoff = 0;
  // When > 0 and no cutoff is given, the cutoff is lowered until the file
  // fits in this many bytes. FAILED_PRECONDITION if it cannot.
  int64_t max_bytes = 0;
  int dsub = 2;       // dimensions per product-quantizer subvector
  bool qnorm = true;  // quantize vector norms separately
  bool qout = false;  // quantize the output matrix too
  // Retraining epochs and learning rate; 0 means the model's own.
  int retrain_epoch = 0;
  double retrain_lr = 0;
  int threads = 1;
  int verbose = 0;
};

struct QuantizeResult {
  int64_t cutoff = 0;  // 0 when every row was kept
  int64_t bytes = 0;   // size of the written file
  bool retrained = false;
};

// Quantizes the .bin model at `model_path` into `output_path` (.ftz).
// NOT_FOUND/INVALID_ARGUMENT for a missing or unreadable model,
// FAILED_PRECONDITION for an already quantized model or a size target that
// cannot be met, INTERNAL for write failures.
absl::StatusOr<QuantizeResult> QuantizeModel(const std::string& model_path,
                                             const QuantizeOptions& options,
                                             const std::string& output_path);

// A loaded supervised model (.bin or .ftz). Prediction is const and
// thread-safe; loading is not.
class TrainedModel final {
 public:
  // NOT_FOUND when the file does not exist, INVALID_ARGUMENT when fastText
  // cannot read it or it is not a supervised model.
  static absl::StatusOr<std::unique_ptr<TrainedModel>> Load(
      const std::string& path);

  ~TrainedModel();
  TrainedModel(const TrainedModel&) = delete;
  TrainedModel& operator=(const TrainedModel&) = delete;

  // The most likely label (without "__label__") for an already normalized
  // text (see TopicModelText), or "" when no token of it is known.
  std::string PredictLabel(const std::string& text) const;

  // The model's labels, without "__label__", most frequent first.
  std::vector<std::string> labels() const;
  bool quantized() const;
  Hyperparameters hyperparameters() const;

 private:
  struct Impl;
  explicit TrainedModel(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Predicts every example; the result keeps the examples' order.
std::vector<LabeledPrediction> PredictAll(const TrainedModel& model,
                                          const std::vector<Example>& examples);

}  // namespace kabar::train

#endif  // KABAR_TOOLS_TRAIN_TRAINER_H_
