// Copyright kabar authors.
#include "services/classify/fast_predictor.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace kabar::classify {
namespace {

// fastText 0.9.2's file format (fasttext.cc, args.cc, dictionary.cc,
// densematrix.cc, quantmatrix.cc, productquantizer.cc).
constexpr int32_t kMagic = 793712314;
constexpr int32_t kNewestVersion = 12;
constexpr int32_t kSupervisedModel = 3;         // model_name::sup
constexpr int kCentroidsPerSubquantizer = 256;  // 8-bit codes
// fastText's end-of-sentence token: what a newline reads as.
constexpr absl::string_view kEndOfSentence = "</s>";
// Args::label is not saved in the model, so a loaded model always uses the
// default when deciding whether an unknown token is a label.
constexpr absl::string_view kDefaultLabelPrefix = "__label__";
// fastText's Loss sigmoid table.
constexpr int kSigmoidTableSize = 512;
constexpr int kMaxSigmoid = 8;

// Most models a thread keeps a token cache for (language + topic, plus the
// pair that replaces them on reload).
constexpr size_t kMaxCachesPerThread = 4;

bool IsDelimiter(char c) {
  return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' ||
         c == '\f' || c == '\0';
}

bool IsUtf8Continuation(char c) { return (c & 0xC0) == 0x80; }

// One step of fastText's FNV-1a, which xors in each byte sign-extended
// (Dictionary::hash).
uint32_t HashStep(uint32_t h, char c) {
  h ^= static_cast<uint32_t>(static_cast<int8_t>(c));
  return h * 16777619u;
}
constexpr uint32_t kHashSeed = 2166136261u;

uint32_t Hash(absl::string_view text) {
  uint32_t h = kHashSeed;
  for (char c : text) h = HashStep(h, c);
  return h;
}

// log(p + 1e-5) as fastText's std_log computes it: the argument is a float,
// the sum and log doubles, the result a float again.
float StdLog(float x) {
  return static_cast<float>(std::log(static_cast<double>(x) + 1e-5));
}

bool ScoreGreater(const std::pair<float, int32_t>& l,
                  const std::pair<float, int32_t>& r) {
  return l.first > r.first;
}

// A bounds-checked reader over the model bytes, which fastText writes in
// host byte order.
class Reader {
 public:
  explicit Reader(absl::string_view data) : data_(data) {}

