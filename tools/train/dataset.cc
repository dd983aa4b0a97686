// Copyright kabar authors.
#include "tools/train/dataset.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "services/common/status_macros.h"
#include "services/common/text.h"
#include "tools/train/tsv_reader.h"

namespace kabar::train {
namespace {

constexpr absl::string_view kLabelPrefix = "__label__";

bool HasWhitespace(absl::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isspace(static_cast<unsigned char>(c));
  });
}

bool IsJsonLines(const std::string& path) {
  return absl::EndsWith(path, ".jsonl") || absl::EndsWith(path, ".ndjson") ||
         absl::EndsWith(path, ".json");
}

// One row as raw strings, before normalization and mapping.
struct RawRow {
  std::vector<std::string> text_parts;  // present text fields, in order
  std::string label;
  std::string lang;
};

// Turns a raw row into zero or one example, updating the stats. An error
// only for a label that cannot be a fastText label.
absl::Status AddExample(RawRow row, const InputSpec& input,
                        bool label_from_lang, const LabelMap& label_map,
                        absl::string_view where,
                        ReadStats* stats, std::vector<Example>* out) {
  ++stats->rows;
  if (label_from_lang) row.label = row.lang.empty() ? input.lang : row.lang;
  const std::string label(absl::StripAsciiWhitespace(row.label));
  if (label.empty()) {
    ++stats->empty_label;
    return absl::OkStatus();
  }
  std::optional<std::string> mapped = label_map.Map(label);
  if (!mapped.has_value()) {
    ++stats->dropped_by_label_map;
    return absl::OkStatus();
  }
  if (HasWhitespace(*mapped)) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": label \"", *mapped,
                     "\" contains whitespace; rename it with --label_map"));
  }
  for (const std::string& part : row.text_parts) {
    if (!common::ValidateUtf8(part).ok()) {
      ++stats->invalid_utf8;
      return absl::OkStatus();
    }
  }
  std::string title;
  std::string body;
  if (row.text_parts.size() == 1) {
    body = std::move(row.text_parts[0]);
  } else if (!row.text_parts.empty()) {
    title = std::move(row.text_parts[0]);
    body =
        absl::StrJoin(row.text_parts.begin() + 1, row.text_parts.end(), "\n");
  }
  Example example;
  example.line = common::FlattenForLanguageModel(title, body);
  example.text = common::NormalizeForTopicModel(example.line);
  if (example.text.empty()) {
    ++stats->empty_text;
    return absl::OkStatus();
  }
  example.label = std::move(*mapped);
  example.lang = row.lang.empty() ? input.lang : std::move(row.lang);
  out->push_back(std::move(example));
  return absl::OkStatus();
}

absl::Status ReadTsvExamples(const InputSpec& input,
                             const FieldMapping& mapping,
                             const LabelMap& label_map, ReadStats* stats,
                             std::vector<Example>* out) {
  KABAR_ASSIGN_OR_RETURN(const TsvTable table, ReadTsvFile(input.path));
  std::vector<int> text_columns;
  for (const std::string& field : mapping.text_fields) {
    const int column = table.ColumnIndex(field);
    if (column >= 0) text_columns.push_back(column);
  }
  const std::string header = absl::StrJoin(table.header, ", ");
  if (text_columns.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(input.path, ": none of the text columns (",
                     absl::StrJoin(mapping.text_fields, ", "),
                     ") is in the header (", header, ")"));
  }
  const int label_column =
      mapping.label_from_lang ? -1 : table.ColumnIndex(mapping.label_field);
  if (label_column < 0 && !mapping.label_from_lang) {
    return absl::InvalidArgumentError(
        absl::StrCat(input.path, ": label column \"", mapping.label_field,
                     "\" is not in the header (", header, ")"));
  }
  const int lang_column =
      mapping.lang_field.empty() ? -1 : table.ColumnIndex(mapping.lang_field);
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const std::vector<std::string>& fields = table.rows[i];
    RawRow row;
    for (int column : text_columns) row.text_parts.push_back(fields[column]);
    if (label_column >= 0) row.label = fields[label_column];
    if (lang_column >= 0) row.lang = fields[lang_column];
    KABAR_RETURN_IF_ERROR(AddExample(
        std::move(row), input, mapping.label_from_lang, label_map,
        absl::StrCat(input.path, ":", table.line_numbers[i]), stats, out));
  }
  return absl::OkStatus();
}

