// Copyright kabar authors.
// ArticleStore: what the store service needs from a database, in five verbs
// (Put, Get, Query, Count, UpdateLabels) plus ReadAfter for watches, over the
// kabar.v1 messages. SQLite is the embedded default (sqlite_article_store.h);
// PostgreSQL (postgres_article_store.h) serves several replicas from one
// database. Both pass the same conformance test
// (article_store_conformance_test.cc), and nothing here names a backend.
// OpenArticleStore picks the backend from a --db value. The free helpers at the
// end hold the rules every backend shares (validation, paging limits, page
// tokens), so backends agree on what is accepted and on the errors.
#ifndef KABAR_SERVICES_STORE_ARTICLE_STORE_H_
#define KABAR_SERVICES_STORE_ARTICLE_STORE_H_

#include <climits>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kabar/v1/article.pb.h"
#include "kabar/v1/store_service.pb.h"

namespace kabar::store {

// Query page size when the caller asks for 0.
inline constexpr int kDefaultPageSize = 50;
// Larger page sizes are silently capped to this.
inline constexpr int kMaxPageSize = 1000;

// What ArticleStore::ReadAfter returns.
struct ArticlesAfter {
  // The matching articles, oldest first, with their insertion sequence.
  std::vector<std::pair<int64_t, v1::StoredArticle>> articles;
  // Every article up to this sequence was considered: the sequence of the
  // last article returned when `limit` were, else the newest stored (at
  // least after_sequence). The next read continues after it.
  int64_t scanned_through = 0;
};

// A durable collection of StoredArticles keyed by article.id. Implementations
// are thread-safe: every method may be called from many threads at once.
// Times are kept with microsecond precision.
class ArticleStore {
 public:
  virtual ~ArticleStore() = default;

  // OK when the database answers; UNAVAILABLE (saying why) when it does
  // not. The store reports NOT_SERVING on its health service meanwhile. An
  // embedded database is always there.
  virtual absl::Status CheckHealth() { return absl::OkStatus(); }

  // Stores `articles` in one transaction and returns one outcome per
  // article, in order. Idempotent by article.id: an id already stored is
  // PUT_OUTCOME_ALREADY_EXISTS and left unchanged; when an id repeats inside
  // the batch the first copy wins and later ones are ALREADY_EXISTS. An
  // article without ingested_at gets the commit time.
  // Errors (nothing is stored): INVALID_ARGUMENT when any article fails
  // ValidateArticle (the message names its index and id); UNAVAILABLE when
  // the database cannot be written.
  virtual absl::StatusOr<std::vector<v1::PutOutcome>> Put(
      const std::vector<v1::StoredArticle>& articles) = 0;

  // The article stored under `id`, exactly as Put stored it (plus
  // ingested_at). NOT_FOUND when absent; INVALID_ARGUMENT when `id` is empty.
  virtual absl::StatusOr<v1::StoredArticle> Get(const std::string& id) = 0;

  // One page of the articles matching `request.filter`, in the order
  // `request.sort` names (see ResolveSort), ties broken by insertion order,
  // newest first. `page_size` 0 means kDefaultPageSize; larger than
  // kMaxPageSize means kMaxPageSize. `page_token` is "" for the first page,
  // else a previous response's next_page_token; next_page_token is "" on the
  // last page. Articles stored while paging appear on no later page, so
  // paging never repeats one. With filter.text every article comes with a
  // TextMatch (snippet with "[" "]" around matched words, relevance).
  // Relevance scores depend on the whole collection, so relevance pages are
  // exact only while nothing is stored meanwhile.
  // Errors: INVALID_ARGUMENT for a malformed page_token or one made for
  // another sort, a negative page_size, a filter failing ValidateFilter or
  // a sort that ResolveSort refuses.
  virtual absl::StatusOr<v1::QueryArticlesResponse> Query(
      const v1::QueryArticlesRequest& request) = 0;

  // The first form, newest ingested first (or by relevance with text).
  absl::StatusOr<v1::QueryArticlesResponse> Query(
      const v1::ArticleFilter& filter, int page_size,
      const std::string& page_token);