  template <typename T>
  bool Read(T* out) {
    return ReadBytes(out, sizeof(T));
  }
  bool ReadBytes(void* out, size_t n) {
    if (!ok_ || data_.size() - pos_ < n) return ok_ = false;
    std::memcpy(out, data_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  // A NUL-terminated string, as Dictionary::load reads words.
  bool ReadCString(absl::string_view* out) {
    if (!ok_) return false;
    const size_t end = data_.find('\0', pos_);
    if (end == absl::string_view::npos) return ok_ = false;
    *out = data_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool ok() const { return ok_; }
  size_t remaining() const { return data_.size() - pos_; }

 private:
  absl::string_view data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

absl::Status Truncated(absl::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("fastText model is truncated (in ", what, ")"));
}

std::atomic<uint64_t> next_predictor_id{1};

// Set bits of x. Written out because the portable x86-64 baseline has no
// popcount instruction and __builtin_popcountll becomes a library call.
inline uint32_t PopCount(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0F0F0F0F0F0F0F0Full;
  return static_cast<uint32_t>((x * 0x0101010101010101ull) >> 56);
}

// out[0..n) += in[0..n), in groups of four so that the compiler emits
// vector instructions even at -O2: with the row loads independent, many
// rows are in flight at once, which matters more than the arithmetic.
inline void AddTo(float* __restrict out, const float* __restrict in, int n) {
  int j = 0;
  for (; j + 4 <= n; j += 4) {
    out[j] += in[j];
    out[j + 1] += in[j + 1];
    out[j + 2] += in[j + 2];
    out[j + 3] += in[j + 3];
  }
  for (; j < n; ++j) out[j] += in[j];
}

}  // namespace

// A product quantizer with its codes: fastText's QuantMatrix.
struct FastPredictor::Quantizer {
  int64_t rows = 0;
  int32_t dim = 0;
  int32_t nsubq = 0;
  int32_t dsub = 0;
  int32_t lastdsub = 0;
  std::vector<float> centroids;
  std::vector<uint8_t> codes;
  bool qnorm = false;
  std::vector<uint8_t> norm_codes;
  // The norm quantizer has dim 1, so its centroids are just 256 floats.
  std::vector<float> norm_centroids;

  const float* Centroids(int32_t m, uint8_t code) const {
    if (m == nsubq - 1) {
      return &centroids[static_cast<size_t>(m) * kCentroidsPerSubquantizer *
                            dsub +
                        static_cast<size_t>(code) * lastdsub];
    }
    return &centroids[(static_cast<size_t>(m) * kCentroidsPerSubquantizer +
                       code) *
                      dsub];
  }
  float Norm(int64_t row) const {
    return qnorm ? norm_centroids[norm_codes[row]] : 1.0f;
  }
  // out += norm * centroids, as QuantMatrix::addRowToVector.
  void AddRow(int64_t row, float* out) const {
    const float norm = Norm(row);
    const uint8_t* code = codes.data() + static_cast<size_t>(nsubq) * row;
    for (int32_t m = 0; m < nsubq; ++m) {
      const float* c = Centroids(m, code[m]);
      const int32_t d = m == nsubq - 1 ? lastdsub : dsub;
      float* x = out + static_cast<size_t>(m) * dsub;
      for (int32_t n = 0; n < d; ++n) x[n] += norm * c[n];
    }
  }
  // The row's centroids without its norm, as mulcode multiplies them.
  void CopyUnnormed(int64_t row, float* out) const {
    const uint8_t* code = codes.data() + static_cast<size_t>(nsubq) * row;
    for (int32_t m = 0; m < nsubq; ++m) {
      const float* c = Centroids(m, code[m]);
      const int32_t d = m == nsubq - 1 ? lastdsub : dsub;
      std::copy(c, c + d, out + static_cast<size_t>(m) * dsub);
    }
  }

  // Reads QuantMatrix::save's layout.
  absl::Status Load(Reader* in) {
    int64_t cols = 0;
    int32_t codesize = 0;
    if (!in->Read(&qnorm) || !in->Read(&rows) || !in->Read(&cols) ||
        !in->Read(&codesize)) {
      return Truncated("quantized matrix header");
    }
    if (rows < 0 || cols <= 0 || codesize < 0 ||
        static_cast<size_t>(codesize) > in->remaining()) {
      return absl::InvalidArgumentError("fastText model: bad quantized matrix");
    }
    codes.resize(codesize);
    if (!in->ReadBytes(codes.data(), codes.size())) return Truncated("codes");
    if (!in->Read(&dim) || !in->Read(&nsubq) || !in->Read(&dsub) ||
        !in->Read(&lastdsub)) {
      return Truncated("product quantizer");
    }
    if (dim != cols || dsub <= 0 || nsubq <= 0 || lastdsub <= 0 ||
        static_cast<int64_t>(nsubq - 1) * dsub + lastdsub != dim ||
        static_cast<int64_t>(nsubq) * rows != codesize) {
      return absl::InvalidArgumentError(
          "fastText model: inconsistent product quantizer");
    }
    centroids.resize(static_cast<size_t>(dim) * kCentroidsPerSubquantizer);
    if (!in->ReadBytes(centroids.data(), centroids.size() * sizeof(float))) {
      return Truncated("centroids");
    }
    if (qnorm) {
      norm_codes.resize(rows);
      if (!in->ReadBytes(norm_codes.data(), norm_codes.size())) {
        return Truncated("norm codes");
      }
      int32_t ndim = 0, nnsubq = 0, ndsub = 0, nlastdsub = 0;
      if (!in->Read(&ndim) || !in->Read(&nnsubq) || !in->Read(&ndsub) ||
          !in->Read(&nlastdsub)) {
        return Truncated("norm quantizer");
      }
      if (ndim != 1 || nnsubq != 1 || ndsub != 1 || nlastdsub != 1) {
        return absl::UnimplementedError("unexpected norm quantizer shape");
      }
      norm_centroids.resize(kCentroidsPerSubquantizer);
      if (!in->ReadBytes(norm_centroids.data(),
                         norm_centroids.size() * sizeof(float))) {
        return Truncated("norm centroids");
      }
    }
    return absl::OkStatus();
  }
};

// Per-thread scratch space, reused by every call on the thread.
struct FastPredictor::Scratch {
  std::vector<float> hidden;
  std::vector<float> token_sum;
  std::vector<float> output;
  std::vector<int32_t> token_hashes;
  std::vector<int32_t> buckets;
  std::vector<int32_t> rows;
  std::vector<std::pair<float, int32_t>> heap;
};

// A bounded cache from token to (sum of its input rows, row count), owned
// by one thread for one predictor. Direct-mapped: a token has one slot,
// chosen by its hash, and a new token evicts whatever was there. Each slot
// holds the key and the sum together (a few adjacent cache lines), so a hit
// costs one memory access where computing the sum takes one per character
// n-gram, and a miss wastes little. Memory comes from calloc, so only the
// slots ever used become resident.
//
// A miss still costs a probe and a write, and on text where few tokens
// recur (e.g. an even mix of 200 languages) that outweighs the hits, so the
// cache watches its hit rate: under kMinHitPercent over a window of
// lookups, it stands aside for a while, then tries again.
class FastPredictor::TokenCache {
 public:
  TokenCache(int dim, size_t budget_bytes) : dim_(dim) {
    const size_t bytes = sizeof(Header) + dim * sizeof(float);
    slot_bytes_ = (bytes + 63) / 64 * 64;
    size_t slots = 1;
    while (slots * 2 * slot_bytes_ <= budget_bytes) slots *= 2;
    mask_ = static_cast<uint32_t>(slots - 1);
    memory_.reset(static_cast<char*>(std::calloc(slots, slot_bytes_)));
    if (memory_ == nullptr) mask_ = 0, slot_bytes_ = 0;
  }

  // Whether to consult the cache for the next token: false while standing
  // aside.
  bool Active() {
    if (memory_ == nullptr) return false;
    if (bypass_tokens_ == 0) return true;
    --bypass_tokens_;
    return false;
  }

  // The cached sum of `token` (whose fastText hash is `hash`) with its row
  // count in *count, or nullptr.
  const float* Find(absl::string_view token, uint32_t hash, int32_t* count) {
    const Header* header = Slot(hash);
    const bool hit = header->hash == hash && header->key_size == token.size() &&
                     std::memcmp(header->key, token.data(), token.size()) == 0;
    window_hits_ += hit;
    if (++window_lookups_ == kWindow) {
      if (window_hits_ * 100 < kMinHitPercent * kWindow) {
        bypass_tokens_ = kBypassTokens;
      }
      window_lookups_ = window_hits_ = 0;
    }
    if (!hit) return nullptr;
    *count = header->count;
    return reinterpret_cast<const float*>(header + 1);
  }

  // Hints that Find(..., hash, ...) follows.
  void Prefetch(uint32_t hash) const { __builtin_prefetch(Slot(hash)); }

  // Caches `sum` (dim floats) for `token`, evicting its slot's occupant,
  // if the token was seen before: most tokens of a varied stream occur
  // once, and letting them in would only evict the ones that recur.
  void Insert(absl::string_view token, uint32_t hash, const float* sum,
              int32_t count) {
    // A doorkeeper bit per hash bucket, cleared when half are set so that
    // old sightings age out.
    const uint32_t bit = hash * 0x85EBCA6Bu >> (32 - kSeenBits);
    uint64_t& word = seen_[bit / 64];
    const uint64_t mask = uint64_t{1} << (bit % 64);
    if ((word & mask) == 0) {
      word |= mask;
      if (++seen_count_ > (1u << kSeenBits) / 2) {
        std::fill(std::begin(seen_), std::end(seen_), 0);
        seen_count_ = 0;
      }
      return;
    }
    Header* header = Slot(hash);
    header->hash = hash;
    header->key_size = static_cast<uint32_t>(token.size());
    header->count = count;
    std::memcpy(header->key, token.data(), token.size());
    std::memcpy(header + 1, sum, dim_ * sizeof(float));
  }

  // Longest token cached, so that a slot's header is one cache line:
  // nearly all words (17 three-byte characters), not long unspaced CJK or
  // Thai runs.
  static constexpr size_t kMaxKeyBytes = 52;

 private:
  struct Header {
    uint32_t hash;
    uint32_t key_size;  // 0: empty (tokens are never empty)
    int32_t count;
    char key[kMaxKeyBytes];
  };
  static_assert(sizeof(Header) % sizeof(float) == 0);

  struct Free {
    void operator()(char* p) const { std::free(p); }
  };

  Header* Slot(uint32_t hash) const {
    // fastText's FNV hash is weak in its low bits for short keys; mix it.
    const uint32_t slot = (hash * 0x9E3779B1u) >> 7 & mask_;
    return reinterpret_cast<Header*>(memory_.get() + slot * slot_bytes_);
  }

  static constexpr int kSeenBits = 18;  // 32 KiB
  // Measured on 2-core AMD EPYC with lid.176 and a 24-dim topic model: a
  // hit rate of 20-30% (uniform 200-language text) made prediction ~20%
  // slower, 50-70% (ten news languages) ~30% faster.
  static constexpr uint32_t kMinHitPercent = 40;
  static constexpr uint32_t kWindow = 4096;
  static constexpr uint32_t kBypassTokens = 16 * kWindow;

  const int dim_;
  size_t slot_bytes_ = 0;
  uint32_t mask_ = 0;
  std::unique_ptr<char[], Free> memory_;
  uint64_t seen_[(1u << kSeenBits) / 64] = {};
  uint32_t seen_count_ = 0;
  uint32_t window_lookups_ = 0;
  uint32_t window_hits_ = 0;
  uint32_t bypass_tokens_ = 0;
};

absl::StatusOr<std::unique_ptr<FastPredictor>> FastPredictor::Create(
    absl::string_view model_bytes, const Options& options) {
  std::unique_ptr<FastPredictor> predictor(new FastPredictor());
  predictor->id_ = next_predictor_id.fetch_add(1);
  predictor->token_cache_bytes_ = options.token_cache_bytes_per_thread;
  absl::Status parsed = predictor->Parse(model_bytes, options);
  if (!parsed.ok()) return parsed;
  predictor->BuildVocabularyIndex();
  predictor->PrecomputeWordSums(options);
  return predictor;
}

FastPredictor::~FastPredictor() = default;

absl::Status FastPredictor::Parse(absl::string_view bytes,
                                  const Options& options) {
  Reader in(bytes);
  int32_t magic = 0, version = 0;
  if (!in.Read(&magic) || !in.Read(&version)) return Truncated("header");
  if (magic != kMagic || version > kNewestVersion) {
    return absl::InvalidArgumentError(
        "not a fastText model (bad magic number or unsupported version)");
  }

  // Args::save.
  int32_t ws, epoch, min_count, neg, loss, model, lr_update_rate;
  int32_t dim, word_ngrams, bucket, minn, maxn;
  double t;
  if (!in.Read(&dim) || !in.Read(&ws) || !in.Read(&epoch) ||
      !in.Read(&min_count) || !in.Read(&neg) || !in.Read(&word_ngrams) ||
      !in.Read(&loss) || !in.Read(&model) || !in.Read(&bucket) ||
      !in.Read(&minn) || !in.Read(&maxn) || !in.Read(&lr_update_rate) ||
      !in.Read(&t)) {
    return Truncated("arguments");
  }
  if (model != kSupervisedModel) {
    return absl::InvalidArgumentError("not a supervised fastText model");
  }
  // fastText's backward compatibility: version 11 supervised models have no
  // character n-grams whatever maxn says.
  if (version == 11) maxn = 0;
  if (dim <= 0 || dim > 100000) {
    return absl::InvalidArgumentError(absl::StrCat("bad dimension ", dim));
  }
  if (loss < static_cast<int>(Loss::kHs) ||
      loss > static_cast<int>(Loss::kOva)) {
    return absl::UnimplementedError(absl::StrCat("unknown loss ", loss));
  }
  if (bucket < 0 || (bucket == 0 && (maxn > 0 || word_ngrams > 1))) {
    // fastText would take a modulus by zero.
    return absl::UnimplementedError("hashed n-grams with no buckets");
  }
  dim_ = dim;
  word_ngrams_ = word_ngrams;
  loss_ = static_cast<Loss>(loss);
  bucket_ = bucket;
  minn_ = minn;
  maxn_ = maxn;

  // Dictionary::save.
  int32_t size = 0, nwords = 0, nlabels = 0;
  int64_t ntokens = 0, prune_size = 0;
  if (!in.Read(&size) || !in.Read(&nwords) || !in.Read(&nlabels) ||
      !in.Read(&ntokens) || !in.Read(&prune_size)) {
    return Truncated("dictionary header");
  }
  if (size < 0 || nwords < 0 || nlabels <= 0 || nwords + nlabels != size) {
    return absl::InvalidArgumentError("fastText model: bad dictionary sizes");
  }
  nwords_ = nwords;
  word_offsets_.reserve(size + 1);
  word_offsets_.push_back(0);
  entry_types_.reserve(size);
  std::vector<int64_t> label_counts;
  for (int32_t i = 0; i < size; ++i) {
    absl::string_view word;
    int64_t count = 0;
    int8_t type = 0;
    if (!in.ReadCString(&word) || !in.Read(&count) || !in.Read(&type)) {
      return Truncated("dictionary");
    }
    // fastText sorts words before labels; the id arithmetic relies on it.
    if ((type == 0) != (i < nwords) || (type != 0 && type != 1)) {
      return absl::InvalidArgumentError(
          "fastText model: dictionary entries out of order");
    }
    entry_types_.push_back(type);
    word_bytes_.append(word.data(), word.size());
    word_offsets_.push_back(static_cast<uint32_t>(word_bytes_.size()));
    if (i >= nwords) {
      labels_.emplace_back(word);
      label_counts.push_back(count);
    }
  }
  pruned_ = prune_size >= 0;
  std::vector<std::pair<int32_t, int32_t>> prune_index;
  if (prune_size > 0) {
    if (static_cast<uint64_t>(prune_size) > in.remaining() / 8) {
      return Truncated("prune index");
    }
    prune_index.resize(prune_size);
    for (auto& [from, to] : prune_index) {
      if (!in.Read(&from) || !in.Read(&to)) return Truncated("prune index");
    }
  }

  // Input matrix.
  bool quantized_input = false;
  if (!in.Read(&quantized_input)) return Truncated("input matrix");
  if (!quantized_input && pruned_) {
    return absl::InvalidArgumentError(
        "fastText model: pruned dictionary with an unquantized matrix");
  }
  if (quantized_input) {
    input_quantizer_ = std::make_unique<Quantizer>();
    if (absl::Status s = input_quantizer_->Load(&in); !s.ok()) return s;
    input_rows_ = input_quantizer_->rows;
    if (input_quantizer_->dim != dim_ || input_rows_ < nwords_) {
      return absl::InvalidArgumentError("fastText model: bad input matrix");
    }
    if (pruned_) {
      if (absl::Status s = IndexPrunedRows(prune_index, input_quantizer_.get());
          !s.ok()) {
        return s;
      }
    }
    const size_t dense_bytes =
        static_cast<size_t>(input_rows_) * dim_ * sizeof(float);
    if (dense_bytes <= options.max_input_matrix_bytes) {
      input_dense_.assign(static_cast<size_t>(input_rows_) * dim_, 0.0f);
      for (int64_t row = 0; row < input_rows_; ++row) {
        input_quantizer_->AddRow(row, &input_dense_[row * dim_]);
      }
      input_quantizer_.reset();
    }
  } else {
    int64_t rows = 0, cols = 0;
    if (!in.Read(&rows) || !in.Read(&cols)) return Truncated("input matrix");
    if (cols != dim_ || rows < 0) {
      return absl::InvalidArgumentError("fastText model: input dim mismatch");
    }
    const size_t dense_bytes = static_cast<size_t>(rows) * dim_ * sizeof(float);
    if (dense_bytes > in.remaining()) return Truncated("input matrix");
    if (dense_bytes > options.max_input_matrix_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "input matrix of ", dense_bytes, " bytes exceeds the budget of ",
          options.max_input_matrix_bytes));
    }
    input_rows_ = rows;
    input_dense_.resize(static_cast<size_t>(rows) * dim_);
    in.ReadBytes(input_dense_.data(), dense_bytes);
  }
  // Every row a lookup can produce must exist.
  if (input_rows_ < nwords_ ||
      (!pruned_ && input_rows_ < static_cast<int64_t>(nwords_) + bucket_)) {
    return absl::InvalidArgumentError("fastText model: input matrix too small");
  }

