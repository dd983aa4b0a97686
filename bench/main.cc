// Copyright kabar authors.
// kabar-bench: measures classification throughput of fastText, kabar's
// classifier core and the classify service on one corpus in one run, and
// prints a Markdown table (see bench/README.md).
//
//   kabar-bench [--quick] [--rows=A,A2,B,C,D,D2,E]
//       [--corpus=FILE.jsonl | --articles=20000 --article_bytes=2000
//        --languages=LANG[:WEIGHT],... --mixed_fraction=0.05 --seed=1
//        --sentences=../shared/datasets/sib200/train.tsv]
//       [--write_corpus=FILE.jsonl] [--generate_only]
//       [--language_model=models/lid.176.ftz] [--topic_model=models/topic.ftz]
//       [--threads=0] [--warmup_articles=200] [--passes=1]
//       [--client_threads=1] [--batch_size=64] [--classify_binary=PATH]
//       [--dequantize_mb=-1] [--token_cache_mb=-1] [--report=FILE.md]
//
// --quick classifies 800 articles (under a minute with start-up), for CI.
// Flags can also come from KABAR_<FLAG> environment variables.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "bench/corpus.h"
#include "bench/harness.h"
#include "bench/process_stats.h"
#include "services/common/flags.h"
#include "services/store/testing/postgres_test_database.h"

ABSL_FLAG(bool, quick, false, "small run for CI: at most 800 articles");
ABSL_FLAG(std::string, rows, "A,A2,B,C,D,D2,E",
          "rows to run, in order (D2 needs D first; E needs "
          "KABAR_TEST_POSTGRES_URL and is skipped without it)");
ABSL_FLAG(std::string, corpus, "", "replay this JSON Lines file");
ABSL_FLAG(int, articles, 20000, "articles to generate");
ABSL_FLAG(int, article_bytes, 2000, "mean body length in bytes");
ABSL_FLAG(std::string, languages, "",
          "language mix LANG[:WEIGHT],... (SIB-200 codes); empty: all");
ABSL_FLAG(double, mixed_fraction, 0.05,
          "fraction of articles mixing two languages");
ABSL_FLAG(uint64_t, seed, 1, "corpus seed");
ABSL_FLAG(std::string, sentences, "../shared/datasets/sib200/train.tsv",
          "SIB-200 TSV the generator draws sentences from");
ABSL_FLAG(std::string, write_corpus, "", "also write the corpus here");
ABSL_FLAG(bool, generate_only, false, "write the corpus and exit");
ABSL_FLAG(std::string, language_model, "models/lid.176.ftz", "language model");
ABSL_FLAG(std::string, topic_model, "models/topic.ftz", "topic model");
ABSL_FLAG(std::string, kabar_language_model, "",
          "rows B-D: also kabar's language model (e.g. models/language.ftz)");
ABSL_FLAG(int, threads, 0, "classification threads; 0 = one per CPU");
ABSL_FLAG(int, warmup_articles, 200, "untimed articles before each row");
ABSL_FLAG(int, passes, 1, "timed passes over the corpus");
ABSL_FLAG(int, client_threads, 1,
          "row C client threads (batches in flight); 0 = --threads");
ABSL_FLAG(int, batch_size, 64, "row C texts per ClassifyBatch");
ABSL_FLAG(std::string, classify_binary, "",
          "row C server; default: kabar-classify of this build");
ABSL_FLAG(std::string, report, "", "also write the report here");
ABSL_FLAG(int, dequantize_mb, -1,
          "row B: FastPredictor max_input_matrix_bytes in MiB; -1 = default");
ABSL_FLAG(int, token_cache_mb, -1,
          "row B: FastPredictor token cache per thread and model in MiB; "
          "-1 = default");

namespace kabar::bench {
namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "kabar-bench: %s\n", message.c_str());
  return 1;
}

