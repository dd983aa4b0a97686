// Copyright kabar authors.
#include "clients/cli/output_format.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"

namespace kabar::cli {
namespace {

using Json = nlohmann::ordered_json;

constexpr char kEllipsis[] = "\xE2\x80\xA6";            // U+2026, 1 column.
constexpr char kReplacement[] = "\xEF\xBF\xBD";         // U+FFFD.
constexpr int64_t kMinTimestampSeconds = -62135596800;  // 0001-01-01
constexpr int64_t kMaxTimestampSeconds = 253402300799;  // 9999-12-31

// Decodes the UTF-8 sequence at text[*pos] and advances past it. Returns -1
// (after advancing one byte) for a malformed sequence.
int32_t NextCodePoint(absl::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(*pos);
  int length;
  int32_t code_point;
  if (lead < 0x80) {
    ++*pos;
    return lead;
  } else if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07;
  } else {
    ++*pos;
    return -1;
  }
  if (*pos + length > text.size()) {
    ++*pos;
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    const uint8_t continuation = byte(*pos + i);
    if ((continuation & 0xC0) != 0x80) {
      ++*pos;
      return -1;
    }
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  *pos += length;
  return code_point;
}

bool InRanges(int32_t c,
              std::initializer_list<std::pair<int32_t, int32_t>> ranges) {
  for (const auto& [low, high] : ranges) {
    if (c >= low && c <= high) return true;
  }
  return false;
}

// Terminal columns of one code point (a simplified wcwidth()).
size_t CodePointWidth(int32_t c) {
  if (c < 0) return 1;  // Shown as U+FFFD.
  if (InRanges(c, {{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD},
                   {0x05BF, 0x05C7}, {0x0610, 0x061A}, {0x064B, 0x065F},
                   {0x0670, 0x0670}, {0x06D6, 0x06ED}, {0x0E31, 0x0E31},
                   {0x0E34, 0x0E3A}, {0x0E47, 0x0E4E}, {0x1AB0, 0x1AFF},
                   {0x1DC0, 0x1DFF}, {0x200B, 0x200F}, {0x202A, 0x202E},
                   {0x2060, 0x2064}, {0x20D0, 0x20FF}, {0xFE00, 0xFE0F},
                   {0xFE20, 0xFE2F}, {0xFEFF, 0xFEFF}})) {
    return 0;
  }
  if (InRanges(c, {{0x1100, 0x115F},
                   {0x2E80, 0x303E},
                   {0x3041, 0x33FF},
                   {0x3400, 0x4DBF},
                   {0x4E00, 0x9FFF},
                   {0xA000, 0xA4CF},
                   {0xAC00, 0xD7A3},
                   {0xF900, 0xFAFF},
                   {0xFE30, 0xFE4F},
                   {0xFF00, 0xFF60},
                   {0xFFE0, 0xFFE6},
                   {0x1F300, 0x1F64F},
                   {0x1F900, 0x1F9FF},
                   {0x20000, 0x2FFFD},
                   {0x30000, 0x3FFFD}})) {
    return 2;
  }
  return 1;
}

double Round4(float value) { return std::round(double{value} * 1e4) / 1e4; }

std::string Confidence(float value) { return absl::StrFormat("%.2f", value); }

Json LabelScoresToJson(
    const google::protobuf::RepeatedPtrField<v1::LabelScore>& scores) {
  Json array = Json::array();
  for (const v1::LabelScore& score : scores) {
    array.push_back(
        {{"label", score.label()}, {"confidence", Round4(score.confidence())}});
  }
  return array;
}

// "politics 0.87, economy 0.09", or "-" when empty.
std::string LabelScoresText(
    const google::protobuf::RepeatedPtrField<v1::LabelScore>& scores) {
  if (scores.empty()) return "-";
  return absl::StrJoin(scores, ", ",
                       [](std::string* out, const v1::LabelScore& score) {
                         absl::StrAppend(out, score.label(), " ",
                                         Confidence(score.confidence()));
                       });
}

Json ShortHash(const v1::ModelIdentity& model) {
  if (model.sha256().empty()) return nullptr;
  return model.sha256().substr(0, kShortHashLength);
}

// "lid.176.ftz@1a2b3c4d5e6f", or "-" when unknown.
std::string ModelText(const v1::ModelIdentity& model) {
  if (model.name().empty() && model.sha256().empty()) return "-";
  return absl::StrCat(model.name().empty() ? "?" : model.name(), "@",
                      model.sha256().substr(0, kShortHashLength));
}

Json TimestampOrNull(bool present, const google::protobuf::Timestamp& time) {
  if (!present) return nullptr;
  return FormatTimestamp(time);
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  if (bytes < (int64_t{1} << 20))
    return absl::StrFormat("%.1f KiB", bytes / 1024.0);
  return absl::StrFormat("%.1f MiB", bytes / (1024.0 * 1024.0));
}

}  // namespace

absl::StatusOr<OutputFormat> ParseOutputFormat(absl::string_view text) {
  const std::string lower = absl::AsciiStrToLower(text);
  if (lower == "table") return OutputFormat::kTable;
  if (lower == "json" || lower == "jsonl") return OutputFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown --format \"", text, "\"; expected table, json or jsonl"));
}