  // Output matrix.
  bool quantized_output = false;
  if (!in.Read(&quantized_output)) return Truncated("output matrix");
  if (quantized_input && quantized_output) {
    Quantizer output;
    if (absl::Status s = output.Load(&in); !s.ok()) return s;
    if (output.dim != dim_) {
      return absl::InvalidArgumentError("fastText model: output dim mismatch");
    }
    output_rows_ = static_cast<int32_t>(output.rows);
    output_rows_data_.assign(static_cast<size_t>(output_rows_) * dim_, 0.0f);
    output_norms_.resize(output_rows_);
    for (int32_t row = 0; row < output_rows_; ++row) {
      output.CopyUnnormed(row, &output_rows_data_[row * dim_]);
      output_norms_[row] = output.Norm(row);
    }
  } else {
    int64_t rows = 0, cols = 0;
    if (!in.Read(&rows) || !in.Read(&cols)) return Truncated("output matrix");
    if (cols != dim_ || rows < 0 || rows > (int64_t{1} << 30)) {
      return absl::InvalidArgumentError("fastText model: output dim mismatch");
    }
    output_rows_ = static_cast<int32_t>(rows);
    output_rows_data_.resize(static_cast<size_t>(rows) * dim_);
    if (!in.ReadBytes(output_rows_data_.data(),
                      output_rows_data_.size() * sizeof(float))) {
      return Truncated("output matrix");
    }
    output_norms_.assign(output_rows_, 1.0f);
  }
  if (output_rows_ != nlabels) {
    return absl::InvalidArgumentError(
        "fastText model: output matrix does not match the labels");
  }