int Run() {
  const bool quick = absl::GetFlag(FLAGS_quick);
  std::vector<Article> articles;
  std::string corpus_description;
  if (const std::string path = absl::GetFlag(FLAGS_corpus); !path.empty()) {
    absl::StatusOr<std::vector<Article>> read = ReadJsonLines(path);
    if (!read.ok()) return Fail(read.status().ToString());
    articles = std::move(read).value();
    if (quick && articles.size() > 800) articles.resize(800);
    corpus_description = absl::StrCat("replayed from ", path);
  } else {
    CorpusOptions options;
    options.sentences_path = absl::GetFlag(FLAGS_sentences);
    options.num_articles = absl::GetFlag(FLAGS_articles);
    if (quick) options.num_articles = std::min(options.num_articles, 800);
    options.article_bytes = absl::GetFlag(FLAGS_article_bytes);
    options.languages = absl::GetFlag(FLAGS_languages);
    options.mixed_fraction = absl::GetFlag(FLAGS_mixed_fraction);
    options.seed = absl::GetFlag(FLAGS_seed);
    absl::StatusOr<std::vector<Article>> generated = GenerateCorpus(options);
    if (!generated.ok()) return Fail(generated.status().ToString());
    articles = std::move(generated).value();
    corpus_description = absl::StrCat(
        "generated from ", options.sentences_path, ": seed ", options.seed,
        ", mean body ", options.article_bytes, " bytes, languages ",
        options.languages.empty() ? "all, equally" : options.languages,
        ", mixed ", options.mixed_fraction);
  }
  if (const std::string path = absl::GetFlag(FLAGS_write_corpus);
      !path.empty()) {
    if (absl::Status s = WriteJsonLines(articles, path); !s.ok()) {
      return Fail(s.ToString());
    }
  }
  if (absl::GetFlag(FLAGS_generate_only)) return 0;
  if (articles.empty()) return Fail("the corpus is empty");

  HarnessOptions options;
  options.language_model = absl::GetFlag(FLAGS_language_model);
  options.topic_model = absl::GetFlag(FLAGS_topic_model);
  options.kabar_language_model = absl::GetFlag(FLAGS_kabar_language_model);
  for (const std::string& model :
       {options.language_model, options.topic_model}) {
    if (!std::filesystem::is_regular_file(model)) {
      return Fail(absl::StrCat("model ", model,
                               " not found (see --language_model, "
                               "--topic_model)"));
    }
  }
  options.threads = absl::GetFlag(FLAGS_threads);
  if (options.threads <= 0) {
    options.threads = std::max(1u, std::thread::hardware_concurrency());
  }
  options.warmup_articles =
      quick ? std::min(absl::GetFlag(FLAGS_warmup_articles), 100)
            : absl::GetFlag(FLAGS_warmup_articles);
  options.passes = quick ? 1 : std::max(1, absl::GetFlag(FLAGS_passes));
  options.client_threads = absl::GetFlag(FLAGS_client_threads);
  options.batch_size = absl::GetFlag(FLAGS_batch_size);
  options.classify_binary = absl::GetFlag(FLAGS_classify_binary);
  if (const int mb = absl::GetFlag(FLAGS_dequantize_mb); mb >= 0) {
    options.fast_predictor.max_input_matrix_bytes = size_t{1} * mb << 20;
  }
  if (const int mb = absl::GetFlag(FLAGS_token_cache_mb); mb >= 0) {
    options.fast_predictor.token_cache_bytes_per_thread = size_t{1} * mb << 20;
  }

  const size_t bytes = TextBytes(articles);
  std::string report = absl::StrCat(
      "Machine: ", MachineDescription(), "; load average at start ",
      LoadAverage(), "\n", "Corpus: ", articles.size(), " articles, ",
      absl::StrFormat("%.1f", bytes / 1e6), " MB (mean ",
      bytes / articles.size(), " bytes), ", corpus_description, "\n",
      "Models: ", options.language_model, ", ", options.topic_model,
      options.kabar_language_model.empty()
          ? ""
          : absl::StrCat(", kabar language model ",
                         options.kabar_language_model, " (rows B-D)"),
      "\n",
      "Threads: ", options.threads, "; passes: ", options.passes,
      "; warm-up: ", options.warmup_articles, " articles\n\n");
  std::fputs(report.c_str(), stdout);
  std::fflush(stdout);

  const auto EndToEnd = [](std::string row, std::string store_db = "",
                           double max_rate = 0) {
    EndToEndOptions e2e;
    e2e.row = std::move(row);
    e2e.store_db = std::move(store_db);
    e2e.max_rate = max_rate;
    return e2e;
  };
  std::vector<RowResult> results;
  const std::vector<std::string> rows =
      absl::StrSplit(absl::GetFlag(FLAGS_rows), ',', absl::SkipEmpty());
  for (const std::string& row : rows) {
    std::fprintf(stderr, "kabar-bench: row %s...\n", row.c_str());
    absl::StatusOr<RowResult> result;
    if (row == "A") {
      result = RunFastTextRow(articles, options);
    } else if (row == "A2") {
      result = RunClassifierRow(articles, options, /*fasttext_engine=*/true);
    } else if (row == "B") {
      result = RunClassifierRow(articles, options, /*fasttext_engine=*/false);
    } else if (row == "C") {
      result = RunServiceRow(articles, options);
    } else if (row == "D") {
      result = RunEndToEndRow(articles, options, EndToEnd("D"));
    } else if (row == "D2") {
      // Latency at half the peak rate: what a user sees when the pipeline
      // is busy but not saturated.
      const auto d = std::find_if(results.begin(), results.end(),
                                  [](const RowResult& r) { return r.row == "D"; });
      if (d == results.end()) return Fail("row D2 needs row D before it");
      result = RunEndToEndRow(articles, options,
                              EndToEnd("D2", "", d->articles_per_second() / 2));
    } else if (row == "E") {
      if (store::PostgresTestDatabase::ServerUrl().empty()) {
        std::fprintf(stderr, "kabar-bench: row E skipped: %s\n",
                     store::PostgresTestDatabase::SkipMessage().c_str());
        continue;
      }
      absl::StatusOr<std::unique_ptr<store::PostgresTestDatabase>> database =
          store::PostgresTestDatabase::Create();
      if (!database.ok()) {
        return Fail(absl::StrCat("row E: ", database.status().ToString()));
      }
      result = RunEndToEndRow(articles, options,
                              EndToEnd("E", (*database)->url()));
    } else {
      return Fail(absl::StrCat("unknown row ", row, " (A, A2, B, C, D, D2 or E)"));
    }
    if (!result.ok()) {
      return Fail(absl::StrCat("row ", row, ": ", result.status().ToString()));
    }
    results.push_back(std::move(result).value());
  }

  std::string tail = FormatTable(results);
  const RowResult* a = nullptr;
  const RowResult* b = nullptr;
  const RowResult* c = nullptr;
  for (const RowResult& r : results) {
    if (r.row == "A") a = &r;
    if (r.row == "B") b = &r;
    if (r.row == "C") c = &r;
  }
  absl::StrAppend(&tail, "\n");
  // Ratios of throughput and, steadier on a shared machine, of CPU per
  // article (C and D: services plus client).
  const auto cpu_per_article = [](const RowResult& r) {
    return (r.cpu_seconds + std::max(0.0, r.client_cpu_seconds)) / r.articles;
  };
  const auto ratio = [&](const char* name, const RowResult& x,
                         const RowResult& y, const char* target) {
    absl::StrAppend(
        &tail,
        absl::StrFormat("%s = %.2f by throughput, %.2f by CPU (target %s)\n",
                        name, x.articles_per_second() / y.articles_per_second(),
                        cpu_per_article(y) / cpu_per_article(x), target));
  };
  if (a != nullptr && b != nullptr) ratio("B / A", *b, *a, ">= 2.0");
  if (b != nullptr && c != nullptr) ratio("C / B", *c, *b, ">= 0.9");
  for (const RowResult& r : results) {
    if (r.row == "D" && b != nullptr) ratio("D / B", r, *b, ">= 0.6");
    if (r.row == "E" && b != nullptr) ratio("E / B", r, *b, "none");
    if (r.row == "D2") {
      // The CLI's summary ends "; ack latency p50 P ms, p99 Q ms".
      const size_t at = r.note.find("p99 ");
      double p99 = 0;
      if (at != std::string::npos &&
          std::sscanf(r.note.c_str() + at, "p99 %lf ms", &p99) == 1) {
        absl::StrAppend(&tail, absl::StrFormat("D2 p99 ack latency = %.1f ms at "
                                               "half of D's rate (target < 50 ms)\n",
                                               p99));
      }
    }
    if (!r.note.empty()) absl::StrAppend(&tail, r.row, ": ", r.note, "\n");
  }
  bool different_answers = false;
  if (a != nullptr) {
    for (const RowResult& r : results) {
      if (&r == a || r.answers.empty()) continue;
      const Agreement agreement = Compare(*a, r);
      // The sameness bar every engine must clear against fastText itself.
      if (agreement.language < 0.999 || agreement.topic < 0.999 ||
          agreement.max_probability_diff > 1e-4) {
        absl::StrAppend(&tail, "FAIL: row ", r.row,
                        " does not give fastText's answers (needs >= 99.9% "
                        "top-1 agreement and |p diff| <= 1e-4)\n");
        different_answers = true;
      }
      absl::StrAppend(
          &tail, absl::StrFormat(
                     "Same answers as A, row %s: top-1 language %.3f%%, "
                     "top-1 topic %.3f%%, max |p diff| %.2g\n",
                     r.row, 100 * agreement.language, 100 * agreement.topic,
                     agreement.max_probability_diff));
      for (const std::string& example : agreement.examples) {
        absl::StrAppend(&tail, "  differs: ", example, "\n");
      }
    }
  }
  absl::StrAppend(&tail, "Load average at end: ", LoadAverage(), "\n");
  std::fputs(tail.c_str(), stdout);
  if (const std::string path = absl::GetFlag(FLAGS_report); !path.empty()) {
    std::ofstream out(path, std::ios::trunc);
    out << report << tail;
  }
  return different_answers ? 1 : 0;
}

}  // namespace
}  // namespace kabar::bench

int main(int argc, char** argv) {
  kabar::common::ParseFlags(argc, argv,
                            "kabar-bench: classification throughput; see "
                            "bench/README.md");
  return kabar::bench::Run();
}