std::string FormatTimestamp(const google::protobuf::Timestamp& timestamp) {
  const absl::Time time = absl::FromUnixSeconds(timestamp.seconds()) +
                          absl::Nanoseconds(timestamp.nanos());
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", time, absl::UTCTimeZone());
}

absl::StatusOr<google::protobuf::Timestamp> ParseTimestamp(
    absl::string_view text) {
  absl::Time time;
  std::string error;
  const std::string input(absl::StripAsciiWhitespace(text));
  if (!absl::ParseTime(absl::RFC3339_full, input, &time, &error) &&
      !absl::ParseTime("%Y-%m-%d", input, absl::UTCTimeZone(), &time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", text,
        "\" is not an RFC 3339 time (like 2024-05-01T08:00:00+07:00) or a "
        "date (like 2024-05-01)"));
  }
  const int64_t seconds = absl::ToUnixSeconds(time);
  if (time == absl::InfiniteFuture() || time == absl::InfinitePast() ||
      seconds < kMinTimestampSeconds || seconds > kMaxTimestampSeconds) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\" is outside years 0001 to 9999"));
  }
  google::protobuf::Timestamp timestamp;
  timestamp.set_seconds(seconds);
  timestamp.set_nanos(static_cast<int32_t>(
      (time - absl::FromUnixSeconds(seconds)) / absl::Nanoseconds(1)));
  return timestamp;
}

Json StoredArticleToJson(const v1::StoredArticle& stored, bool include_body) {
  const v1::Article& article = stored.article();
  const v1::Labels& labels = stored.labels();
  const bool has_language = !labels.language().code().empty();
  const bool has_topic = !labels.topics().empty();

  Json json = Json::object();
  json["id"] = article.id();
  json["url"] = article.url();
  json["source"] = article.source();
  json["title"] = article.title();
  json["published_at"] =
      TimestampOrNull(article.has_published_at(), article.published_at());
  json["ingested_at"] =
      TimestampOrNull(stored.has_ingested_at(), stored.ingested_at());
  json["language"] = has_language ? Json(labels.language().code()) : nullptr;
  json["language_confidence"] =
      has_language ? Json(Round4(labels.language().confidence())) : nullptr;
  json["topic"] = has_topic ? Json(labels.topics(0).label()) : nullptr;
  json["topic_confidence"] =
      has_topic ? Json(Round4(labels.topics(0).confidence())) : nullptr;
  json["topics"] = LabelScoresToJson(labels.topics());
  json["language_model"] = ShortHash(labels.language_model());
  json["topic_model"] = ShortHash(labels.topic_model());
  if (include_body) {
    json["language_alternatives"] =
        LabelScoresToJson(labels.language().alternatives());
    Json metadata = Json::object();
    for (const auto& [key, value] : article.metadata()) metadata[key] = value;
    json["metadata"] = std::move(metadata);
    json["body"] = article.body();
  }
  return json;
}

Json LabelsToJson(const v1::Labels& labels) {
  const auto model = [](const v1::ModelIdentity& identity) -> Json {
    if (identity.name().empty() && identity.sha256().empty()) return nullptr;
    return {{"name", identity.name()}, {"sha256", identity.sha256()}};
  };
  const bool has_language = !labels.language().code().empty();
  Json json = Json::object();
  json["language"] = has_language ? Json(labels.language().code()) : nullptr;
  json["language_confidence"] =
      has_language ? Json(Round4(labels.language().confidence())) : nullptr;
  json["language_alternatives"] =
      LabelScoresToJson(labels.language().alternatives());
  json["topics"] = LabelScoresToJson(labels.topics());
  json["language_model"] = model(labels.language_model());
  json["topic_model"] = model(labels.topic_model());
  return json;
}