  switch (loss_) {
    case Loss::kHs:
      BuildHuffmanTree(label_counts);
      break;
    case Loss::kNs:
    case Loss::kOva:
      sigmoid_table_.reserve(kSigmoidTableSize + 1);
      for (int i = 0; i <= kSigmoidTableSize; ++i) {
        const float x =
            static_cast<float>(i * 2 * kMaxSigmoid) / kSigmoidTableSize -
            kMaxSigmoid;
        sigmoid_table_.push_back(
            static_cast<float>(1.0 / (1.0 + std::exp(-x))));
      }
      break;
    case Loss::kSoftmax:
      break;
  }
  return absl::OkStatus();
}

void FastPredictor::BuildVocabularyIndex() {
  const int32_t size = static_cast<int32_t>(entry_types_.size());
  size_t slots = 16;
  while (slots < 2 * static_cast<size_t>(size)) slots *= 2;
  vocabulary_slots_.assign(slots, {0, -1});
  vocabulary_mask_ = static_cast<uint32_t>(slots - 1);
  for (int32_t id = 0; id < size; ++id) {
    const absl::string_view word(word_bytes_.data() + word_offsets_[id],
                                 word_offsets_[id + 1] - word_offsets_[id]);
    const uint32_t hash = Hash(word);
    uint32_t slot = hash & vocabulary_mask_;
    while (vocabulary_slots_[slot].id != -1) {
      slot = (slot + 1) & vocabulary_mask_;
    }
    vocabulary_slots_[slot] = {hash, id};
  }
}

int32_t FastPredictor::FindWord(absl::string_view token, uint32_t hash) const {
  for (uint32_t slot = hash & vocabulary_mask_;;
       slot = (slot + 1) & vocabulary_mask_) {
    const VocabularySlot& entry = vocabulary_slots_[slot];
    if (entry.id < 0) return -1;
    const int32_t id = entry.id;
    if (entry.hash == hash &&
        word_offsets_[id + 1] - word_offsets_[id] == token.size() &&
        std::memcmp(word_bytes_.data() + word_offsets_[id], token.data(),
                    token.size()) == 0) {
      return id;
    }
  }
}

// The tree fastText's HierarchicalSoftmaxLoss builds from the label counts
// (which the dictionary keeps in decreasing order): leaves are labels
// 0..n-1, internal node i >= n merges the two lightest of the remaining
// leaves (taken from the end) and earlier internal nodes, a leaf winning
// only when strictly lighter. Output row i - n scores node i.
void FastPredictor::BuildHuffmanTree(const std::vector<int64_t>& counts) {
  const int32_t n = static_cast<int32_t>(counts.size());
  std::vector<int64_t> weight(2 * n - 1, static_cast<int64_t>(1e15));
  std::copy(counts.begin(), counts.end(), weight.begin());
  tree_left_.assign(2 * n - 1, -1);
  tree_right_.assign(2 * n - 1, -1);
  int32_t leaf = n - 1;
  int32_t node = n;
  for (int32_t i = n; i < 2 * n - 1; ++i) {
    int32_t lightest[2];
    for (int32_t& pick : lightest) {
      pick = (leaf >= 0 && weight[leaf] < weight[node]) ? leaf-- : node++;
    }
    tree_left_[i] = lightest[0];
    tree_right_[i] = lightest[1];
    weight[i] = weight[lightest[0]] + weight[lightest[1]];
  }
}

absl::Status FastPredictor::IndexPrunedRows(
    const std::vector<std::pair<int32_t, int32_t>>& prune_index,
    Quantizer* quantizer) {
  // fastText keeps the last mapping of a bucket (a std::unordered_map
  // filled in file order). Buckets outside [0, bucket) can never be looked
  // up, so they are left out.
  std::vector<std::pair<int32_t, int32_t>> kept;  // (bucket, old offset)
  {
    std::vector<std::pair<int32_t, int32_t>> sorted;
    sorted.reserve(prune_index.size());
    for (size_t i = 0; i < prune_index.size(); ++i) {
      const auto& [from, to] = prune_index[i];
      if (to < 0 || nwords_ + static_cast<int64_t>(to) >= quantizer->rows) {
        return absl::InvalidArgumentError("fastText model: bad prune index");
      }
      if (from >= 0 && from < bucket_) sorted.emplace_back(from, i);
    }
    // By bucket; among duplicates the last in file order wins.
    std::sort(sorted.begin(), sorted.end());
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i + 1 < sorted.size() && sorted[i + 1].first == sorted[i].first) {
        continue;
      }
      kept.emplace_back(sorted[i].first, prune_index[sorted[i].second].second);
    }
  }
  kept_buckets_.assign(static_cast<size_t>(bucket_) / 64 + 1, {0, 0});
  for (const auto& [bucket, unused] : kept) {
    kept_buckets_[bucket / 64].bits |= uint64_t{1} << (bucket % 64);
  }
  uint32_t before = 0;
  for (KeptBuckets& word : kept_buckets_) {
    word.before = before;
    before += PopCount(word.bits);
  }
  // Row nwords_ + rank takes the codes of row nwords_ + old offset.
  const size_t code_bytes = quantizer->nsubq;
  std::vector<uint8_t> codes(quantizer->codes.begin(),
                             quantizer->codes.begin() + nwords_ * code_bytes);
  std::vector<uint8_t> norm_codes;
  if (quantizer->qnorm) {
    norm_codes.assign(quantizer->norm_codes.begin(),
                      quantizer->norm_codes.begin() + nwords_);
  }
  for (const auto& [bucket, offset] : kept) {
    const size_t old_row = static_cast<size_t>(nwords_) + offset;
    codes.insert(codes.end(), quantizer->codes.begin() + old_row * code_bytes,
                 quantizer->codes.begin() + (old_row + 1) * code_bytes);
    if (quantizer->qnorm) norm_codes.push_back(quantizer->norm_codes[old_row]);
  }
  quantizer->codes = std::move(codes);
  quantizer->norm_codes = std::move(norm_codes);
  quantizer->rows = nwords_ + static_cast<int64_t>(kept.size());
  input_rows_ = quantizer->rows;
  return absl::OkStatus();
}

