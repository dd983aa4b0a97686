// Copyright kabar authors.
#include "services/store/article_store.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/common/status_macros.h"
#include "services/common/text.h"
#include "services/store/postgres_article_store.h"
#include "services/store/sqlite_article_store.h"

namespace kabar::store {
namespace {

// google.protobuf.Timestamp's documented range: 0001-01-01 to 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62135596800;
constexpr int64_t kMaxTimestampSeconds = 253402300799;

// Bumped if the token's meaning ever changes, so old tokens are rejected
// instead of silently resuming at the wrong place. "c1:" tokens (ingested
// order, no max_sequence) are still read.
constexpr absl::string_view kPageTokenPrefix = "c2:";
constexpr absl::string_view kOldPageTokenPrefix = "c1:";

// Limits of a text query, so one request cannot build a huge FTS query.
constexpr size_t kMaxTextQueryBytes = 1000;
constexpr size_t kMaxTextQueryWords = 32;

// Whether `word` has a letter or digit: ASCII alphanumerics, or any
// non-ASCII byte (the tokenizers treat most non-ASCII as word characters).
bool HasWordCharacter(absl::string_view word) {
  for (const char c : word) {
    if (absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
        static_cast<unsigned char>(c) >= 0x80) {
      return true;
    }
  }
  return false;
}

absl::Status ValidateTimestamp(const google::protobuf::Timestamp& timestamp,
                               absl::string_view field) {
  if (timestamp.seconds() < kMinTimestampSeconds ||
      timestamp.seconds() > kMaxTimestampSeconds || timestamp.nanos() < 0 ||
      timestamp.nanos() > 999999999) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " is not a valid timestamp (seconds ",
                     timestamp.seconds(), ", nanos ", timestamp.nanos(), ")"));
  }
  return absl::OkStatus();
}

absl::Status ValidateText(absl::string_view text, absl::string_view field) {
  absl::Status status = common::ValidateUtf8(text);
  if (status.ok()) return status;
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", status.message()));
}

// Text that backends keep in indexed columns (ids, source, language,
// topics) and compare in filters: valid UTF-8 without NUL, which
// PostgreSQL text cannot hold.
absl::Status ValidateKey(absl::string_view text, absl::string_view field) {
  KABAR_RETURN_IF_ERROR(ValidateText(text, field));
  if (text.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " contains a NUL character"));
  }
  return absl::OkStatus();
}

absl::Status ValidateConfidence(float confidence, absl::string_view field) {
  // Written so that NaN fails too.
  if (!(confidence >= 0.0f && confidence <= 1.0f)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be in [0, 1], got ", confidence));
  }
  return absl::OkStatus();
}

