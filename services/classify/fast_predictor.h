// Copyright kabar authors.
// FastPredictor: prediction for supervised fastText models that gives
// fastText's answers (same labels; probabilities equal up to float
// rounding) for a fraction of the CPU. FastTextClassifier uses it behind the
// Classifier interface and keeps fastText's own predictLine for comparison
// and for models this class does not support. fastText is not included:
// the class reads the model file itself.
//
// Why it is faster. fastText's predictLine turns a line into a list of input
// rows (per token its word row and one row per character n-gram, then one
// row per word n-gram), rebuilding each n-gram as a std::string, looking
// every hashed n-gram up in an unordered_map (quantized models) and
// dequantizing every row as it adds it. FastPredictor
//  - dequantizes the input matrix once at load (within a memory budget) and
//    adds rows with vector instructions;
//  - keeps, per vocabulary word, the sum of its rows and their count
//    (within a memory budget, most frequent words first), so a known word
//    costs one row instead of ~20;
//  - hashes n-grams incrementally while scanning the token, maps hashed
//    buckets to rows through a rank bitmap instead of a hash map, and issues
//    the loads of a token's n-grams before using them, so that their memory
//    latency overlaps;
//  - keeps, per thread, a bounded direct-mapped cache of the row sums of
//    tokens outside the vocabulary (lid.176 knows only ~7,000 words) that
//    recur, standing aside when its hit rate is too low to pay;
//  - reads each line once with no per-call heap allocation once a thread's
//    scratch buffers have grown.
// The hidden vector is the same average fastText computes, summed in a
// different order (token by token), so probabilities differ by float
// rounding: ~1e-6 on article-length text, up to ~1e-4 on a 400 KB text
// where fastText's own float running sum over ~10^6 rows drifts.
//
// What it reproduces of fastText 0.9.2: whitespace tokenization with the
// end-of-sentence token "</s>" (which also ends the line when written in
// it), label tokens skipped, the signed-char FNV-1a hash, character n-grams
// of "<word>" between minn and maxn (UTF-8 aware, the lone "<" and ">"
// skipped), word n-grams for wordNgrams > 1 with fastText's sign-extending
// hash combination, the bucket modulus and pruned-index remapping of
// quantized models, product-quantized input and output matrices with or
// without quantized norms, the softmax, hierarchical-softmax, one-vs-all and
// negative-sampling output layers, and fastText's top-k with threshold
// (scores are log(p + 1e-5), probabilities their exp).
#ifndef KABAR_SERVICES_CLASSIFY_FAST_PREDICTOR_H_
#define KABAR_SERVICES_CLASSIFY_FAST_PREDICTOR_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::classify {

// Immutable after Create and thread-safe: Predict is const, and its caches
// and scratch buffers are per thread.
class FastPredictor final {
 public:
  struct Options {
    // Largest input matrix, in bytes as floats (rows x dim x 4), kept
    // dequantized in memory. Default 256 MiB: lid.176.ftz takes 4 MiB and a
    // quantized topic model tens of MiB. Dequantized rows are 4-8x larger
    // than their codes but add with a few vector instructions instead of one
    // centroid lookup per pair of floats, which measured ~1.6x faster. A
    // quantized matrix over the budget stays quantized and is dequantized
    // row by row; an unquantized (.bin) one is copied only if it fits, else
    // Create fails with RESOURCE_EXHAUSTED.
    size_t max_input_matrix_bytes = size_t{256} << 20;
    // Memory for the per-word row sums, filled most frequent word first.
    // Default 64 MiB: all of lid.176's words take 0.5 MiB, a topic model
    // with 27k words at dim 24 takes 2.6 MiB. Words past the budget are
    // summed per use (and may enter the token cache). 0 disables the sums.
    size_t max_word_sums_bytes = size_t{64} << 20;
    // Memory each thread may use, per model, to cache the row sums of
    // tokens with no precomputed sum (out-of-vocabulary tokens), direct-
    // mapped and admitting a token on its second sighting. Default 4 MiB:
    // 32k tokens for lid.176, 13k at dim 24. It pays when tokens recur
    // (measured ~15% less CPU on ten news languages) and costs a little
    // where they do not (~10% more on an even mix of 205 languages; it then
    // mostly stands aside). Memory is committed as slots are used. A thread
    // holds caches for its 4 most recently used models, so the worst case
    // is 4 x this per thread. 0 disables it.
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
  // input rows (e.g. only labels) gets no predictions. k < 1 means every
  // label (fastText's k = -1).
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
  // Appends to *buckets the hash buckets of the character n-grams of
  // "<" token ">", as fastText's computeSubwords, prefetching their rows.
  void AppendSubwordBuckets(absl::string_view token,
                            std::vector<int32_t>* buckets) const;
  // Maps a hashed bucket to its input row, or -1 when pruned away (as
  // fastText's pushHash).
  int32_t BucketRow(int32_t bucket_id) const;
  // Appends the rows of `buckets` that exist to *rows, prefetching them.
  void ResolveBuckets(const std::vector<int32_t>& buckets,
                      std::vector<int32_t>* rows) const;
  // Cache hints for what BucketRow and AddInputRow will read.
  void PrefetchBucket(int32_t bucket_id) const;
  void PrefetchRow(int32_t row) const;
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
  // Entry types (0 word, 1 label) of every dictionary entry, words first.
  std::vector<int8_t> entry_types_;
  // Open addressing, linear probing. A slot holds an entry's hash beside
  // its id (-1: empty), so an unknown token is usually turned away without
  // touching the words themselves.
  struct VocabularySlot {
    uint32_t hash;
    int32_t id;
  };
  std::vector<VocabularySlot> vocabulary_slots_;
  uint32_t vocabulary_mask_ = 0;
  std::vector<std::string> labels_;
  // Quantized models keep only some hashed rows (pruned_), which this class
  // reorders by bucket id: a kept bucket's row is nwords_ plus the number of
  // kept buckets before it, a rank answered from a bitmap of kept buckets
  // (bit b of word b / 64) and the running count before each word. That is
  // one cache line of a 500 KiB table per lookup where fastText probes an
  // unordered_map. Unpruned models map bucket b to row nwords_ + b.
  bool pruned_ = false;
  struct KeptBuckets {
    uint64_t bits;    // bucket 64 * i + b is kept if bit b is set
    uint32_t before;  // kept buckets before bucket 64 * i
  };
  std::vector<KeptBuckets> kept_buckets_;

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