int32_t FastPredictor::BucketRow(int32_t bucket_id) const {
  if (!pruned_) return nwords_ + bucket_id;
  const KeptBuckets& word = kept_buckets_[bucket_id / 64];
  const uint64_t bit = uint64_t{1} << (bucket_id % 64);
  if ((word.bits & bit) == 0) return -1;
  return nwords_ +
         static_cast<int32_t>(word.before + PopCount(word.bits & (bit - 1)));
}

void FastPredictor::AppendSubwordBuckets(absl::string_view token,
                                         std::vector<int32_t>* buckets) const {
  if (maxn_ <= 0 || bucket_ <= 0) return;
  // Over the virtual string "<" token ">".
  const size_t size = token.size() + 2;
  const auto at = [&](size_t i) -> char {
    return i == 0 ? '<' : i == size - 1 ? '>' : token[i - 1];
  };
  const uint32_t num_buckets = static_cast<uint32_t>(bucket_);
  for (size_t i = 0; i < size; ++i) {
    if (IsUtf8Continuation(at(i))) continue;
    uint32_t h = kHashSeed;
    size_t j = i;
    for (int n = 1; j < size && n <= maxn_; ++n) {
      h = HashStep(h, at(j++));
      while (j < size && IsUtf8Continuation(at(j))) h = HashStep(h, at(j++));
      // Character n-grams of minn..maxn characters; the lone "<" and ">"
      // are not n-grams.
      if (n >= minn_ && !(n == 1 && (i == 0 || j == size))) {
        const int32_t bucket = static_cast<int32_t>(h % num_buckets);
        PrefetchBucket(bucket);
        buckets->push_back(bucket);
      }
    }
  }
}