// The label checks of ValidateArticle, shared with ValidateLabelUpdate.
absl::Status ValidateLabels(const v1::Labels& labels) {
  KABAR_RETURN_IF_ERROR(
      ValidateKey(labels.language().code(), "labels.language.code"));
  for (const v1::LabelScore& alternative : labels.language().alternatives()) {
    KABAR_RETURN_IF_ERROR(
        ValidateText(alternative.label(), "labels.language.alternatives"));
  }
  for (const v1::LabelScore& topic : labels.topics()) {
    KABAR_RETURN_IF_ERROR(ValidateKey(topic.label(), "labels.topics"));
  }
  for (const v1::ModelIdentity* model :
       {&labels.language_model(), &labels.topic_model()}) {
    KABAR_RETURN_IF_ERROR(ValidateText(model->name(), "labels model name"));
    KABAR_RETURN_IF_ERROR(ValidateText(model->sha256(), "labels model sha256"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ArticleStore>> OpenArticleStore(
    const std::string& db_url) {
  if (db_url.empty()) {
    return absl::InvalidArgumentError("empty database location (--db)");
  }
  if (absl::StartsWith(db_url, "postgresql://") ||
      absl::StartsWith(db_url, "postgres://")) {
    PostgresArticleStore::Options options;
    options.url = db_url;
    KABAR_ASSIGN_OR_RETURN(std::unique_ptr<PostgresArticleStore> store,
                           PostgresArticleStore::Create(options));
    return std::unique_ptr<ArticleStore>(std::move(store));
  }
  std::string path = db_url;
  if (absl::StartsWith(db_url, "sqlite://")) {
    // "sqlite:///abs" leaves "/abs"; "sqlite://rel" leaves "rel".
    path = db_url.substr(std::string("sqlite://").size());
  } else if (absl::StrContains(db_url, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown database scheme in ", db_url,
                     "; expected a file path, sqlite:// or postgresql://"));
  }
  if (path.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no file path in database URL ", db_url));
  }
  if (path == ":memory:" || absl::StartsWith(path, "file:")) {
    // Readers use their own connections, which could not see a private
    // in-memory database; URI filenames would bypass the path checks.
    return absl::InvalidArgumentError(absl::StrCat(
        "unsupported database location ", path, "; give a file path"));
  }
  SqliteArticleStore::Options options;
  options.path = std::move(path);
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<SqliteArticleStore> store,
                         SqliteArticleStore::Create(options));
  return std::unique_ptr<ArticleStore>(std::move(store));
}

absl::Status ValidateArticle(const v1::StoredArticle& stored) {
  const v1::Article& article = stored.article();
  if (article.id().empty()) {
    return absl::InvalidArgumentError("article.id is empty");
  }
  if (article.body().empty()) {
    return absl::InvalidArgumentError("article.body is empty");
  }
  // Proto3 strings must be UTF-8: a bad one would be stored but could never
  // be read back (parsing rejects it), so refuse it now.
  KABAR_RETURN_IF_ERROR(ValidateKey(article.id(), "article.id"));
  KABAR_RETURN_IF_ERROR(ValidateText(article.url(), "article.url"));
  KABAR_RETURN_IF_ERROR(ValidateKey(article.source(), "article.source"));
  KABAR_RETURN_IF_ERROR(ValidateText(article.title(), "article.title"));
  KABAR_RETURN_IF_ERROR(ValidateText(article.body(), "article.body"));
  for (const auto& [key, value] : article.metadata()) {
    KABAR_RETURN_IF_ERROR(ValidateText(key, "article.metadata key"));
    KABAR_RETURN_IF_ERROR(ValidateText(value, "article.metadata value"));
  }
  KABAR_RETURN_IF_ERROR(ValidateLabels(stored.labels()));
  if (article.has_published_at()) {
    KABAR_RETURN_IF_ERROR(
        ValidateTimestamp(article.published_at(), "article.published_at"));
  }
  if (stored.has_ingested_at()) {
    KABAR_RETURN_IF_ERROR(
        ValidateTimestamp(stored.ingested_at(), "ingested_at"));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelUpdate(const v1::LabelUpdate& update) {
  if (update.id().empty()) return absl::InvalidArgumentError("id is empty");
  KABAR_RETURN_IF_ERROR(ValidateKey(update.id(), "id"));
  if (!update.has_labels()) {
    return absl::InvalidArgumentError("labels are not set");
  }
  KABAR_RETURN_IF_ERROR(ValidateLabels(update.labels()));
  // Compared with stored text only; checked so a bad value fails loudly
  // instead of never matching.
  KABAR_RETURN_IF_ERROR(ValidateText(update.expected_topic_model_sha256(),
                                     "expected_topic_model_sha256"));
  KABAR_RETURN_IF_ERROR(ValidateText(update.expected_language_model_sha256(),
                                     "expected_language_model_sha256"));
  return absl::OkStatus();
}

std::vector<v1::UpdateOutcome> ApplyLabelUpdates(
    const std::vector<v1::LabelUpdate>& updates,
    std::map<std::string, v1::StoredArticle>* articles,
    std::set<std::string>* changed) {
  std::vector<v1::UpdateOutcome> outcomes;
  outcomes.reserve(updates.size());
  for (const v1::LabelUpdate& update : updates) {
    const auto it = articles->find(update.id());
    if (it == articles->end()) {
      outcomes.push_back(v1::UPDATE_OUTCOME_NOT_FOUND);
      continue;
    }
    const v1::Labels& current = it->second.labels();
    if ((update.has_expected_topic_model_sha256() &&
         update.expected_topic_model_sha256() !=
             current.topic_model().sha256()) ||
        (update.has_expected_language_model_sha256() &&
         update.expected_language_model_sha256() !=
             current.language_model().sha256())) {
      outcomes.push_back(v1::UPDATE_OUTCOME_SKIPPED);
      continue;
    }
    *it->second.mutable_labels() = update.labels();
    changed->insert(update.id());
    outcomes.push_back(v1::UPDATE_OUTCOME_UPDATED);
  }
  return outcomes;
}

absl::Status ValidateFilter(const v1::ArticleFilter& filter) {
  KABAR_RETURN_IF_ERROR(ValidateKey(filter.language(), "filter.language"));
  KABAR_RETURN_IF_ERROR(ValidateKey(filter.topic(), "filter.topic"));
  KABAR_RETURN_IF_ERROR(ValidateKey(filter.source(), "filter.source"));
  KABAR_RETURN_IF_ERROR(ValidateKey(filter.text(), "filter.text"));
  KABAR_RETURN_IF_ERROR(ParseTextQuery(filter.text()).status());
  KABAR_RETURN_IF_ERROR(ValidateConfidence(filter.min_language_confidence(),
                                           "filter.min_language_confidence"));
  KABAR_RETURN_IF_ERROR(ValidateConfidence(filter.min_topic_confidence(),
                                           "filter.min_topic_confidence"));
  const std::pair<bool, const google::protobuf::Timestamp*> ranges[] = {
      {filter.has_published_after(), &filter.published_after()},
      {filter.has_published_before(), &filter.published_before()},
      {filter.has_ingested_after(), &filter.ingested_after()},
      {filter.has_ingested_before(), &filter.ingested_before()},
  };
  const char* const names[] = {
      "filter.published_after", "filter.published_before",
      "filter.ingested_after", "filter.ingested_before"};
  for (int i = 0; i < 4; ++i) {
    if (ranges[i].first) {
      KABAR_RETURN_IF_ERROR(ValidateTimestamp(*ranges[i].second, names[i]));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<int> EffectivePageSize(int requested) {
  if (requested < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page_size must not be negative, got ", requested));
  }
  if (requested == 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

std::string EncodePageToken(const PageCursor& cursor) {
  // The relevance travels as the bits of its double, so the next page
  // compares with exactly the value the database computed.
  int64_t relevance_bits = 0;
  static_assert(sizeof(relevance_bits) == sizeof(cursor.relevance));
  std::memcpy(&relevance_bits, &cursor.relevance, sizeof(relevance_bits));
  return absl::WebSafeBase64Escape(absl::StrCat(
      kPageTokenPrefix, static_cast<int>(cursor.sort), ":",
      cursor.ingested_at_micros, ":", cursor.published_is_null ? 1 : 0, ":",
      relevance_bits, ":", cursor.sequence, ":", cursor.max_sequence));
}

absl::StatusOr<PageCursor> DecodePageToken(const std::string& token,
                                           v1::QuerySort sort) {
  const absl::Status malformed = absl::InvalidArgumentError(
      "malformed page_token; pass next_page_token from a previous response "
      "unchanged, or \"\" for the first page");
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded)) return malformed;
  PageCursor cursor;
  if (absl::StartsWith(decoded, kOldPageTokenPrefix)) {
    const std::vector<absl::string_view> parts = absl::StrSplit(
        absl::string_view(decoded).substr(kOldPageTokenPrefix.size()), ':');
    if (parts.size() != 2 ||
        !absl::SimpleAtoi(parts[0], &cursor.ingested_at_micros) ||
        !absl::SimpleAtoi(parts[1], &cursor.sequence) || cursor.sequence <= 0) {
      return malformed;
    }
  } else if (absl::StartsWith(decoded, kPageTokenPrefix)) {
    const std::vector<absl::string_view> parts = absl::StrSplit(
        absl::string_view(decoded).substr(kPageTokenPrefix.size()), ':');
    int sort_number = 0;
    int published_is_null = 0;
    int64_t relevance_bits = 0;
    if (parts.size() != 6 || !absl::SimpleAtoi(parts[0], &sort_number) ||
        !v1::QuerySort_IsValid(sort_number) ||
        sort_number == v1::QUERY_SORT_UNSPECIFIED ||
        !absl::SimpleAtoi(parts[1], &cursor.ingested_at_micros) ||
        !absl::SimpleAtoi(parts[2], &published_is_null) ||
        (published_is_null != 0 && published_is_null != 1) ||
        !absl::SimpleAtoi(parts[3], &relevance_bits) ||
        !absl::SimpleAtoi(parts[4], &cursor.sequence) ||
        !absl::SimpleAtoi(parts[5], &cursor.max_sequence) ||
        cursor.sequence <= 0 || cursor.max_sequence <= 0) {
      return malformed;
    }
    cursor.sort = static_cast<v1::QuerySort>(sort_number);
    cursor.published_is_null = published_is_null == 1;
    std::memcpy(&cursor.relevance, &relevance_bits, sizeof(relevance_bits));
    if (std::isnan(cursor.relevance)) return malformed;
  } else {
    return malformed;
  }
  if (cursor.sort != sort) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token was made for sort ", v1::QuerySort_Name(cursor.sort),
        ", not ", v1::QuerySort_Name(sort),
        "; keep the sort while paging, or start again with \"\""));
  }
  return cursor;
}

std::string EncodeWatchCursor(int64_t sequence) {
  return absl::StrCat(sequence);
}

absl::StatusOr<int64_t> DecodeWatchCursor(absl::string_view cursor) {
  int64_t sequence = 0;
  if (!absl::SimpleAtoi(cursor, &sequence) || sequence < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed watch cursor \"", absl::CHexEscape(cursor.substr(0, 64)),
        "\"; pass a cursor from a previous watch message unchanged, or \"\" "
        "to start now"));
  }
  return sequence;
}

absl::StatusOr<std::vector<std::string>> ParseTextQuery(
    absl::string_view text) {
  std::vector<std::string> terms;
  if (text.empty()) return terms;
  if (text.size() > kMaxTextQueryBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.text is ", text.size(), " bytes; at most ",
                     kMaxTextQueryBytes, " are allowed"));
  }
  if (std::count(text.begin(), text.end(), '"') % 2 != 0) {
    return absl::InvalidArgumentError(
        "filter.text has an unbalanced double quote; quote a phrase as "
        "\"like this\"");
  }
  size_t words = 0;
  // Alternates outside / inside quotes: odd pieces are phrases.
  const std::vector<absl::string_view> pieces = absl::StrSplit(text, '"');
  for (size_t i = 0; i < pieces.size(); ++i) {
    std::vector<std::string> kept;
    for (absl::string_view word : absl::StrSplit(
             pieces[i], absl::ByAnyChar(" \t\n\r\f\v"), absl::SkipEmpty())) {
      if (HasWordCharacter(word)) kept.emplace_back(word);
    }
    words += kept.size();
    if (kept.empty()) continue;
    if (i % 2 == 1) {
      terms.push_back(absl::StrJoin(kept, " "));
    } else {
      terms.insert(terms.end(), kept.begin(), kept.end());
    }
  }
  if (words > kMaxTextQueryWords) {
    return absl::InvalidArgumentError(
        absl::StrCat("filter.text has ", words, " words; at most ",
                     kMaxTextQueryWords, " are allowed"));
  }
  if (terms.empty()) {
    return absl::InvalidArgumentError(
        "filter.text has no word to search for (only punctuation or spaces)");
  }
  return terms;
}