Json CountsToJson(const v1::CountArticlesResponse& counts) {
  const auto to_json =
      [](const google::protobuf::RepeatedPtrField<v1::LabelCount>& list) {
        Json array = Json::array();
        for (const v1::LabelCount& entry : list) {
          array.push_back({{"label", entry.label()}, {"count", entry.count()}});
        }
        return array;
      };
  return {{"total", counts.total()},
          {"by_language", to_json(counts.by_language())},
          {"by_topic", to_json(counts.by_topic())}};
}

Json ModelsToJson(const v1::GetModelsResponse& models) {
  Json array = Json::array();
  for (const v1::ModelInfo& model : models.models()) {
    array.push_back({{"role", model.role()},
                     {"path", model.path()},
                     {"name", model.identity().name()},
                     {"sha256", model.identity().sha256()},
                     {"labels", model.labels()},
                     {"loaded_at", TimestampOrNull(model.has_loaded_at(),
                                                   model.loaded_at())},
                     {"size_bytes", model.size_bytes()}});
  }
  return {{"models", std::move(array)}};
}

std::string DumpJson(const Json& value, int indent) {
  return value.dump(indent, ' ', false, Json::error_handler_t::replace);
}

size_t DisplayWidth(absl::string_view text) {
  size_t width = 0;
  size_t pos = 0;
  while (pos < text.size()) width += CodePointWidth(NextCodePoint(text, &pos));
  return width;
}

std::string FitToWidth(absl::string_view text, size_t max_width) {
  std::string out;
  size_t width = 0;
  // Bytes of `out` that still leave one column for the ellipsis.
  size_t fits_with_ellipsis = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const int32_t c = NextCodePoint(text, &pos);
    const size_t char_width = CodePointWidth(c);
    if (width + char_width > max_width) {
      if (max_width == 0) return "";
      out.resize(fits_with_ellipsis);
      return out + kEllipsis;
    }
    if (c < 0) {
      out += kReplacement;
    } else if (c < 0x20 || c == 0x7F) {
      out += ' ';
    } else {
      out.append(text.data() + start, pos - start);
    }
    width += char_width;
    if (width + 1 <= max_width) fits_with_ellipsis = out.size();
  }
  return out;
}

TextTable::TextTable(std::vector<std::string> header) {
  rows_.push_back(std::move(header));
}

void TextTable::AddRow(std::vector<std::string> cells) {
  cells.resize(rows_.front().size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::Render() const {
  const size_t columns = rows_.front().size();
  std::vector<size_t> widths(columns, 0);
  for (const auto& row : rows_) {
    for (size_t i = 0; i < columns; ++i) {
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < columns; ++i) {
      line += row[i];
      if (i + 1 < columns) {
        line.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
      }
    }
    absl::StrAppend(&out, absl::StripTrailingAsciiWhitespace(line));
    out += '\n';
  }
  return out;
}

std::string ArticlesTable(const std::vector<v1::StoredArticle>& articles,
                          size_t max_line_width) {
  // Derived ids (32 hex characters) are shown whole so they can be pasted
  // into `kabar get`; only longer client ids are shortened.
  constexpr size_t kShortIdWidth = 33;
  constexpr size_t kMinTitleWidth = 20;
  const std::vector<std::string> header = {"ID",   "LANG",   "CONF", "TOPIC",
                                           "CONF", "SOURCE", "TITLE"};
  std::vector<std::vector<std::string>> rows;
  for (const v1::StoredArticle& stored : articles) {
    const v1::Labels& labels = stored.labels();
    const bool has_language = !labels.language().code().empty();
    const bool has_topic = !labels.topics().empty();
    rows.push_back({
        FitToWidth(stored.article().id(), kShortIdWidth),
        has_language ? FitToWidth(labels.language().code(), 8) : "-",
        has_language ? Confidence(labels.language().confidence()) : "-",
        has_topic ? FitToWidth(labels.topics(0).label(), 20) : "-",
        has_topic ? Confidence(labels.topics(0).confidence()) : "-",
        stored.article().source().empty()
            ? "-"
            : FitToWidth(stored.article().source(), 20),
        "",
    });
  }
  // Everything left of TITLE is as wide as its widest cell plus two spaces.
  size_t prefix_width = 0;
  for (size_t i = 0; i + 1 < header.size(); ++i) {
    size_t width = DisplayWidth(header[i]);
    for (const auto& row : rows) width = std::max(width, DisplayWidth(row[i]));
    prefix_width += width + 2;
  }
  const size_t title_width = max_line_width > prefix_width + kMinTitleWidth
                                 ? max_line_width - prefix_width
                                 : kMinTitleWidth;
  TextTable table(header);
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].back() = FitToWidth(articles[i].article().title(), title_width);
    table.AddRow(std::move(rows[i]));
  }
  return table.Render();
}