void FastPredictor::PrefetchBucket(int32_t bucket_id) const {
  if (pruned_) {
    __builtin_prefetch(&kept_buckets_[bucket_id / 64]);
  } else {
    PrefetchRow(nwords_ + bucket_id);
  }
}

void FastPredictor::PrefetchRow(int32_t row) const {
  if (input_dense_.empty()) return;
  const char* data = reinterpret_cast<const char*>(
      input_dense_.data() + static_cast<size_t>(row) * dim_);
  const size_t bytes = dim_ * sizeof(float);
  for (size_t offset = 0; offset < bytes && offset < 256; offset += 64) {
    __builtin_prefetch(data + offset);
  }
}

void FastPredictor::ResolveBuckets(const std::vector<int32_t>& buckets,
                                   std::vector<int32_t>* rows) const {
  for (int32_t bucket : buckets) {
    const int32_t row = BucketRow(bucket);
    if (row < 0) continue;
    PrefetchRow(row);
    rows->push_back(row);
  }
}

void FastPredictor::AddInputRow(int32_t row, float* out) const {
  if (input_quantizer_ != nullptr) {
    input_quantizer_->AddRow(row, out);
    return;
  }
  AddTo(out, input_dense_.data() + static_cast<size_t>(row) * dim_, dim_);
}

int32_t FastPredictor::ComputeTokenSum(absl::string_view token, int32_t word_id,
                                       Scratch* scratch, float* sum) const {
  // Three passes, each issuing its loads before using them, so that the
  // memory latency of the n-grams overlaps: hash every n-gram, then find
  // their rows, then add the rows.
  std::vector<int32_t>& buckets = scratch->buckets;
  std::vector<int32_t>& rows = scratch->rows;
  buckets.clear();
  rows.clear();
  if (word_id >= 0) rows.push_back(word_id);
  if (token != kEndOfSentence) AppendSubwordBuckets(token, &buckets);
  ResolveBuckets(buckets, &rows);
  std::fill(sum, sum + dim_, 0.0f);
  for (int32_t row : rows) AddInputRow(row, sum);
  return static_cast<int32_t>(rows.size());
}

void FastPredictor::PrecomputeWordSums(const Options& options) {
  const size_t per_word = dim_ * sizeof(float) + sizeof(int32_t);
  num_word_sums_ = static_cast<int32_t>(
      std::min<size_t>(nwords_, options.max_word_sums_bytes / per_word));
  word_sums_.assign(static_cast<size_t>(num_word_sums_) * dim_, 0.0f);
  word_row_counts_.resize(num_word_sums_);
  Scratch scratch;
  for (int32_t id = 0; id < num_word_sums_; ++id) {
    const absl::string_view word(word_bytes_.data() + word_offsets_[id],
                                 word_offsets_[id + 1] - word_offsets_[id]);
    word_row_counts_[id] =
        ComputeTokenSum(word, id, &scratch, &word_sums_[id * dim_]);
  }
}

