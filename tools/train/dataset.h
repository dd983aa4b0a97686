// Copyright kabar authors.
// Labeled examples for kabar-train: reads TSV (with a header row) or JSON
// Lines files, maps their columns to (label, language, text), applies a
// label map, and writes fastText's training format. The text is always
// common::NormalizeForTopicModel(common::FlattenForLanguageModel(title,
// body)), exactly what the classify service feeds the topic model, so
// training and serving agree. All functions are thread-compatible.
#ifndef KABAR_TOOLS_TRAIN_DATASET_H_
#define KABAR_TOOLS_TRAIN_DATASET_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::train {

// Which columns (TSV) or fields (JSON Lines) hold what.
struct FieldMapping {
  // Joined as title + body: the first one present is the title, the rest
  // form the body. A name missing from a file is skipped, so one mapping
  // ("headline,text") serves files with and without headlines; a file with
  // none of them is an error.
  std::vector<std::string> text_fields = {"headline", "text"};
  // Must be present in every file.
  std::string label_field = "category";
  // Optional. When empty or missing from a file, the language comes from the
  // input's `LANG=` prefix (InputSpec::lang), else it is empty.
  std::string lang_field = "lang";
  // Train a language-ID model: the label is the example's language (its
  // lang_field, else the input's LANG= prefix) and label_field is not read.
  // A row without a language is skipped as one without a label.
  bool label_from_lang = false;
};

// One input file as given on the command line:
// "[LANG=]PATH[@REPEAT][%BALANCE]". LANG names the language of the whole
// file; REPEAT (a positive integer, default 1) repeats each example, to
// oversample a small or under-represented source. BALANCE (0 to 1, default
// 0) evens out the file's labels: an example whose label has `count`
// examples, the file's most frequent label `max_count`, is repeated
// round(REPEAT * (max_count / count)^BALANCE) times, so 1 balances fully
// and 0.5 takes the square root of the imbalance. The format follows the
// extension: .jsonl, .ndjson and .json are JSON Lines, anything else TSV.
struct InputSpec {
  std::string lang;
  std::string path;
  int repeat = 1;
  double balance = 0;
};

// Parses "[LANG=]PATH[@REPEAT][%BALANCE]". INVALID_ARGUMENT for an empty
// path, a REPEAT that is not a positive integer or a BALANCE outside
// [0, 1].
absl::StatusOr<InputSpec> ParseInputSpec(absl::string_view spec);

// Renames labels: "from<TAB>to" per line, '#' starts a comment line, blank
// lines are ignored; "-" as the target drops examples with that label.
// Labels not in the map pass through unchanged. Immutable after creation,
// so thread-safe.
class LabelMap final {
 public:
  LabelMap() = default;

  // INVALID_ARGUMENT naming the line for a line without exactly two
  // non-empty fields, a duplicate source label, or a target with
  // whitespace.
  static absl::StatusOr<LabelMap> Parse(absl::string_view content);
  // Parse() on a file; NOT_FOUND when it cannot be read.
  static absl::StatusOr<LabelMap> ReadFile(const std::string& path);

  // The label to train with, or nullopt when `label` is dropped.
  std::optional<std::string> Map(const std::string& label) const;

 private:
  std::map<std::string, std::string> mapping_;
};

// One example: its (mapped) label, its language (possibly empty) and its
// normalized one-line text.
struct Example {
  std::string label;
  std::string lang;
  std::string text;
  // The same text before normalization: title and body flattened onto one
  // line (common::FlattenForLanguageModel), what lid.176 is served.
  std::string line;
};

// What reading skipped, for logging.
struct ReadStats {
  int64_t rows = 0;
  int64_t dropped_by_label_map = 0;
  int64_t empty_text = 0;
  int64_t empty_label = 0;
  int64_t invalid_utf8 = 0;
};

// Reads every example of `input`, in file order, each repeated as
// input.repeat and input.balance say. Rows with an empty label or text, invalid
// UTF-8 (which ingest would reject), or a label the map drops are skipped and
// counted in *stats (when not null). Errors: NOT_FOUND for an unreadable file;
// INVALID_ARGUMENT naming the file (and line) for malformed TSV or JSON, a
// missing label column/field, a file with none of the text fields, or a
// label containing whitespace after mapping.
absl::StatusOr<std::vector<Example>> ReadExamples(const InputSpec& input,
                                                  const FieldMapping& mapping,
                                                  const LabelMap& label_map,
                                                  ReadStats* stats = nullptr);

// The normalized model input for an article, as served.
std::string TopicModelText(absl::string_view title, absl::string_view body);

// "__label__LABEL TEXT", without a newline.
std::string ToFastTextLine(const Example& example);

// Writes one ToFastTextLine per example. INTERNAL when the file cannot be
// written.
absl::Status WriteFastTextFile(const std::vector<Example>& examples,
                               const std::string& path);

// Splits indices 0..labels.size()-1 into two sets, deterministically for a
// given seed on every platform: within each label, a seeded shuffle puts
// round(fraction * count) of them in `first`, the rest in `second`. Both
// lists come back sorted, so file order is kept.
struct Split {
  std::vector<size_t> first;
  std::vector<size_t> second;
};
Split StratifiedSplit(const std::vector<std::string>& labels, double fraction,
                      uint64_t seed);

}  // namespace kabar::train

#endif  // KABAR_TOOLS_TRAIN_DATASET_H_
