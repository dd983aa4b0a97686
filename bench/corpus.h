// Copyright kabar authors.
// The benchmark's input: news-like articles, either generated
// deterministically from SIB-200 sentences (a seed, a length and a language
// mix fix every byte) or replayed from any JSON Lines file. Generated
// corpora are written in the format `kabar ingest` reads (url, source,
// title, body, metadata), so one file can drive every row of the harness.
// Functions are pure apart from file access; nothing is shared.
#ifndef KABAR_BENCH_CORPUS_H_
#define KABAR_BENCH_CORPUS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace kabar::bench {

struct Article {
  std::string url;
  std::string title;
  std::string body;
  // What the generator built it from (SIB-200 language, e.g. "ind_Latn",
  // and category); empty for replayed articles that do not say.
  std::string lang;
  std::string category;
};

struct CorpusOptions {
  // SIB-200 style TSV with a header: lang <TAB> category <TAB> text.
  std::string sentences_path;
  // Articles to generate. Default 2000 (~4 MB at the default length).
  int num_articles = 2000;
  // Mean body length in bytes; each article's target is drawn uniformly
  // from [0.5, 1.5] x this, then filled with whole sentences. Default 2000,
  // about a short news article.
  int article_bytes = 2000;
  // Language mix: "lang[:weight],..." over SIB-200 codes, e.g.
  // "ind_Latn:4,eng_Latn:2,zho_Hans:1". Empty: every language in the file,
  // equally likely.
  std::string languages;
  // Fraction of articles that mix in sentences of a second language (quotes,
  // bilingual outlets). Default 0.05. Range [0, 1].
  double mixed_fraction = 0.05;
  // Seed of every random choice: same options and file, same corpus.
  uint64_t seed = 1;
};

// Generates the corpus. Articles keep to one category where the language
// has enough sentences of it. Errors: NOT_FOUND when the file cannot be
// read; INVALID_ARGUMENT for bad options or a language not in the file.
absl::StatusOr<std::vector<Article>> GenerateCorpus(
    const CorpusOptions& options);

// Reads JSON Lines: one object per line with string fields "title" and
// "body" (either may be missing; "text" or "content" stand in for a missing
// body), and optionally "url", "lang" (or metadata "bench_lang" or
// "lang_hint") and "category" (or metadata "bench_category" or "topic").
// Blank lines are skipped. Errors: NOT_FOUND;
// INVALID_ARGUMENT naming the line for malformed JSON.
absl::StatusOr<std::vector<Article>> ReadJsonLines(const std::string& path);

// Writes `articles` as JSON Lines in `kabar ingest`'s format, with the
// generator's language and category as metadata bench_lang/bench_category.
absl::Status WriteJsonLines(const std::vector<Article>& articles,
                            const std::string& path);

// Total bytes of titles and bodies: what MB/s counts.
size_t TextBytes(const std::vector<Article>& articles);

}  // namespace kabar::bench

#endif  // KABAR_BENCH_CORPUS_H_
