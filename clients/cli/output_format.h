// Copyright kabar authors.
// How the `kabar` CLI prints what the services return: JSON objects for
// scripts (one per line for lists) and aligned tables for people. Pure
// functions, thread-safe.
#ifndef KABAR_CLIENTS_CLI_OUTPUT_FORMAT_H_
#define KABAR_CLIENTS_CLI_OUTPUT_FORMAT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/timestamp.pb.h"
#include "kabar/v1/article.pb.h"
#include "kabar/v1/classify_service.pb.h"
#include "kabar/v1/store_service.pb.h"
#include "nlohmann/json.hpp"

namespace kabar::cli {

// Output formats a command may be asked for.
enum class OutputFormat { kTable, kJson };

// Parses --format: "table", or "json"/"jsonl" (the same for every command:
// list commands print one compact object per line, single-object commands
// one indented object). INVALID_ARGUMENT otherwise.
absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text);

// Hex digits of a model's SHA-256 shown in listings.
inline constexpr size_t kShortHashLength = 12;

// RFC 3339 in UTC with as many fractional digits as needed, e.g.
// "2024-05-01T01:00:00Z".
std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp);

// Parses an RFC 3339 time, or a date "YYYY-MM-DD" meaning its midnight UTC.
// INVALID_ARGUMENT (quoting the text) otherwise.
absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(
    absl::string_view text);

// One article as a JSON object, members in this order:
//   id, url, source, title            strings
//   published_at                      RFC 3339 string, or null when unknown
//   ingested_at                       RFC 3339 string, or null
//   language                          string, or null when unlabeled
//   language_confidence               number in [0, 1], or null
//   topic, topic_confidence           the top topic, or null when none
//   topics                            [{"label": ..., "confidence": ...}]
//   language_model, topic_model       first kShortHashLength hex digits of
//                                     the model's SHA-256, or null
// With `include_body`, also body (string), metadata (object of strings)
// and language_alternatives (like topics). Confidences are rounded to four
// decimals.
nlohmann::ordered_json StoredArticleToJson(const v1::StoredArticle& stored,
                                           bool include_body);

// Classifier output as JSON: language, language_confidence,
// language_alternatives, topics (as above) and language_model/topic_model
// as {"name": ..., "sha256": ...} with the full hash.
nlohmann::ordered_json LabelsToJson(const v1::Labels& labels);

// Counts as {"total": N, "by_language": [{"label":..., "count":...}, ...],
// "by_topic": [...]}, most frequent first.
nlohmann::ordered_json CountsToJson(const v1::CountArticlesResponse& counts);

// Loaded models as {"models": [{"role", "path", "name", "sha256", "labels",
// "loaded_at", "size_bytes"}, ...]}.
nlohmann::ordered_json ModelsToJson(const v1::GetModelsResponse& models);

// Objects keep their members in insertion order (ordered_json), so output
// reads in the documented order rather than alphabetically.

// JSON text that never throws: invalid UTF-8 in a string becomes U+FFFD.
// `indent` < 0 means compact, on one line.
std::string DumpJson(const nlohmann::ordered_json& value, int indent = -1);

// Columns a terminal gives `text`: 2 for East Asian wide and fullwidth
// characters and most emoji, 0 for combining marks and zero-width
// characters, 1 for the rest. Malformed bytes count 1 each.
size_t DisplayWidth(absl::string_view text);

// The longest prefix of `text` that fits in `max_width` columns, ending in
// "…" when something was cut. Never splits a UTF-8 sequence. Line breaks
// and other control characters become spaces, so one value stays one line.
std::string FitToWidth(absl::string_view text, size_t max_width);

// A text table: columns padded by display width and separated by two
// spaces; the last column is not padded. Not thread-safe.
class TextTable final {
 public:
  explicit TextTable(std::vector<std::string> header);

  // REQUIRES: as many cells as the header has.
  void AddRow(std::vector<std::string> cells);

  // All rows, header first, each ending in "\n".
  std::string Render() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The `kabar query` table: ID (shortened), LANG, CONF, TOPIC, CONF, SOURCE
// and TITLE, with titles cut so that each row fits `max_line_width`
// columns (but never to fewer than 20 columns).
std::string ArticlesTable(const std::vector<v1::StoredArticle>& articles,
                          size_t max_line_width);

// ArticlesTable for a text search: each row followed by its match's
// snippet on its own indented line ("[" "]" mark the matched words).
// REQUIRES: as many matches as articles.
std::string SearchResultsTable(const std::vector<v1::StoredArticle>& articles,
                               const std::vector<v1::TextMatch>& matches,
                               size_t max_line_width);

// StoredArticleToJson(stored, false) plus "snippet" and "relevance".
nlohmann::ordered_json SearchResultToJson(const v1::StoredArticle& stored,
                                          const v1::TextMatch& match);

// `kabar stats --by NAME`: the total, then a table NAME (in capitals),
// COUNT, SHARE with one row per group.
std::string GroupCountsDetails(const v1::CountArticlesResponse& counts,
                               absl::string_view name);

// One group as {NAME: label, "count": n}, for `kabar stats --by NAME
// --format=jsonl` (one object per line).
nlohmann::ordered_json GroupCountToJson(const v1::LabelCount& group,
                                        absl::string_view name);

// One `kabar watch` arrival as a line of text (without "\n"): cursor,
// ingested time, language, top topic, source and title, fitted to
// `max_line_width`.
std::string WatchLine(const v1::WatchArticlesResponse& message,
                      size_t max_line_width);

// One `kabar watch` arrival as {"cursor": ..., "article": {...}} with the
// article as StoredArticleToJson(stored, false) gives it.
nlohmann::ordered_json WatchMessageToJson(
    const v1::WatchArticlesResponse& message);

// The `kabar get` text form: one "field: value" line per field, then a
// blank line and the body.
std::string ArticleDetails(const v1::StoredArticle& stored);

// The `kabar classify` text form: language with confidence and
// alternatives, topics, and the models that answered.
std::string LabelsDetails(const v1::Labels& labels);

// The `kabar stats` text form: the total, then a table by language and one
// by topic with counts and shares.
std::string CountsDetails(const v1::CountArticlesResponse& counts);

// The `kabar models` text form: one row per model.
std::string ModelsTable(const v1::GetModelsResponse& models);

}  // namespace kabar::cli

#endif  // KABAR_CLIENTS_CLI_OUTPUT_FORMAT_H_