std::string ArticleDetails(const v1::StoredArticle& stored) {
  const v1::Article& article = stored.article();
  const v1::Labels& labels = stored.labels();
  const auto or_dash = [](const std::string& value) {
    return value.empty() ? std::string("-") : value;
  };
  std::string language = "-";
  if (!labels.language().code().empty()) {
    language = absl::StrCat(labels.language().code(), " ",
                            Confidence(labels.language().confidence()));
    if (!labels.language().alternatives().empty()) {
      absl::StrAppend(&language, " (alternatives: ",
                      LabelScoresText(labels.language().alternatives()), ")");
    }
  }
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", article.id()},
      {"url", or_dash(article.url())},
      {"source", or_dash(article.source())},
      {"title", or_dash(article.title())},
      {"published_at", article.has_published_at()
                           ? FormatTimestamp(article.published_at())
                           : "-"},
      {"ingested_at",
       stored.has_ingested_at() ? FormatTimestamp(stored.ingested_at()) : "-"},
      {"language", language},
      {"topics", LabelScoresText(labels.topics())},
      {"language_model", ModelText(labels.language_model())},
      {"topic_model", ModelText(labels.topic_model())},
  };
  // Proto maps have no order; print metadata sorted by key.
  const std::map<std::string, std::string> metadata(article.metadata().begin(),
                                                    article.metadata().end());
  for (const auto& [key, value] : metadata) {
    fields.emplace_back(absl::StrCat("metadata.", key), value);
  }
  size_t name_width = 0;
  for (const auto& field : fields) {
    name_width = std::max(name_width, DisplayWidth(field.first));
  }
  std::string out;
  for (const auto& [name, value] : fields) {
    absl::StrAppend(&out, name, ":",
                    std::string(name_width - DisplayWidth(name) + 2, ' '),
                    FitToWidth(value, 100000), "\n");
  }
  absl::StrAppend(&out, "\n", article.body(), "\n");
  return out;
}

std::string LabelsDetails(const v1::Labels& labels) {
  TextTable table({"", ""});
  table.AddRow(
      {"language:",
       labels.language().code().empty()
           ? "-"
           : absl::StrCat(labels.language().code(), " ",
                          Confidence(labels.language().confidence()))});
  table.AddRow(
      {"alternatives:", LabelScoresText(labels.language().alternatives())});
  table.AddRow({"topics:", LabelScoresText(labels.topics())});
  table.AddRow({"language_model:", ModelText(labels.language_model())});
  table.AddRow({"topic_model:", ModelText(labels.topic_model())});
  std::string out = table.Render();
  out.erase(0, out.find('\n') + 1);  // The empty header line.
  return out;
}

std::string SearchResultsTable(const std::vector<v1::StoredArticle>& articles,
                               const std::vector<v1::TextMatch>& matches,
                               size_t max_line_width) {
  const std::vector<std::string> lines =
      absl::StrSplit(ArticlesTable(articles, max_line_width), '\n');
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) continue;
    absl::StrAppend(&out, lines[i], "\n");
    // Line 0 is the header; line i > 0 is article i - 1.
    if (i > 0 && i - 1 < matches.size() && !matches[i - 1].snippet().empty()) {
      absl::StrAppend(&out, "    ",
                      FitToWidth(matches[i - 1].snippet(),
                                 max_line_width > 24 ? max_line_width - 4 : 20),
                      "\n");
    }
  }
  return out;
}