FastPredictor::TokenCache* FastPredictor::ThreadTokenCache() const {
  if (token_cache_bytes_ == 0) return nullptr;
  // Most recently used first. Caches of destroyed predictors age out.
  thread_local std::vector<std::pair<uint64_t, std::unique_ptr<TokenCache>>>
      caches;
  for (size_t i = 0; i < caches.size(); ++i) {
    if (caches[i].first == id_) {
      if (i != 0)
        std::rotate(caches.begin(), caches.begin() + i, caches.begin() + i + 1);
      return caches.front().second.get();
    }
  }
  if (caches.size() >= kMaxCachesPerThread) caches.pop_back();
  caches.emplace(caches.begin(), id_,
                 std::make_unique<TokenCache>(dim_, token_cache_bytes_));
  return caches.front().second.get();
}

void FastPredictor::Predict(absl::string_view line, int k, float threshold,
                            std::vector<Prediction>* predictions) const {
  predictions->clear();
  if (k < 1) k = output_rows_;  // fastText's kUnlimitedPredictions
  thread_local Scratch scratch;
  std::vector<float>& hidden = scratch.hidden;
  hidden.assign(dim_, 0.0f);
  scratch.token_sum.resize(dim_);
  scratch.token_hashes.clear();
  TokenCache* cache = ThreadTokenCache();
  int64_t num_rows = 0;

  const auto add = [&](const float* sum, int32_t count) {
    AddTo(hidden.data(), sum, dim_);
    num_rows += count;
  };
  // One token, as Dictionary::getLine + addSubwords treat it.
  const auto process = [&](absl::string_view token, uint32_t hash) {
    const bool use_cache = cache != nullptr &&
                           token.size() <= TokenCache::kMaxKeyBytes &&
                           cache->Active();
    // Start fetching the token's cache slot while the vocabulary is probed.
    if (use_cache) cache->Prefetch(hash);
    const int32_t id = FindWord(token, hash);
    const bool is_word = id >= 0
                             ? entry_types_[id] == 0
                             : !absl::StartsWith(token, kDefaultLabelPrefix);
    if (!is_word) return;  // Labels are not input.
    if (word_ngrams_ > 1) {
      scratch.token_hashes.push_back(static_cast<int32_t>(hash));
    }
    if (id >= 0 && id < num_word_sums_) {
      add(&word_sums_[static_cast<size_t>(id) * dim_], word_row_counts_[id]);
      return;
    }
    if (id < 0 && token == kEndOfSentence) return;  // No rows.
    if (use_cache) {
      int32_t count = 0;
      if (const float* sum = cache->Find(token, hash, &count)) {
        add(sum, count);
        return;
      }
    }
    float* sum = scratch.token_sum.data();
    const int32_t count = ComputeTokenSum(token, id, &scratch, sum);
    add(sum, count);
    if (use_cache) cache->Insert(token, hash, sum, count);
  };

  // fastText reads up to the newline, which becomes "</s>", and stops at
  // the first "</s>", even one written in the text.
  const size_t end = std::min(line.find('\n'), line.size());
  const char* text = line.data();
  size_t i = 0;
  bool ended = false;
  while (!ended) {
    while (i < end && IsDelimiter(text[i])) ++i;
    if (i >= end) break;
    const size_t start = i;
    uint32_t hash = kHashSeed;
    while (i < end && !IsDelimiter(text[i])) hash = HashStep(hash, text[i++]);
    const absl::string_view token(text + start, i - start);
    process(token, hash);
    ended = token == kEndOfSentence;
  }
  static const uint32_t kEndOfSentenceHash = Hash(kEndOfSentence);
  if (!ended) process(kEndOfSentence, kEndOfSentenceHash);

  // Word n-grams, as Dictionary::addWordNgrams: the int32 hashes widen to
  // 64 bits with sign extension.
  // Hashed, then looked up, then added, like a token's n-grams.
  const std::vector<int32_t>& hashes = scratch.token_hashes;
  scratch.buckets.clear();
  scratch.rows.clear();
  for (size_t a = 0; a < hashes.size(); ++a) {
    uint64_t h = static_cast<uint64_t>(static_cast<int64_t>(hashes[a]));
    for (size_t b = a + 1;
         b < hashes.size() && b < a + static_cast<size_t>(word_ngrams_); ++b) {
      h = h * 116049371 +
          static_cast<uint64_t>(static_cast<int64_t>(hashes[b]));
      const int32_t bucket =
          static_cast<int32_t>(h % static_cast<uint64_t>(bucket_));
      PrefetchBucket(bucket);
      scratch.buckets.push_back(bucket);
    }
  }
  ResolveBuckets(scratch.buckets, &scratch.rows);
  for (int32_t row : scratch.rows) AddInputRow(row, hidden.data());
  num_rows += static_cast<int64_t>(scratch.rows.size());

  if (num_rows == 0) return;  // fastText predicts nothing for no input.
  // Model::computeHidden multiplies by a float 1/n.
  const float scale = static_cast<float>(1.0 / num_rows);
  for (float& x : hidden) x *= scale;

  scratch.heap.clear();
  switch (loss_) {
    case Loss::kSoftmax:
      PredictSoftmax(hidden.data(), k, threshold, &scratch);
      break;
    case Loss::kHs:
      PredictHs(hidden.data(), k, threshold, &scratch);
      break;
    case Loss::kNs:
    case Loss::kOva:
      PredictBinary(hidden.data(), k, threshold, &scratch);
      break;
  }
  std::sort_heap(scratch.heap.begin(), scratch.heap.end(), ScoreGreater);
  for (const auto& [score, label] : scratch.heap) {
    predictions->push_back({label, std::exp(score)});
  }
}

