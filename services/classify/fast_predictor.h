// Copyright kabar authors.
// FastPredictor: prediction for supervised fastText models that gives
// fastText's answers (same labels, probabilities equal up to float rounding)
// at a fraction of the cost. FastTextClassifier uses it behind the
// Classifier interface and keeps fastText's own predictLine for comparison
// and for models this class does not support.
//
// Why it is faster. fastText's predictLine turns a line into a list of input
// rows (for each token: its word row and one row per character n-gram; then
// one row per word n-gram), re-deriving every list from strings on every
// call, and dequantizes every row of a quantized (.ftz) model as it adds it.
// FastPredictor reads the model file itself and
//  - dequantizes the input matrix once at load (within a memory budget);
//  - keeps, per vocabulary word, the sum of its rows and how many there
//    are (within a memory budget, most frequent words first);
//  - keeps, per thread, a bounded cache of those sums for tokens outside
//    the vocabulary (the costly case: lid.176 knows only ~7,000 words, so
//    most tokens are hashed into character n-grams);
//  - reads each line once, hashing as it splits, with no per-call heap
//    allocation once a thread's scratch buffers have grown.
// The hidden vector is then the same average fastText computes, summed in a
// different order, so results differ only by float rounding (~1e-7).
//
// What it reproduces of fastText 0.9.2: whitespace tokenization and the
// end-of-sentence token "</s>", the signed-char FNV-1a hash, character
// n-grams of "<word>" between minn and maxn (UTF-8 aware, the lone "<" and
// ">" skipped), word n-grams for wordNgrams > 1, the bucket modulus and the
// pruned-index remapping of quantized models, product-quantized input and
// output matrices with or without quantized norms, the softmax,
// hierarchical-softmax, one-vs-all and negative-sampling output layers, and
// fastText's top-k with threshold (scores are log(p + 1e-5), probabilities
// their exp).
#ifndef KABAR_SERVICES_CLASSIFY_FAST_PREDICTOR_H_
#define KABAR_SERVICES_CLASSIFY_FAST_PREDICTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::classify {

// Immutable after Create and thread-safe: Predict is const, and its caches
// and scratch buffers are per thread.
class FastPredictor final {
 public:
  struct Options {
    // Largest dequantized input matrix (rows x dim floats) kept in memory.
    // Default 256 MiB: lid.176.ftz needs ~8 MiB and a quantized topic model
    // tens of MiB. Larger matrices (typically unquantized .bin models, with
    // 2M hashed rows) are read in place from the model's own storage:
    // dequantized row by row for .ftz, or copied once for .bin only if they
    // fit. Create fails with RESOURCE_EXHAUSTED for a .bin model over it.
    size_t max_input_matrix_bytes = size_t{256} << 20;
    // Memory for the per-word row sums, filled most frequent word first.
    // Default 64 MiB: all of lid.176's words take 0.5 MiB; a topic model
    // with 100k words and dim 50 takes 20 MiB. Words past the budget go
    // through the per-thread token cache instead. 0 disables it.
    size_t max_word_sums_bytes = size_t{64} << 20;
    // Memory each thread may use for its cache of row sums of tokens that
    // have none precomputed (out-of-vocabulary tokens), per model. Default
    // 4 MiB: ~17k tokens at dim 16 (lid.176), ~8k at dim 50, enough for the
    // recurring tokens of a news stream. The cache keeps two generations
    // and drops the older when the newer fills, approximating LRU. A thread
    // holds caches for at most 4 models (the most recently used), so the
    // worst case is 4 x this per thread. 0 disables it.
    size_t token_cache_bytes_per_thread = size_t{4} << 20;
  };

  // One predicted label.
  struct Prediction {
    // Index into labels().
    int32_t label;
    // What fastText's predictLine reports: exp(log(p + 1e-5)).
    float probability;
  };

  // Parses a supervised fastText model file (as loaded into memory) and
  // prepares it. Errors: INVALID_ARGUMENT when the bytes are not a complete
  // fastText model or the model is not supervised; UNIMPLEMENTED for a
  // model it cannot reproduce exactly (the caller should use fastText);
  // RESOURCE_EXHAUSTED as described under Options.
  static absl::StatusOr<std::unique_ptr<FastPredictor>> Create(
      absl::string_view model_bytes, const Options& options);

  ~FastPredictor();
  FastPredictor(const FastPredictor&) = delete;
  FastPredictor& operator=(const FastPredictor&) = delete;

  // Predicts like fastText's predictLine on `line` followed by a newline:
  // the up to `k` most likely labels with probability at or above
  // `threshold`, most likely first, into *predictions (cleared first). Only
  // text before the first '\n' counts, as in fastText. A line with no
  // input rows (e.g. only labels) gets no predictions.
  // REQUIRES: k >= 1.
  void Predict(absl::string_view line, int k, float threshold,
               std::vector<Prediction>* predictions) const;

  // The model's labels as stored in it, "__label__" prefix included, in
  // fastText's label order.
  const std::vector<std::string>& labels() const { return labels_; }
  // Input dimension, vocabulary size and loss, for checks and logs.
  int dim() const { return dim_; }
  int32_t num_words() const { return nwords_; }
  // fastText's loss_name: 1 hs, 2 ns, 3 softmax, 4 ova.
  int loss() const { return static_cast<int>(loss_); }
  // How many vocabulary words have a precomputed row sum.
  int32_t num_precomputed_words() const { return num_word_sums_; }
  // Bytes held by the model data (matrices, dictionary, sums), not counting
  // per-thread caches.
  size_t memory_bytes() const;