Json SearchResultToJson(const v1::StoredArticle& stored,
                        const v1::TextMatch& match) {
  Json json = StoredArticleToJson(stored, false);
  json["snippet"] = match.snippet();
  json["relevance"] = match.relevance();
  return json;
}

std::string GroupCountsDetails(const v1::CountArticlesResponse& counts,
                               absl::string_view name) {
  TextTable table({absl::AsciiStrToUpper(name), "COUNT", "SHARE"});
  for (const v1::LabelCount& entry : counts.groups()) {
    table.AddRow({FitToWidth(entry.label(), 60), absl::StrCat(entry.count()),
                  counts.total() <= 0
                      ? std::string("-")
                      : absl::StrFormat(
                            "%.1f%%", 100.0 * entry.count() / counts.total())});
  }
  return absl::StrCat("total: ", counts.total(), "\n\n", table.Render());
}

Json GroupCountToJson(const v1::LabelCount& group, absl::string_view name) {
  Json json;
  json[std::string(name)] = group.label();
  json["count"] = group.count();
  return json;
}

std::string WatchLine(const v1::WatchArticlesResponse& message,
                      size_t max_line_width) {
  const v1::StoredArticle& stored = message.article();
  const v1::Labels& labels = stored.labels();
  // Fixed widths: lines are printed one by one as articles arrive, so they
  // cannot be aligned on the widest cell like a table.
  const auto pad = [](std::string text, size_t width) {
    text = FitToWidth(text, width);
    const size_t shown = DisplayWidth(text);
    if (shown < width) text.append(width - shown, ' ');
    return text;
  };
  std::string line = absl::StrCat(
      pad(message.cursor(), 8), "  ",
      // Up to "2024-05-01T01:00:00.123456Z".
      pad(stored.has_ingested_at() ? FormatTimestamp(stored.ingested_at())
                                   : std::string("-"),
          27),
      "  ",
      pad(labels.language().code().empty() ? "-" : labels.language().code(), 4),
      "  ", pad(labels.topics().empty() ? "-" : labels.topics(0).label(), 14),
      "  ",
      pad(stored.article().source().empty() ? "-" : stored.article().source(),
          20),
      "  ");
  const size_t used = DisplayWidth(line);
  constexpr size_t kMinTitleWidth = 20;
  line +=
      FitToWidth(stored.article().title(),
                 max_line_width > used + kMinTitleWidth ? max_line_width - used
                                                        : kMinTitleWidth);
  return line;
}

Json WatchMessageToJson(const v1::WatchArticlesResponse& message) {
  Json json;
  json["cursor"] = message.cursor();
  json["article"] = StoredArticleToJson(message.article(), false);
  return json;
}

std::string CountsDetails(const v1::CountArticlesResponse& counts) {
  const auto share = [&](int64_t count) {
    if (counts.total() <= 0) return std::string("-");
    return absl::StrFormat("%.1f%%", 100.0 * count / counts.total());
  };
  const auto render =
      [&](absl::string_view title,
          const google::protobuf::RepeatedPtrField<v1::LabelCount>& list) {
        TextTable table({std::string(title), "COUNT", "SHARE"});
        for (const v1::LabelCount& entry : list) {
          table.AddRow(
              {entry.label().empty() ? "(none)" : FitToWidth(entry.label(), 40),
               absl::StrCat(entry.count()), share(entry.count())});
        }
        return table.Render();
      };
  return absl::StrCat("total: ", counts.total(), "\n\n",
                      render("LANGUAGE", counts.by_language()), "\n",
                      render("TOPIC", counts.by_topic()));
}

std::string ModelsTable(const v1::GetModelsResponse& models) {
  TextTable table(
      {"ROLE", "NAME", "SHA256", "LABELS", "SIZE", "LOADED_AT", "PATH"});
  for (const v1::ModelInfo& model : models.models()) {
    table.AddRow(
        {model.role(), model.identity().name(),
         model.identity().sha256().substr(0, kShortHashLength),
         absl::StrCat(model.labels_size()), HumanBytes(model.size_bytes()),
         model.has_loaded_at() ? FormatTimestamp(model.loaded_at()) : "-",
         model.path()});
  }
  return table.Render();
}

}  // namespace kabar::cli