float FastPredictor::OutputDot(int32_t row, const float* hidden) const {
  const float* weights =
      output_rows_data_.data() + static_cast<size_t>(row) * dim_;
  float dot = 0.0f;
  for (int j = 0; j < dim_; ++j) dot += hidden[j] * weights[j];
  return dot * output_norms_[row];
}

namespace {

// fastText's Loss::findKBest: a min-heap of the k best (log-score, label).
void FindKBest(int k, float threshold, const std::vector<float>& output,
               std::vector<std::pair<float, int32_t>>* heap) {
  for (int32_t i = 0; i < static_cast<int32_t>(output.size()); ++i) {
    if (output[i] < threshold) continue;
    const float score = StdLog(output[i]);
    if (static_cast<int>(heap->size()) == k && score < heap->front().first) {
      continue;
    }
    heap->emplace_back(score, i);
    std::push_heap(heap->begin(), heap->end(), ScoreGreater);
    if (static_cast<int>(heap->size()) > k) {
      std::pop_heap(heap->begin(), heap->end(), ScoreGreater);
      heap->pop_back();
    }
  }
}

}  // namespace

void FastPredictor::PredictSoftmax(const float* hidden, int k, float threshold,
                                   Scratch* scratch) const {
  std::vector<float>& output = scratch->output;
  output.resize(output_rows_);
  for (int32_t i = 0; i < output_rows_; ++i) output[i] = OutputDot(i, hidden);
  float max = output[0];
  for (float x : output) max = std::max(x, max);
  float z = 0.0f;
  for (float& x : output) {
    x = static_cast<float>(std::exp(static_cast<double>(x - max)));
    z += x;
  }
  for (float& x : output) x /= z;
  FindKBest(k, threshold, output, &scratch->heap);
}

float FastPredictor::TableSigmoid(float x) const {
  if (x < -kMaxSigmoid) return 0.0f;
  if (x > kMaxSigmoid) return 1.0f;
  const int64_t i = static_cast<int64_t>((x + kMaxSigmoid) * kSigmoidTableSize /
                                         kMaxSigmoid / 2);
  return sigmoid_table_[i];
}

void FastPredictor::PredictBinary(const float* hidden, int k, float threshold,
                                  Scratch* scratch) const {
  std::vector<float>& output = scratch->output;
  output.resize(output_rows_);
  for (int32_t i = 0; i < output_rows_; ++i) {
    output[i] = TableSigmoid(OutputDot(i, hidden));
  }
  FindKBest(k, threshold, output, &scratch->heap);
}

void FastPredictor::PredictHs(const float* hidden, int k, float threshold,
                              Scratch* scratch) const {
  const int32_t n = static_cast<int32_t>(labels_.size());
  Dfs(k, threshold, 2 * n - 2, 0.0f, hidden, scratch);
}

// HierarchicalSoftmaxLoss::dfs: walks the tree best-first by construction,
// pruning branches under the threshold or under the k-th best so far.
void FastPredictor::Dfs(int k, float threshold, int32_t node, float score,
                        const float* hidden, Scratch* scratch) const {
  std::vector<std::pair<float, int32_t>>& heap = scratch->heap;
  if (score < StdLog(threshold)) return;
  if (static_cast<int>(heap.size()) == k && score < heap.front().first) {
    return;
  }
  const int32_t n = static_cast<int32_t>(labels_.size());
  if (tree_left_[node] == -1 && tree_right_[node] == -1) {
    heap.emplace_back(score, node);
    std::push_heap(heap.begin(), heap.end(), ScoreGreater);
    if (static_cast<int>(heap.size()) > k) {
      std::pop_heap(heap.begin(), heap.end(), ScoreGreater);
      heap.pop_back();
    }
    return;
  }
  float f = OutputDot(node - n, hidden);
  f = static_cast<float>(1. / (1 + std::exp(-f)));
  Dfs(k, threshold, tree_left_[node],
      score + StdLog(static_cast<float>(1.0 - f)), hidden, scratch);
  Dfs(k, threshold, tree_right_[node], score + StdLog(f), hidden, scratch);
}

size_t FastPredictor::memory_bytes() const {
  size_t bytes = word_bytes_.capacity() +
                 word_offsets_.capacity() * sizeof(uint32_t) +
                 entry_types_.capacity() +
                 vocabulary_slots_.capacity() * sizeof(VocabularySlot) +
                 kept_buckets_.capacity() * sizeof(KeptBuckets) +
                 input_dense_.capacity() * sizeof(float) +
                 word_sums_.capacity() * sizeof(float) +
                 word_row_counts_.capacity() * sizeof(int32_t) +
                 output_rows_data_.capacity() * sizeof(float) +
                 output_norms_.capacity() * sizeof(float);
  if (input_quantizer_ != nullptr) {
    bytes += input_quantizer_->codes.capacity() +
             input_quantizer_->centroids.capacity() * sizeof(float) +
             input_quantizer_->norm_codes.capacity();
  }
  return bytes;
}

}  // namespace kabar::classify