 private:
  enum class Loss { kHs = 1, kNs = 2, kSoftmax = 3, kOva = 4 };
  struct Quantizer;
  struct Scratch;
  class TokenCache;

  FastPredictor() = default;

  // Parsing and preparation, in file order; see the .cc file.
  absl::Status Parse(absl::string_view bytes, const Options& options);
  // Builds the kept-bucket bitmap from fastText's prune index (bucket ->
  // row past the words) and reorders the hashed rows of *quantizer to
  // match. Errors: INVALID_ARGUMENT for an index pointing past the matrix.
  absl::Status IndexPrunedRows(
      const std::vector<std::pair<int32_t, int32_t>>& prune_index,
      Quantizer* quantizer);
  void BuildVocabularyIndex();
  void BuildHuffmanTree(const std::vector<int64_t>& label_counts);
  void PrecomputeWordSums(const Options& options);

  // Dictionary id of `token` (fastText's getId: words, then labels), or -1.
  int32_t FindWord(absl::string_view token, uint32_t hash) const;
  // Appends to *rows the input rows of the character n-grams of
  // "<" token ">", as fastText's computeSubwords + pushHash.
  void AppendSubwordRows(absl::string_view token,
                         std::vector<int32_t>* rows) const;
  // Maps a hashed bucket to its input row, or -1 when pruned away.
  int32_t BucketRow(int32_t bucket_id) const;
  // out[0..dim) += input row `row`, dequantized as fastText does.
  void AddInputRow(int32_t row, float* out) const;
  // Sums the rows of a token with no precomputed sum into `sum` and returns
  // how many rows it has. `word_id` is its vocabulary id or -1.
  int32_t ComputeTokenSum(absl::string_view token, int32_t word_id,
                          Scratch* scratch, float* sum) const;
  // The thread's token cache for this predictor, or nullptr when disabled.
  TokenCache* ThreadTokenCache() const;

  // Dot product of output row `row` with `hidden`, as fastText's dotRow.
  float OutputDot(int32_t row, const float* hidden) const;
  void PredictSoftmax(const float* hidden, int k, float threshold,
                      Scratch* scratch) const;
  void PredictBinary(const float* hidden, int k, float threshold,
                     Scratch* scratch) const;
  void PredictHs(const float* hidden, int k, float threshold,
                 Scratch* scratch) const;
  void Dfs(int k, float threshold, int32_t node, float score,
           const float* hidden, Scratch* scratch) const;
  float TableSigmoid(float x) const;

  // Process-unique, never reused: keys the per-thread token caches.
  uint64_t id_ = 0;

  // --- Model arguments ---
  int dim_ = 0;
  int word_ngrams_ = 1;
  Loss loss_ = Loss::kSoftmax;
  int32_t bucket_ = 0;
  int minn_ = 0;
  int maxn_ = 0;
  size_t token_cache_bytes_ = 0;

  // --- Dictionary ---
  int32_t nwords_ = 0;
  // Dictionary entries' bytes (words, then labels), back to back; entry i
  // is word_bytes_[word_offsets_[i], word_offsets_[i + 1]).
  std::string word_bytes_;
  std::vector<uint32_t> word_offsets_;
  std::vector<uint32_t> word_hashes_;
  // Entry types (0 word, 1 label) of every dictionary entry, words first.
  std::vector<int8_t> entry_types_;
  // Open addressing, linear probing: slot -> dictionary entry id or -1.
  std::vector<int32_t> vocabulary_slots_;
  uint32_t vocabulary_mask_ = 0;
  std::vector<std::string> labels_;
  // Quantized models keep only some hashed rows (pruned_), which this class
  // reorders by bucket id: a kept bucket's row is nwords_ plus the number of
  // kept buckets before it, a rank answered from a bitmap of kept buckets
  // (bit b of word b / 64) and the running count before each word. That is
  // ~2 cache lines of a 375 KiB table per lookup where fastText probes an
  // unordered_map. Unpruned models map bucket b to row nwords_ + b.
  bool pruned_ = false;
  std::vector<uint64_t> kept_buckets_;
  std::vector<uint32_t> kept_before_;

  // --- Input matrix ---
  int64_t input_rows_ = 0;
  // Dense rows (dequantized for .ftz), or empty when over budget, in which
  // case input_quantizer_ dequantizes on demand.
  std::vector<float> input_dense_;
  std::unique_ptr<Quantizer> input_quantizer_;

  // --- Per-word row sums (the first num_word_sums_ words) ---
  int32_t num_word_sums_ = 0;
  std::vector<float> word_sums_;
  std::vector<int32_t> word_row_counts_;

  // --- Output layer ---
  int32_t output_rows_ = 0;
  // Rows as fastText multiplies them: the centroids for a quantized output
  // (each row's norm kept apart, as mulcode scales the finished dot
  // product), else the weights with norm 1.
  std::vector<float> output_rows_data_;
  std::vector<float> output_norms_;
  // Hierarchical softmax tree (loss hs): children of node i >= nlabels.
  std::vector<int32_t> tree_left_;
  std::vector<int32_t> tree_right_;
  // Sigmoid lookup table, as fastText's Loss (ns and ova).
  std::vector<float> sigmoid_table_;
};

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_FAST_PREDICTOR_H_