absl::StatusOr<v1::QuerySort> ResolveSort(
    const v1::QueryArticlesRequest& request) {
  const bool has_text = !request.filter().text().empty();
  switch (request.sort()) {
    case v1::QUERY_SORT_UNSPECIFIED:
      return has_text ? v1::QUERY_SORT_RELEVANCE : v1::QUERY_SORT_INGESTED;
    case v1::QUERY_SORT_INGESTED:
    case v1::QUERY_SORT_PUBLISHED:
      return request.sort();
    case v1::QUERY_SORT_RELEVANCE:
      if (!has_text) {
        return absl::InvalidArgumentError(
            "sort by relevance needs a text query (filter.text); sort by "
            "ingested or published time instead");
      }
      return request.sort();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("unknown sort ", static_cast<int>(request.sort())));
  }
}

std::string TidySnippet(absl::string_view snippet) {
  return absl::StrJoin(absl::StrSplit(snippet, absl::ByAnyChar(" \t\n\r\f\v"),
                                      absl::SkipEmpty()),
                       " ");
}

std::string DaySql(absl::string_view column) {
  // Integer division truncates towards zero in both databases; days before
  // 1970 need rounding down.
  return absl::StrCat("(CASE WHEN ", column, " >= 0 THEN ", column,
                      " / 86400000000 ELSE -((-", column,
                      " - 1) / 86400000000) - 1 END)");
}