absl::Status ReadJsonLinesExamples(const InputSpec& input,
                                   const FieldMapping& mapping,
                                   const LabelMap& label_map, ReadStats* stats,
                                   std::vector<Example>* out) {
  std::ifstream in(input.path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open ", input.path));
  }
  std::string line;
  int64_t line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(input.path, ":", line_number);
    const nlohmann::json object = nlohmann::json::parse(line, nullptr, false);
    if (object.is_discarded() || !object.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": not a JSON object"));
    }
    // Reads a string field; false when absent or null.
    std::string error;
    const auto get = [&](const std::string& name, std::string* value) {
      const auto it = object.find(name);
      if (it == object.end() || it->is_null()) return false;
      if (!it->is_string()) {
        error = absl::StrCat(where, ": field \"", name, "\" is not a string");
        return false;
      }
      *value = it->get<std::string>();
      return true;
    };
    RawRow row;
    for (const std::string& field : mapping.text_fields) {
      std::string value;
      if (get(field, &value)) row.text_parts.push_back(std::move(value));
    }
    const bool has_label = mapping.label_from_lang ||
                           get(mapping.label_field, &row.label);
    if (!mapping.lang_field.empty()) get(mapping.lang_field, &row.lang);
    if (!error.empty()) return absl::InvalidArgumentError(error);
    if (!has_label) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": label field \"", mapping.label_field, "\" is missing"));
    }
    KABAR_RETURN_IF_ERROR(
        AddExample(std::move(row), input, mapping.label_from_lang, label_map,
                   where, stats, out));
  }
  return absl::OkStatus();
}

// Applies input.repeat and input.balance to the examples read from one
// file, keeping file order.
std::vector<Example> Repeat(const InputSpec& input,
                            std::vector<Example> examples) {
  if (input.repeat == 1 && input.balance == 0) return examples;
  std::map<std::string, int64_t> counts;
  int64_t max_count = 0;
  for (const Example& example : examples) {
    max_count = std::max(max_count, ++counts[example.label]);
  }
  std::vector<Example> repeated;
  for (Example& example : examples) {
    const double imbalance = static_cast<double>(max_count) /
                             static_cast<double>(counts[example.label]);
    const int64_t times = std::max<int64_t>(
        1, std::llround(input.repeat * std::pow(imbalance, input.balance)));
    for (int64_t i = 1; i < times; ++i) repeated.push_back(example);
    repeated.push_back(std::move(example));
  }
  return repeated;
}

}  // namespace

absl::StatusOr<InputSpec> ParseInputSpec(absl::string_view spec) {
  InputSpec input;
  const size_t equals = spec.find('=');
  const size_t slash = spec.find('/');
  // "a/b=c" is a path containing '='; a language prefix has no slash.
  if (equals != absl::string_view::npos &&
      (slash == absl::string_view::npos || equals < slash)) {
    input.lang = std::string(spec.substr(0, equals));
    spec.remove_prefix(equals + 1);
  }
  const size_t percent = spec.rfind('%');
  if (percent != absl::string_view::npos &&
      spec.find('/', percent) == absl::string_view::npos) {
    if (!absl::SimpleAtod(spec.substr(percent + 1), &input.balance) ||
        input.balance < 0 || input.balance > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("input \"", spec, "\": the balance after '%' ",
                       "must be a number from 0 to 1"));
    }
    spec = spec.substr(0, percent);
  }
  const size_t at = spec.rfind('@');
  if (at != absl::string_view::npos &&
      spec.find('/', at) == absl::string_view::npos) {
    if (!absl::SimpleAtoi(spec.substr(at + 1), &input.repeat) ||
        input.repeat < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("input \"", spec, "\": the repeat count after '@' ",
                       "must be a positive integer"));
    }
    spec = spec.substr(0, at);
  }
  if (spec.empty()) {
    return absl::InvalidArgumentError("input spec has an empty path");
  }
  input.path = std::string(spec);
  return input;
}