  // How many articles match `request.filter`, in total and grouped (see
  // CountArticlesRequest.group_by): by default by language code and by top
  // topic, most frequent first (ties by label); with group_by only `groups`.
  // Articles with no value for a grouping count in `total` but in no entry.
  // Errors: INVALID_ARGUMENT for a filter failing ValidateFilter or an
  // unknown group_by.
  virtual absl::StatusOr<v1::CountArticlesResponse> Count(
      const v1::CountArticlesRequest& request) = 0;

  // The first form with the default grouping.
  absl::StatusOr<v1::CountArticlesResponse> Count(
      const v1::ArticleFilter& filter);

  // Articles matching `filter` stored after `after_sequence`, in insertion
  // (= commit) order, at most `limit` (0 is allowed: only scanned_through).
  // What WatchArticles streams. A row committed later never gets a smaller
  // sequence than one already visible, so a reader advancing its cursor
  // to scanned_through misses nothing.
  // Errors: INVALID_ARGUMENT for a filter failing ValidateFilter, a filter
  // with text, or a negative limit or after_sequence.
  virtual absl::StatusOr<ArticlesAfter> ReadAfter(
      const v1::ArticleFilter& filter, int64_t after_sequence, int limit) = 0;

  // Replaces the labels of stored articles in one transaction and returns
  // one outcome per update, in order (see ApplyLabelUpdates for the rules,
  // compare-and-set included). The rest of each article, its ingested_at and
  // its insertion sequence stay unchanged, so it keeps its place in Query
  // order and page tokens stay valid; the filter columns (language, topic
  // and their confidences) follow the new labels.
  // Errors (nothing is updated): INVALID_ARGUMENT when any update fails
  // ValidateLabelUpdate (the message names its index and id); UNAVAILABLE
  // when the database cannot be written; DATA_LOSS when a stored article
  // does not parse.
  virtual absl::StatusOr<std::vector<v1::UpdateOutcome>> UpdateLabels(
      const std::vector<v1::LabelUpdate>& updates) = 0;
};

// Opens the store named by a --db value:
//   "/abs/path.db", "rel/path.db"      SQLite file (created if missing)
//   "sqlite:///abs/path.db"            SQLite, absolute path
//   "sqlite://rel/path.db"             SQLite, relative to the working dir
//   "postgresql://user@host:5432/db"   PostgreSQL (also postgres://), a libpq
//                                      connection URI; default pool options
// Errors: INVALID_ARGUMENT for an empty value, an unknown scheme or an
// in-memory database; otherwise whatever the backend's Create returns (its
// message names the path, or the database and host).
absl::StatusOr<std::unique_ptr<ArticleStore>> OpenArticleStore(
    const std::string& db_url);

// ---- Rules shared by every backend ----

// OK when `article` may be stored: article.id and article.body are set, all
// text is valid UTF-8, the indexed text (id, source, language code, topic
// labels) has no NUL character and the timestamps are valid. Else
// INVALID_ARGUMENT saying what is wrong (without naming the article; Put adds
// that).
absl::Status ValidateArticle(const v1::StoredArticle& article);

// OK when language, topic and source are valid UTF-8 without NUL, the
// confidences are in [0, 1] and the timestamps are valid; else
// INVALID_ARGUMENT naming the field.
absl::Status ValidateFilter(const v1::ArticleFilter& filter);

// OK when `update` may be applied: it has an id and labels, and the labels
// pass the checks ValidateArticle makes on labels. Else INVALID_ARGUMENT
// saying what is wrong (without naming the update; UpdateLabels adds that).
absl::Status ValidateLabelUpdate(const v1::LabelUpdate& update);

// Applies `updates` in order to `articles`, which holds the stored article
// for each id that exists (keyed by id; an absent id is NOT_FOUND). An
// update whose expected_topic_model_sha256 / expected_language_model_sha256
// is set and differs from the article's current labels is SKIPPED;
// otherwise its labels replace the article's and it is UPDATED. A later
// update of the same id sees what an earlier one wrote. Returns one outcome
// per update and adds the id of every article that changed to `changed`.
// Backends load the rows, call this, then write the changed ones, so they
// agree on the rules. REQUIRES: every update passed ValidateLabelUpdate.
std::vector<v1::UpdateOutcome> ApplyLabelUpdates(
    const std::vector<v1::LabelUpdate>& updates,
    std::map<std::string, v1::StoredArticle>* articles,
    std::set<std::string>* changed);

// A full-text query (ArticleFilter.text) split into what must match: each
// entry is one word, or the words of one "quoted phrase" in order. Words are
// split at white space; a word without any letter or digit is dropped (the
// tokenizers would drop it too). Empty for "".
// INVALID_ARGUMENT for an unbalanced double quote, more than 1000 bytes or
// 32 words, or text that is not empty but has no word.
absl::StatusOr<std::vector<std::string>> ParseTextQuery(absl::string_view text);

// The order a query request really uses: QUERY_SORT_UNSPECIFIED means
// relevance with text, ingested without. INVALID_ARGUMENT for relevance
// without filter.text, or a value outside the enum.
absl::StatusOr<v1::QuerySort> ResolveSort(
    const v1::QueryArticlesRequest& request);

// Makes a snippet one line: runs of white space become one space.
std::string TidySnippet(absl::string_view snippet);

// SQL (valid in SQLite and PostgreSQL) for the UTC day number (days since
// 1970-01-01, rounding down) of a unix-microsecond `column`; NULL for NULL.
std::string DaySql(absl::string_view column);
// "YYYY-MM-DD" for a day number from DaySql.
std::string DayLabel(int64_t day);

// Builds the grouped part of a Count response from raw (label, count) rows,
// one per distinct value ("" for articles without one): sets total to their
// sum, leaves out "" and orders the rest as CountArticlesResponse.groups
// says for `dimension`, into `out`.
void FillGroups(v1::CountDimension dimension,
                std::vector<std::pair<std::string, int64_t>> rows,
                v1::CountArticlesResponse* response,
                google::protobuf::RepeatedPtrField<v1::LabelCount>* out);

// The page size to use for a requested one (see ArticleStore::Query).
// INVALID_ARGUMENT when negative.
absl::StatusOr<int> EffectivePageSize(int requested);

// Where a page ends: the sort key of its last article. Backends order by
// (key, sequence) descending, `sequence` being their insertion counter, and
// resume strictly after the cursor; the key is ingested_at or published_at
// in unix microseconds, or the relevance score, per `sort`.
struct PageCursor {
  // ingested_at, or published_at (unused when published_is_null).
  int64_t ingested_at_micros = 0;
  int64_t sequence = 0;
  v1::QuerySort sort = v1::QUERY_SORT_INGESTED;
  // For QUERY_SORT_PUBLISHED: the article had no published_at (those come
  // last).
  bool published_is_null = false;
  // For QUERY_SORT_RELEVANCE.
  double relevance = 0;
  // Only articles up to this sequence belong to the listing: the newest one
  // stored when its first page was read, so later arrivals never show up on
  // later pages whatever the order.
  int64_t max_sequence = INT64_MAX;
};

// An opaque, URL-safe page token for `cursor`.
std::string EncodePageToken(const PageCursor& cursor);

// The cursor in `token`, which must be for `sort`. INVALID_ARGUMENT when it
// is not a token EncodePageToken made, or one for another sort.
// REQUIRES: !token.empty().
absl::StatusOr<PageCursor> DecodePageToken(
    const std::string& token, v1::QuerySort sort = v1::QUERY_SORT_INGESTED);

// A WatchArticles cursor for insertion `sequence`, and back.
// INVALID_ARGUMENT for a cursor that is not one.
std::string EncodeWatchCursor(int64_t sequence);
absl::StatusOr<int64_t> DecodeWatchCursor(absl::string_view cursor);

// Unix microseconds of a timestamp that passed the validation above.
int64_t ToUnixMicros(const google::protobuf::Timestamp& timestamp);

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_ARTICLE_STORE_H_
