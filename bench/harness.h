// Copyright kabar authors.
// The rows of kabar-bench. Each row classifies the same articles (language
// and topics) and reports wall time, CPU time and peak memory:
//   A   fastText's FastText::predictLine on both models, in process;
//   A2  kabar's FastTextClassifier on fastText's engine, in process (A plus
//       what the adapter adds: validation, labels, protobuf);
//   B   kabar's FastTextClassifier on its fast engine (FastPredictor), in
//       process;
//   C   the real kabar-classify binary over gRPC, batches sent from client
//       threads on the same machine;
//   D   end to end: `kabar ingest` -> kabar-ingest -> kabar-classify ->
//       kabar-store (SQLite), every article acknowledged.
// In-process rows run in a forked child each, so one row's memory and
// caches never flatter or burden another; fork happens before the harness
// starts any thread. Each row records its answers so they can be compared.
#ifndef KABAR_BENCH_HARNESS_H_
#define KABAR_BENCH_HARNESS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/corpus.h"
#include "services/classify/fast_predictor.h"

namespace kabar::bench {

struct HarnessOptions {
  // Model files (absolute or relative to the working directory).
  std::string language_model;
  std::string topic_model;
  // kabar's own language model for rows B, C and D (combined with
  // language_model as kabar-classify does); empty: language_model alone.
  std::string kabar_language_model;
  // Classification threads of in-process rows and of the service
  // (--threads). Default: one per logical CPU.
  int threads = 0;
  // Articles classified before timing starts, to load pages and fill
  // caches. They are not counted.
  int warmup_articles = 200;
  // Times the corpus is classified in the timed phase.
  int passes = 1;
  // Row C: the kabar-classify binary (empty: this build's), client threads
  // and batch size. Row D uses this build's binaries.
  std::string classify_binary;
  int client_threads = 1;  // batches in flight; 0: same as threads
  int batch_size = 64;
  // Row B's FastPredictor budgets (row C's service uses its defaults).
  classify::FastPredictor::Options fast_predictor;
};

// What one article got: top-1 language and topic with probabilities ("" if
// none).
struct Answer {
  std::string language;
  float language_probability = 0;
  std::string topic;
  float topic_probability = 0;
};

struct RowResult {
  std::string row;          // "A", "A2", "B", "C", "D"
  std::string description;  // one line
  int64_t articles = 0;     // classified in the timed phase
  int64_t bytes = 0;        // title + body bytes of those
  double wall_seconds = 0;
  // CPU of the process doing the classifying (in-process: the row's own
  // process; C: the service; D: the three services together).
  double cpu_seconds = 0;
  // C and D: CPU of the client (C: the harness's request building and
  // gRPC; D: the kabar CLI).
  double client_cpu_seconds = -1;
  // Peak resident memory of the classifying process, and (in-process rows)
  // what it had already at the start, inherited from the harness: the
  // corpus and libraries.
  int64_t peak_rss_bytes = -1;
  int64_t baseline_rss_bytes = 0;
  // Anything else worth printing under the table (row D: the CLI summary).
  std::string note;
  // One per article, in corpus order (the timed pass); empty for row D.
  std::vector<Answer> answers;

  double articles_per_second() const { return articles / wall_seconds; }
};

// Row A. Runs in a forked child.
absl::StatusOr<RowResult> RunFastTextRow(const std::vector<Article>& articles,
                                         const HarnessOptions& options);

// Rows A2 (fasttext_engine) and B. Runs in a forked child.
absl::StatusOr<RowResult> RunClassifierRow(const std::vector<Article>& articles,
                                           const HarnessOptions& options,
                                           bool fasttext_engine);

// Row C: starts kabar-classify on a free loopback port, warms it up, then
// sends the corpus in batches from client threads. Starts threads: run it
// after the forked rows.
absl::StatusOr<RowResult> RunServiceRow(const std::vector<Article>& articles,
                                        const HarnessOptions& options);

// Row D: starts kabar-store (SQLite), kabar-classify and kabar-ingest on
// loopback ports, warms classify up, then times `kabar ingest` sending the
// corpus (written to a temporary JSON Lines file) until every article is
// acknowledged, i.e. classified and committed. CPU and peak RSS are summed
// over the three services; the CLI's CPU is the client's. Run it after the
// forked rows.
struct EndToEndOptions {
  std::string row = "D";
  // The store's --db: "" for a SQLite file in the run's directory, or a
  // postgresql:// URL (row E).
  std::string store_db;
  // The CLI's --max_rate (articles/s); 0 = as fast as acks allow.
  double max_rate = 0;
};
absl::StatusOr<RowResult> RunEndToEndRow(const std::vector<Article>& articles,
                                         const HarnessOptions& options,
                                         const EndToEndOptions& end_to_end);

// How closely `row` agrees with `reference`: top-1 language and topic
// agreement and the largest probability difference where they agree.
struct Agreement {
  double language = 0;  // fraction of articles
  double topic = 0;
  double max_probability_diff = 0;
  // A few disagreements, "#index: A's vs row's", for the report.
  std::vector<std::string> examples;
};
Agreement Compare(const RowResult& reference, const RowResult& row);

// The results as a Markdown table, ratios against the row named "A".
std::string FormatTable(const std::vector<RowResult>& rows);

}  // namespace kabar::bench

#endif  // KABAR_BENCH_HARNESS_H_