absl::StatusOr<LabelMap> LabelMap::Parse(absl::string_view content) {
  LabelMap map;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    if (fields.size() != 2 || absl::StripAsciiWhitespace(fields[0]).empty() ||
        absl::StripAsciiWhitespace(fields[1]).empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label map line ", line_number,
          ": expected \"from<TAB>to\" (\"-\" as the target drops the label)"));
    }
    const std::string from(absl::StripAsciiWhitespace(fields[0]));
    const std::string to(absl::StripAsciiWhitespace(fields[1]));
    if (HasWhitespace(to)) {
      return absl::InvalidArgumentError(
          absl::StrCat("label map line ", line_number, ": target \"", to,
                       "\" contains whitespace"));
    }
    if (!map.mapping_.emplace(from, to).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "label map line ", line_number, ": \"", from, "\" is mapped twice"));
    }
  }
  return map;
}

absl::StatusOr<LabelMap> LabelMap::ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    return absl::NotFoundError(absl::StrCat("cannot open label map ", path));
  }
  std::stringstream content;
  content << in.rdbuf();
  absl::StatusOr<LabelMap> map = Parse(content.str());
  if (!map.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": ", map.status().message()));
  }
  return map;
}

std::optional<std::string> LabelMap::Map(const std::string& label) const {
  const auto it = mapping_.find(label);
  if (it == mapping_.end()) return label;
  if (it->second == "-") return std::nullopt;
  return it->second;
}

absl::StatusOr<std::vector<Example>> ReadExamples(const InputSpec& input,
                                                  const FieldMapping& mapping,
                                                  const LabelMap& label_map,
                                                  ReadStats* stats) {
  ReadStats local_stats;
  if (stats == nullptr) stats = &local_stats;
  std::vector<Example> examples;
  if (IsJsonLines(input.path)) {
    KABAR_RETURN_IF_ERROR(
        ReadJsonLinesExamples(input, mapping, label_map, stats, &examples));
  } else {
    KABAR_RETURN_IF_ERROR(
        ReadTsvExamples(input, mapping, label_map, stats, &examples));
  }
  return Repeat(input, std::move(examples));
}

std::string TopicModelText(absl::string_view title, absl::string_view body) {
  return common::NormalizeForTopicModel(
      common::FlattenForLanguageModel(title, body));
}

std::string ToFastTextLine(const Example& example) {
  return absl::StrCat(kLabelPrefix, example.label, " ", example.text);
}

absl::Status WriteFastTextFile(const std::vector<Example>& examples,
                               const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  for (const Example& example : examples) {
    out << ToFastTextLine(example) << '\n';
  }
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

Split StratifiedSplit(const std::vector<std::string>& labels, double fraction,
                      uint64_t seed) {
  std::map<std::string, std::vector<size_t>> by_label;
  for (size_t i = 0; i < labels.size(); ++i) by_label[labels[i]].push_back(i);
  // std::shuffle and the standard distributions are implementation-defined;
  // a Fisher-Yates shuffle on raw mt19937_64 output is the same everywhere.
  std::mt19937_64 rng(seed);
  Split split;
  for (auto& [label, indices] : by_label) {
    for (size_t i = indices.size(); i > 1; --i) {
      std::swap(indices[i - 1], indices[rng() % i]);
    }
    const size_t first_count = static_cast<size_t>(
        std::llround(fraction * static_cast<double>(indices.size())));
    for (size_t i = 0; i < indices.size(); ++i) {
      (i < first_count ? split.first : split.second).push_back(indices[i]);
    }
  }
  std::sort(split.first.begin(), split.first.end());
  std::sort(split.second.begin(), split.second.end());
  return split;
}

}  // namespace kabar::train
