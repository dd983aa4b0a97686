// Copyright kabar authors.
// ArticleStore: what the store service needs from a database, in five verbs
// (Put, Get, Query, Count, UpdateLabels) over the kabar.v1 messages. SQLite is
// the embedded default (sqlite_article_store.h); PostgreSQL
// (postgres_article_store.h) serves several replicas from one database. Both
// pass the same conformance test (article_store_conformance_test.cc), and
// nothing here names a backend. OpenArticleStore picks the backend from a --db
// value. The free helpers at the end hold the rules every backend shares
// (validation, paging limits, page tokens), so backends agree on what is
// accepted and on the errors.
#ifndef KABAR_SERVICES_STORE_ARTICLE_STORE_H_
#define KABAR_SERVICES_STORE_ARTICLE_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kabar/v1/article.pb.h"
#include "kabar/v1/store_service.pb.h"

namespace kabar::store {

// Query page size when the caller asks for 0.
inline constexpr int kDefaultPageSize = 50;
// Larger page sizes are silently capped to this.
inline constexpr int kMaxPageSize = 1000;

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

  // One page of the articles matching `filter`, newest ingested first (ties
  // broken by insertion order, newest first). `page_size` 0 means
  // kDefaultPageSize; larger than kMaxPageSize means kMaxPageSize.
  // `page_token` is "" for the first page, else a previous response's
  // next_page_token; next_page_token is "" on the last page. Articles stored
  // while paging appear on no later page, so paging never repeats one.
  // Errors: INVALID_ARGUMENT for a malformed page_token, a negative
  // page_size or a filter failing ValidateFilter.
  virtual absl::StatusOr<v1::QueryArticlesResponse> Query(
      const v1::ArticleFilter& filter, int page_size,
      const std::string& page_token) = 0;

  // How many articles match `filter`, in total, by language code and by top
  // topic, most frequent first (ties by label). Articles with no language or
  // no topic count in `total` but in no by_language / by_topic entry.
  // Errors: INVALID_ARGUMENT for a filter failing ValidateFilter.
  virtual absl::StatusOr<v1::CountArticlesResponse> Count(
      const v1::ArticleFilter& filter) = 0;

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

// The page size to use for a requested one (see ArticleStore::Query).
// INVALID_ARGUMENT when negative.
absl::StatusOr<int> EffectivePageSize(int requested);

// Where a page ends: the sort key of its last article. Backends order by
// (ingested_at, sequence) descending, `sequence` being their insertion
// counter, and resume strictly after the cursor.
struct PageCursor {
  int64_t ingested_at_micros = 0;
  int64_t sequence = 0;
};

// An opaque, URL-safe page token for `cursor`.
std::string EncodePageToken(const PageCursor& cursor);

// The cursor in `token`. INVALID_ARGUMENT when it is not a token
// EncodePageToken made. REQUIRES: !token.empty().
absl::StatusOr<PageCursor> DecodePageToken(const std::string& token);

// Unix microseconds of a timestamp that passed the validation above.
int64_t ToUnixMicros(const google::protobuf::Timestamp& timestamp);

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_ARTICLE_STORE_H_