std::string DayLabel(int64_t day) {
  return absl::FormatTime("%E4Y-%m-%d", absl::FromUnixSeconds(day * 86400),
                          absl::UTCTimeZone());
}

void FillGroups(v1::CountDimension dimension,
                std::vector<std::pair<std::string, int64_t>> rows,
                v1::CountArticlesResponse* response,
                google::protobuf::RepeatedPtrField<v1::LabelCount>* out) {
  int64_t total = 0;
  for (const auto& row : rows) total += row.second;
  response->set_total(total);
  rows.erase(std::remove_if(rows.begin(), rows.end(),
                            [](const auto& row) { return row.first.empty(); }),
             rows.end());
  const bool by_day = dimension == v1::COUNT_DIMENSION_PUBLISHED_DAY ||
                      dimension == v1::COUNT_DIMENSION_INGESTED_DAY;
  // Byte order for ties, here rather than in SQL: PostgreSQL's collation
  // would order them differently from SQLite.
  std::sort(rows.begin(), rows.end(), [by_day](const auto& a, const auto& b) {
    if (by_day || a.second == b.second) return a.first < b.first;
    return a.second > b.second;
  });
  for (auto& [label, count] : rows) {
    v1::LabelCount* entry = out->Add();
    entry->set_label(std::move(label));
    entry->set_count(count);
  }
}

absl::StatusOr<v1::QueryArticlesResponse> ArticleStore::Query(
    const v1::ArticleFilter& filter, int page_size,
    const std::string& page_token) {
  v1::QueryArticlesRequest request;
  *request.mutable_filter() = filter;
  request.set_page_size(page_size);
  request.set_page_token(page_token);
  return Query(request);
}

absl::StatusOr<v1::CountArticlesResponse> ArticleStore::Count(
    const v1::ArticleFilter& filter) {
  v1::CountArticlesRequest request;
  *request.mutable_filter() = filter;
  return Count(request);
}

int64_t ToUnixMicros(const google::protobuf::Timestamp& timestamp) {
  // nanos is in [0, 1e9), so this floors even for times before 1970.
  return timestamp.seconds() * 1000000 + timestamp.nanos() / 1000;
}

}  // namespace kabar::store
