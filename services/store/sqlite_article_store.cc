// Copyright kabar authors.
#include "services/store/sqlite_article_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/common/status_macros.h"

namespace kabar::store {
namespace {

// Schema migrations: kMigrations[v] takes a database from version v to v + 1
// (PRAGMA user_version). Append new steps; never edit a released one.
constexpr const char* kMigrations[] = {
    // Version 1. `seq` orders inserts and never repeats (AUTOINCREMENT),
    // so page cursors stay meaningful. The other columns copy what filters
    // and ordering read out of `data`, the serialized StoredArticle, which
    // is the source of truth. Times are unix microseconds; published_at is
    // NULL when unknown. `topic` is the top topic, "" when there is none.
    R"sql(
CREATE TABLE articles (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL,
  language TEXT NOT NULL,
  language_confidence REAL NOT NULL,
  topic TEXT NOT NULL,
  topic_confidence REAL NOT NULL,
  published_at INTEGER,
  ingested_at INTEGER NOT NULL,
  data BLOB NOT NULL
);
-- Every index ends in ingested_at where it can, and SQLite appends the
-- rowid (seq) to each, so an equality filter is answered in result order
-- (ingested_at DESC, seq DESC) without sorting. Range filters use their own
-- index and sort the matches.
CREATE INDEX articles_by_ingested_at ON articles (ingested_at);
CREATE INDEX articles_by_language ON articles (language, ingested_at);
CREATE INDEX articles_by_topic ON articles (topic, ingested_at);
CREATE INDEX articles_by_source ON articles (source, ingested_at);
CREATE INDEX articles_by_published_at ON articles (published_at);
CREATE INDEX articles_by_language_confidence ON articles (language_confidence);
CREATE INDEX articles_by_topic_confidence ON articles (topic_confidence);
-- Full-text index of title and body, rowid = articles.seq (replaced by
-- version 2). Contentless: the text already lives in `data`. (Contentless FTS5
-- tables cannot delete rows before SQLite 3.43; deleting articles will need
-- a migration to an external-content table.)
CREATE VIRTUAL TABLE articles_fts USING fts5(
  title, body, content = '', tokenize = 'unicode61 remove_diacritics 2');
)sql",
    // Version 2. The full-text index keeps its own copy of title and body,
    // so snippet() can quote them; the contentless one could only match.
    // The SQL drops the old index and creates the new one empty;
    // FillFullTextIndex (run right after, in the same transaction) then
    // indexes every stored article again.
    R"sql(
DROP TABLE articles_fts;
CREATE VIRTUAL TABLE articles_fts USING fts5(
  title, body, tokenize = 'unicode61 remove_diacritics 2');
)sql",
};
static_assert(std::size(kMigrations) == SqliteArticleStore::kSchemaVersion,
              "one migration per schema version");

constexpr char kInsertArticleSql[] =
    "INSERT INTO articles (id, source, language, language_confidence, topic, "
    "topic_confidence, published_at, ingested_at, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO NOTHING RETURNING seq";
constexpr char kInsertFullTextSql[] =
    "INSERT INTO articles_fts (rowid, title, body) VALUES (?, ?, ?)";
constexpr char kGetArticleSql[] = "SELECT data FROM articles WHERE id = ?";
// Title words weigh twice body words in bm25. bm25 is smaller for better
// matches; negated, larger is better, as TextMatch.relevance promises.
constexpr char kRankedSql[] =
    "WITH ranked AS MATERIALIZED (SELECT rowid AS ranked_seq, "
    "-bm25(articles_fts, 2.0, 1.0) AS relevance FROM articles_fts "
    "WHERE articles_fts MATCH ?) ";
// Up to 16 tokens of the best-matching column around the matches.
constexpr char kSnippetSql[] =
    "SELECT rowid, snippet(articles_fts, -1, '[', ']', '...', 16) "
    "FROM articles_fts WHERE articles_fts MATCH ? AND rowid IN ";
// Labels live in the filter columns and in `data`; seq and ingested_at are
// left alone, so the article keeps its place in query order.
constexpr char kUpdateLabelsSql[] =
    "UPDATE articles SET language = ?, language_confidence = ?, topic = ?, "
    "topic_confidence = ?, data = ? WHERE id = ?";

// Longest article id quoted in an error message.
constexpr size_t kMaxQuotedIdBytes = 128;

struct StatementDeleter {
  void operator()(sqlite3_stmt* statement) const {
    sqlite3_finalize(statement);
  }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

// Resets a cached statement when the scope ends, so it releases its read
// snapshot and its bindings point at nothing stale.
class ResetOnExit {
 public:
  explicit ResetOnExit(sqlite3_stmt* statement) : statement_(statement) {}
  ~ResetOnExit() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  ResetOnExit(const ResetOnExit&) = delete;
  ResetOnExit& operator=(const ResetOnExit&) = delete;

 private:
  sqlite3_stmt* const statement_;
};

// Maps a SQLite result code to the kabar error vocabulary.
absl::Status SqliteError(sqlite3* db, int code, absl::string_view what) {
  const std::string message = absl::StrCat(
      what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code));
  switch (code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_PERM:
    case SQLITE_NOLFS:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    case SQLITE_TOOBIG:
      return absl::InvalidArgumentError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status Prefixed(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(prefix, status.message()));
}

// An article id fit for an error message: bounded, control and invalid
// bytes escaped.
std::string QuoteId(const std::string& id) {
  std::string quoted = absl::StrCat(
      "\"", absl::Utf8SafeCHexEscape(id.substr(0, kMaxQuotedIdBytes)), "\"");
  if (id.size() > kMaxQuotedIdBytes) quoted += "...";
  return quoted;
}

using SqlValue = std::variant<int64_t, double, std::string>;

// Binds `text` to parameter `index` (1-based) without copying it: it must
// outlive the statement's next reset.
int BindText(sqlite3_stmt* statement, int index, const std::string& text) {
  return sqlite3_bind_text64(statement, index, text.data(), text.size(),
                             SQLITE_STATIC, SQLITE_UTF8);
}

// Binds `value` like BindText: `value` must outlive the next reset.
int Bind(sqlite3_stmt* statement, int index, const SqlValue& value) {
  if (const auto* integer = std::get_if<int64_t>(&value)) {
    return sqlite3_bind_int64(statement, index, *integer);
  }
  if (const auto* real = std::get_if<double>(&value)) {
    return sqlite3_bind_double(statement, index, *real);
  }
  return BindText(statement, index, std::get<std::string>(value));
}

// The WHERE clause of a query: conditions joined by AND, with their
// parameters in order. Values are always bound, never spliced into SQL.
struct WhereClause {
  std::vector<std::string> conditions;
  std::vector<SqlValue> values;

  std::string Sql() const {
    if (conditions.empty()) return "";
    return absl::StrCat(" WHERE ", absl::StrJoin(conditions, " AND "));
  }
};

// REQUIRES: ValidateFilter(filter).ok().
WhereClause FilterClause(const v1::ArticleFilter& filter) {
  WhereClause where;
  auto add = [&where](std::string condition, SqlValue value) {
    where.conditions.push_back(std::move(condition));
    where.values.push_back(std::move(value));
  };
  if (!filter.language().empty()) add("language = ?", filter.language());
  if (!filter.topic().empty()) add("topic = ?", filter.topic());
  if (!filter.source().empty()) add("source = ?", filter.source());
  // A NULL published_at (unknown) matches no published range.
  if (filter.has_published_after()) {
    add("published_at >= ?", ToUnixMicros(filter.published_after()));
  }
  if (filter.has_published_before()) {
    add("published_at < ?", ToUnixMicros(filter.published_before()));
  }
  if (filter.has_ingested_after()) {
    add("ingested_at >= ?", ToUnixMicros(filter.ingested_after()));
  }
  if (filter.has_ingested_before()) {
    add("ingested_at < ?", ToUnixMicros(filter.ingested_before()));
  }
  // Both sides are the same float widened to double, so >= is exact.
  if (filter.min_language_confidence() > 0) {
    add("language_confidence >= ?",
        static_cast<double>(filter.min_language_confidence()));
  }
  if (filter.min_topic_confidence() > 0) {
    add("topic_confidence >= ?",
        static_cast<double>(filter.min_topic_confidence()));
  }
  return where;
}

// An FTS5 MATCH expression for ParseTextQuery's terms: each one a quoted
// string, so nothing the user typed is FTS5 syntax. Terms never contain a
// double quote (ParseTextQuery splits at them).
std::string MatchExpression(const std::vector<std::string>& terms) {
  std::vector<std::string> quoted;
  quoted.reserve(terms.size());
  for (const std::string& term : terms) {
    quoted.push_back(absl::StrCat("\"", term, "\""));
  }
  return absl::StrJoin(quoted, " ");
}

// FilterClause plus filter.text as a condition on seq (for counts and
// watches, which need no relevance).
// REQUIRES: ValidateFilter(filter).ok().
WhereClause FilterClauseWithText(const v1::ArticleFilter& filter) {
  WhereClause where = FilterClause(filter);
  if (!filter.text().empty()) {
    where.conditions.push_back(
        "seq IN (SELECT rowid FROM articles_fts WHERE articles_fts MATCH ?)");
    where.values.push_back(MatchExpression(*ParseTextQuery(filter.text())));
  }
  return where;
}

}  // namespace

// One sqlite3 handle plus the statements prepared on it. Not thread-safe:
// used by one thread at a time (the writer under writer_mu_, a reader while
// leased).
class SqliteArticleStore::Connection {
 public:
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& path, bool read_only, absl::Duration busy_timeout) {
    sqlite3* db = nullptr;
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY
                   : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
        // Each connection is used by one thread at a time, so SQLite's own
        // per-connection mutex would be pure overhead.
        SQLITE_OPEN_NOMUTEX;
    const int code = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
    // Owns `db` from here on, even when opening failed.
    auto connection = std::unique_ptr<Connection>(new Connection(db));
    if (code != SQLITE_OK) {
      return SqliteError(db, code, absl::StrCat("cannot open database ", path));
    }
    sqlite3_busy_timeout(
        db, static_cast<int>(absl::ToInt64Milliseconds(busy_timeout)));
    return connection;
  }

  ~Connection() {
    cached_.clear();  // statements must be finalized before the close
    sqlite3_close_v2(db_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* db() const { return db_; }

  absl::Status Error(int code, absl::string_view what) const {
    return SqliteError(db_, code, what);
  }

  // Runs `sql`, which may hold several statements and returns no rows.
  absl::Status Exec(const char* sql) {
    const int code = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (code != SQLITE_OK) {
      // Migrations are long: quote only their start.
      const absl::string_view text = absl::StripAsciiWhitespace(sql);
      return Error(code, absl::StrCat("cannot run \"", text.substr(0, 40),
                                      text.size() > 40 ? "...\"" : "\""));
    }
    return absl::OkStatus();
  }

  // A one-off statement (queries whose shape depends on the filter).
  absl::StatusOr<Statement> Prepare(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    const int code =
        sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()) + 1,
                           &statement, nullptr);
    if (code != SQLITE_OK) return Error(code, "cannot prepare statement");
    return Statement(statement);
  }

  // The statement for `sql`, prepared on first use and reused afterwards.
  // Callers reset it when done (ResetOnExit).
  absl::StatusOr<sqlite3_stmt*> Cached(const char* sql) {
    auto it = cached_.find(sql);
    if (it != cached_.end()) return it->second.get();
    sqlite3_stmt* statement = nullptr;
    const int code = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT,
                                        &statement, nullptr);
    if (code != SQLITE_OK) return Error(code, "cannot prepare statement");
    cached_.emplace(sql, Statement(statement));
    return statement;
  }

  // The first column of the first row `sql` returns, as text (for PRAGMAs).
  absl::StatusOr<std::string> QueryText(const char* sql) {
    KABAR_ASSIGN_OR_RETURN(Statement statement, Prepare(sql));
    const int code = sqlite3_step(statement.get());
    if (code != SQLITE_ROW) return Error(code, sql);
    const unsigned char* text = sqlite3_column_text(statement.get(), 0);
    return std::string(text == nullptr ? ""
                                       : reinterpret_cast<const char*>(text));
  }

 private:
  explicit Connection(sqlite3* db) : db_(db) {}

  sqlite3* const db_;
  std::unordered_map<std::string, Statement> cached_;
};

// A read connection borrowed from the store for one method call.
class SqliteArticleStore::ReaderLease {
 public:
  ReaderLease(SqliteArticleStore* store, std::unique_ptr<Connection> reader)
      : store_(store), reader_(std::move(reader)) {}
  ~ReaderLease() { store_->ReturnReader(std::move(reader_)); }
  ReaderLease(const ReaderLease&) = delete;
  ReaderLease& operator=(const ReaderLease&) = delete;

  Connection* operator->() const { return reader_.get(); }

 private:
  SqliteArticleStore* const store_;
  std::unique_ptr<Connection> reader_;
};

absl::Status SqliteArticleStore::FillFullTextIndex(Connection& writer) {
  KABAR_ASSIGN_OR_RETURN(Statement select,
                         writer.Prepare("SELECT seq, data FROM articles"));
  KABAR_ASSIGN_OR_RETURN(sqlite3_stmt * insert,
                         writer.Cached(kInsertFullTextSql));
  while (true) {
    int code = sqlite3_step(select.get());
    if (code == SQLITE_DONE) return absl::OkStatus();
    if (code != SQLITE_ROW) return writer.Error(code, "cannot read articles");
    const int64_t seq = sqlite3_column_int64(select.get(), 0);
    v1::StoredArticle stored;
    if (!stored.ParseFromArray(sqlite3_column_blob(select.get(), 1),
                               sqlite3_column_bytes(select.get(), 1))) {
      return absl::DataLossError(
          absl::StrCat("stored article at sequence ", seq, " does not parse"));
    }
    ResetOnExit reset(insert);
    code = sqlite3_bind_int64(insert, 1, seq);
    if (code == SQLITE_OK) code = BindText(insert, 2, stored.article().title());
    if (code == SQLITE_OK) code = BindText(insert, 3, stored.article().body());
    if (code == SQLITE_OK) code = sqlite3_step(insert);
    if (code != SQLITE_DONE) {
      return writer.Error(
          code, absl::StrCat("cannot index article at sequence ", seq));
    }
  }
}

absl::StatusOr<std::unique_ptr<SqliteArticleStore>> SqliteArticleStore::Create(
    const Options& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("database path is empty");
  }
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                         Connection::Open(options.path, /*read_only=*/false,
                                          options.busy_timeout));

  auto set_up = [&]() -> absl::Status {
    // WAL lets readers run while a batch is written. The first statement
    // also finds out whether the file is a database at all.
    KABAR_ASSIGN_OR_RETURN(const std::string journal_mode,
                           writer->QueryText("PRAGMA journal_mode = WAL"));
    if (journal_mode != "wal") {
      common::LogWarning(absl::StrCat("database ", options.path,
                                      ": WAL unavailable, journal mode is ",
                                      journal_mode, "; reads may wait"));
    }
    // NORMAL is safe with WAL: the file cannot be corrupted and a process
    // crash loses nothing; only an OS crash or power cut may drop the last
    // few commits. Re-ingesting those is harmless (Put is idempotent), while
    // FULL would fsync on every batch.
    KABAR_RETURN_IF_ERROR(writer->Exec("PRAGMA synchronous = NORMAL"));

    // IMMEDIATE takes the write lock now, so two processes opening a new
    // file at once cannot both create the schema.
    KABAR_RETURN_IF_ERROR(writer->Exec("BEGIN IMMEDIATE"));
    auto migrate = [&]() -> absl::Status {
      KABAR_ASSIGN_OR_RETURN(const std::string version_text,
                             writer->QueryText("PRAGMA user_version"));
      const int version = std::atoi(version_text.c_str());
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat(
            "schema version ", version, " is newer than the ", kSchemaVersion,
            " this kabar-store understands; upgrade kabar-store"));
      }
      for (int step = version; step < kSchemaVersion; ++step) {
        KABAR_RETURN_IF_ERROR(writer->Exec(kMigrations[step]));
        if (step + 1 == 2) KABAR_RETURN_IF_ERROR(FillFullTextIndex(*writer));
      }
      if (version != kSchemaVersion) {
        KABAR_RETURN_IF_ERROR(writer->Exec(
            absl::StrCat("PRAGMA user_version = ", kSchemaVersion).c_str()));
        common::LogInfo(absl::StrCat(
            "database ", options.path,
            version == 0 ? ": created schema version "
                         : absl::StrCat(": migrated schema from version ",
                                        version, " to "),
            kSchemaVersion));
      }
      return writer->Exec("COMMIT");
    };
    absl::Status migrated = migrate();
    if (!migrated.ok() && !sqlite3_get_autocommit(writer->db())) {
      writer->Exec("ROLLBACK").IgnoreError();
    }
    return migrated;
  };
  KABAR_RETURN_IF_ERROR(
      Prefixed(set_up(), absl::StrCat("database ", options.path, ": ")));
  return std::unique_ptr<SqliteArticleStore>(
      new SqliteArticleStore(options, std::move(writer)));
}

SqliteArticleStore::SqliteArticleStore(Options options,
                                       std::unique_ptr<Connection> writer)
    : options_(std::move(options)), writer_(std::move(writer)) {}

SqliteArticleStore::~SqliteArticleStore() {
  // Readers first: the last connection to close checkpoints the WAL into
  // the main file and removes it.
  absl::MutexLock lock(&readers_mu_);
  idle_readers_.clear();
}

absl::StatusOr<std::unique_ptr<SqliteArticleStore::Connection>>
SqliteArticleStore::TakeReader() {
  {
    absl::MutexLock lock(&readers_mu_);
    if (!idle_readers_.empty()) {
      std::unique_ptr<Connection> reader = std::move(idle_readers_.back());
      idle_readers_.pop_back();
      return reader;
    }
  }
  // Errors name the path.
  return Connection::Open(options_.path, /*read_only=*/true,
                          options_.busy_timeout);
}

void SqliteArticleStore::ReturnReader(std::unique_ptr<Connection> reader) {
  // A method that failed half-way may leave its read transaction open.
  if (!sqlite3_get_autocommit(reader->db())) {
    reader->Exec("ROLLBACK").IgnoreError();
  }
  absl::MutexLock lock(&readers_mu_);
  if (static_cast<int>(idle_readers_.size()) < options_.max_idle_readers) {
    idle_readers_.push_back(std::move(reader));
  }
}

absl::StatusOr<std::vector<v1::PutOutcome>> SqliteArticleStore::Put(
    const std::vector<v1::StoredArticle>& articles) {
  for (size_t i = 0; i < articles.size(); ++i) {
    const absl::Status valid = ValidateArticle(articles[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "article ", i, " (id ", QuoteId(articles[i].article().id()),
          "): ", valid.message(), "; nothing was stored"));
    }
  }
  std::vector<v1::PutOutcome> outcomes;
  if (articles.empty()) return outcomes;
  outcomes.reserve(articles.size());

  // Serialize before taking the lock: it is the costly part for big
  // articles, and the write lock should be held only for the writes.
  const int64_t now_micros = absl::ToUnixMicros(absl::Now());
  std::vector<std::string> blobs(articles.size());
  for (size_t i = 0; i < articles.size(); ++i) {
    if (articles[i].has_ingested_at()) {
      articles[i].SerializeToString(&blobs[i]);
    } else {
      v1::StoredArticle stamped = articles[i];
      stamped.mutable_ingested_at()->set_seconds(now_micros / 1000000);
      stamped.mutable_ingested_at()->set_nanos(
          static_cast<int32_t>(now_micros % 1000000) * 1000);
      stamped.SerializeToString(&blobs[i]);
    }
  }

  absl::MutexLock lock(&writer_mu_);
  auto insert_all = [&]() -> absl::Status {
    KABAR_ASSIGN_OR_RETURN(sqlite3_stmt * insert,
                           writer_->Cached(kInsertArticleSql));
    KABAR_ASSIGN_OR_RETURN(sqlite3_stmt * insert_text,
                           writer_->Cached(kInsertFullTextSql));
    for (size_t i = 0; i < articles.size(); ++i) {
      const v1::StoredArticle& stored = articles[i];
      const v1::Article& article = stored.article();
      const v1::Labels& labels = stored.labels();
      const bool has_topic = labels.topics_size() > 0;
      const SqlValue values[] = {
          article.id(),
          article.source(),
          labels.language().code(),
          static_cast<double>(labels.language().confidence()),
          has_topic ? labels.topics(0).label() : std::string(),
          has_topic ? static_cast<double>(labels.topics(0).confidence()) : 0.0,
          int64_t{0},  // published_at, bound below (may be NULL)
          stored.has_ingested_at() ? ToUnixMicros(stored.ingested_at())
                                   : now_micros,
      };
      ResetOnExit reset_insert(insert);
      int code = SQLITE_OK;
      for (int p = 0; p < 8 && code == SQLITE_OK; ++p) {
        code = Bind(insert, p + 1, values[p]);
      }
      if (code == SQLITE_OK) {
        code = article.has_published_at()
                   ? sqlite3_bind_int64(insert, 7,
                                        ToUnixMicros(article.published_at()))
                   : sqlite3_bind_null(insert, 7);
      }
      if (code == SQLITE_OK) {
        code = sqlite3_bind_blob64(insert, 9, blobs[i].data(), blobs[i].size(),
                                   SQLITE_STATIC);
      }
      if (code == SQLITE_OK) code = sqlite3_step(insert);
      if (code == SQLITE_DONE) {
        // ON CONFLICT DO NOTHING returned no row: the id exists, possibly
        // from earlier in this very batch.
        outcomes.push_back(v1::PUT_OUTCOME_ALREADY_EXISTS);
        continue;
      }
      if (code != SQLITE_ROW) {
        return writer_->Error(code,
                              absl::StrCat("cannot store article ", i, " (id ",
                                           QuoteId(article.id()), ")"));
      }
      const int64_t seq = sqlite3_column_int64(insert, 0);

      ResetOnExit reset_text(insert_text);
      code = sqlite3_bind_int64(insert_text, 1, seq);
      if (code == SQLITE_OK) code = BindText(insert_text, 2, article.title());
      if (code == SQLITE_OK) code = BindText(insert_text, 3, article.body());
      if (code == SQLITE_OK) code = sqlite3_step(insert_text);
      if (code != SQLITE_DONE) {
        return writer_->Error(code,
                              absl::StrCat("cannot index article ", i, " (id ",
                                           QuoteId(article.id()), ")"));
      }
      outcomes.push_back(v1::PUT_OUTCOME_INSERTED);
    }
    return writer_->Exec("COMMIT");
  };

  KABAR_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
  const absl::Status status = insert_all();
  if (!status.ok()) {
    // COMMIT may have failed too (e.g. disk full), leaving the transaction
    // open; roll back so the connection is usable for the next batch.
    if (!sqlite3_get_autocommit(writer_->db())) {
      writer_->Exec("ROLLBACK").IgnoreError();
    }
    return Prefixed(status, "nothing was stored: ");
  }
  return outcomes;
}

absl::StatusOr<std::vector<v1::UpdateOutcome>> SqliteArticleStore::UpdateLabels(
    const std::vector<v1::LabelUpdate>& updates) {
  for (size_t i = 0; i < updates.size(); ++i) {
    const absl::Status valid = ValidateLabelUpdate(updates[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("update ", i, " (id ", QuoteId(updates[i].id()),
                       "): ", valid.message(), "; nothing was updated"));
    }
  }
  std::vector<v1::UpdateOutcome> outcomes;
  if (updates.empty()) return outcomes;

  absl::MutexLock lock(&writer_mu_);
  auto update_all = [&]() -> absl::Status {
    // The articles are read inside the write transaction, so nothing can
    // change between the compare and the set.
    std::map<std::string, v1::StoredArticle> articles;
    std::set<std::string> looked_up;
    KABAR_ASSIGN_OR_RETURN(sqlite3_stmt * select,
                           writer_->Cached(kGetArticleSql));
    for (const v1::LabelUpdate& update : updates) {
      const std::string& id = update.id();
      if (!looked_up.insert(id).second) continue;
      ResetOnExit reset(select);
      int code = BindText(select, 1, id);
      if (code == SQLITE_OK) code = sqlite3_step(select);
      if (code == SQLITE_DONE) continue;  // not found
      if (code != SQLITE_ROW) {
        return writer_->Error(
            code, absl::StrCat("cannot read article ", QuoteId(id)));
      }
      if (!articles[id].ParseFromArray(sqlite3_column_blob(select, 0),
                                       sqlite3_column_bytes(select, 0))) {
        return absl::DataLossError(
            absl::StrCat("stored article ", QuoteId(id), " does not parse"));
      }
    }

    std::set<std::string> changed;
    outcomes = ApplyLabelUpdates(updates, &articles, &changed);

    KABAR_ASSIGN_OR_RETURN(sqlite3_stmt * update,
                           writer_->Cached(kUpdateLabelsSql));
    for (const std::string& id : changed) {
      const v1::StoredArticle& stored = articles[id];
      const v1::Labels& labels = stored.labels();
      const bool has_topic = labels.topics_size() > 0;
      std::string blob;
      stored.SerializeToString(&blob);
      const std::string topic =
          has_topic ? labels.topics(0).label() : std::string();
      ResetOnExit reset(update);
      int code = BindText(update, 1, labels.language().code());
      if (code == SQLITE_OK) {
        code = sqlite3_bind_double(
            update, 2, static_cast<double>(labels.language().confidence()));
      }
      if (code == SQLITE_OK) code = BindText(update, 3, topic);
      if (code == SQLITE_OK) {
        code = sqlite3_bind_double(
            update, 4,
            has_topic ? static_cast<double>(labels.topics(0).confidence())
                      : 0.0);
      }
      if (code == SQLITE_OK) {
        code = sqlite3_bind_blob64(update, 5, blob.data(), blob.size(),
                                   SQLITE_STATIC);
      }
      if (code == SQLITE_OK) code = BindText(update, 6, id);
      if (code == SQLITE_OK) code = sqlite3_step(update);
      if (code != SQLITE_DONE) {
        return writer_->Error(
            code, absl::StrCat("cannot update article ", QuoteId(id)));
      }
    }
    return writer_->Exec("COMMIT");
  };

  KABAR_RETURN_IF_ERROR(writer_->Exec("BEGIN IMMEDIATE"));
  const absl::Status status = update_all();
  if (!status.ok()) {
    if (!sqlite3_get_autocommit(writer_->db())) {
      writer_->Exec("ROLLBACK").IgnoreError();
    }
    return Prefixed(status, "nothing was updated: ");
  }
  return outcomes;
}

absl::StatusOr<v1::StoredArticle> SqliteArticleStore::Get(
    const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("article id is empty");
  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, TakeReader());
  ReaderLease reader(this, std::move(connection));
  KABAR_ASSIGN_OR_RETURN(sqlite3_stmt * select, reader->Cached(kGetArticleSql));
  ResetOnExit reset(select);
  int code = BindText(select, 1, id);
  if (code == SQLITE_OK) code = sqlite3_step(select);
  if (code == SQLITE_DONE) {
    return absl::NotFoundError(
        absl::StrCat("no article with id ", QuoteId(id)));
  }
  if (code != SQLITE_ROW) {
    return reader->Error(code,
                         absl::StrCat("cannot read article ", QuoteId(id)));
  }
  v1::StoredArticle article;
  if (!article.ParseFromArray(sqlite3_column_blob(select, 0),
                              sqlite3_column_bytes(select, 0))) {
    return absl::DataLossError(
        absl::StrCat("stored article ", QuoteId(id), " does not parse"));
  }
  return article;
}

absl::StatusOr<v1::QueryArticlesResponse> SqliteArticleStore::Query(
    const v1::QueryArticlesRequest& request) {
  const v1::ArticleFilter& filter = request.filter();
  KABAR_RETURN_IF_ERROR(ValidateFilter(filter));
  KABAR_ASSIGN_OR_RETURN(const v1::QuerySort sort, ResolveSort(request));
  KABAR_ASSIGN_OR_RETURN(const int limit,
                         EffectivePageSize(request.page_size()));
  KABAR_ASSIGN_OR_RETURN(const std::vector<std::string> terms,
                         ParseTextQuery(filter.text()));
  const bool has_text = !terms.empty();
  const std::string match = MatchExpression(terms);
  std::optional<PageCursor> cursor;
  if (!request.page_token().empty()) {
    KABAR_ASSIGN_OR_RETURN(cursor, DecodePageToken(request.page_token(), sort));
  }

  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, TakeReader());
  ReaderLease reader(this, std::move(connection));
  // One read transaction: the newest sequence, the page and its snippets
  // all describe the same snapshot.
  KABAR_RETURN_IF_ERROR(reader->Exec("BEGIN"));
  int64_t max_sequence = 0;
  if (cursor.has_value()) {
    max_sequence = cursor->max_sequence;
  } else {
    KABAR_ASSIGN_OR_RETURN(
        const std::string newest,
        reader->QueryText("SELECT COALESCE(MAX(seq), 0) FROM articles"));
    max_sequence = std::atoll(newest.c_str());
  }

  WhereClause where;
  if (has_text) where.values.push_back(match);  // the CTE's parameter
  const WhereClause filters = FilterClause(filter);
  where.conditions = filters.conditions;
  where.values.insert(where.values.end(), filters.values.begin(),
                      filters.values.end());
  where.conditions.push_back("seq <= ?");
  where.values.push_back(max_sequence);
  if (cursor.has_value()) {
    // Strictly after the cursor in (key, seq) descending order.
    switch (sort) {
      case v1::QUERY_SORT_PUBLISHED:
        if (cursor->published_is_null) {
          where.conditions.push_back("published_at IS NULL AND seq < ?");
          where.values.push_back(cursor->sequence);
        } else {
          where.conditions.push_back(
              "(published_at < ? OR (published_at = ? AND seq < ?) OR "
              "published_at IS NULL)");
          where.values.push_back(cursor->ingested_at_micros);
          where.values.push_back(cursor->ingested_at_micros);
          where.values.push_back(cursor->sequence);
        }
        break;
      case v1::QUERY_SORT_RELEVANCE:
        where.conditions.push_back(
            "(relevance < ? OR (relevance = ? AND seq < ?))");
        where.values.push_back(cursor->relevance);
        where.values.push_back(cursor->relevance);
        where.values.push_back(cursor->sequence);
        break;
      default:
        // The first half alone is an index range; the second refines it.
        where.conditions.push_back(
            "ingested_at <= ? AND (ingested_at < ? OR seq < ?)");
        where.values.push_back(cursor->ingested_at_micros);
        where.values.push_back(cursor->ingested_at_micros);
        where.values.push_back(cursor->sequence);
    }
  }
  const char* order = " ORDER BY ingested_at DESC, seq DESC";
  if (sort == v1::QUERY_SORT_PUBLISHED) {
    order = " ORDER BY published_at DESC NULLS LAST, seq DESC";
  } else if (sort == v1::QUERY_SORT_RELEVANCE) {
    order = " ORDER BY relevance DESC, seq DESC";
  }
  // One row more than the page tells whether another page follows, so the
  // last page never comes with a token leading to an empty one.
  where.values.push_back(int64_t{limit} + 1);
  const std::string sql =
      has_text
          ? absl::StrCat(kRankedSql,
                         "SELECT seq, ingested_at, published_at, relevance, "
                         "data FROM articles JOIN ranked ON ranked_seq = seq",
                         where.Sql(), order, " LIMIT ?")
          : absl::StrCat(
                "SELECT seq, ingested_at, published_at, 0.0, data "
                "FROM articles",
                where.Sql(), order, " LIMIT ?");

  KABAR_ASSIGN_OR_RETURN(Statement select, reader->Prepare(sql));
  for (size_t i = 0; i < where.values.size(); ++i) {
    const int code =
        Bind(select.get(), static_cast<int>(i) + 1, where.values[i]);
    if (code != SQLITE_OK) return reader->Error(code, "cannot bind query");
  }
  v1::QueryArticlesResponse response;
  std::vector<int64_t> sequences;
  PageCursor last;
  last.sort = sort;
  last.max_sequence = max_sequence;
  while (true) {
    const int code = sqlite3_step(select.get());
    if (code == SQLITE_DONE) break;
    if (code != SQLITE_ROW) return reader->Error(code, "cannot query articles");
    if (response.articles_size() == limit) {
      response.set_next_page_token(EncodePageToken(last));
      break;
    }
    last.sequence = sqlite3_column_int64(select.get(), 0);
    last.ingested_at_micros = sqlite3_column_int64(select.get(), 1);
    if (sort == v1::QUERY_SORT_PUBLISHED) {
      last.published_is_null =
          sqlite3_column_type(select.get(), 2) == SQLITE_NULL;
      last.ingested_at_micros =
          last.published_is_null ? 0 : sqlite3_column_int64(select.get(), 2);
    }
    last.relevance = sqlite3_column_double(select.get(), 3);
    if (!response.add_articles()->ParseFromArray(
            sqlite3_column_blob(select.get(), 4),
            sqlite3_column_bytes(select.get(), 4))) {
      return absl::DataLossError(absl::StrCat(
          "stored article at sequence ", last.sequence, " does not parse"));
    }
    sequences.push_back(last.sequence);
    if (has_text) response.add_matches()->set_relevance(last.relevance);
  }

  if (has_text && !sequences.empty()) {
    std::unordered_map<int64_t, std::string> snippets;
    const std::string snippet_sql =
        absl::StrCat(kSnippetSql, "(", absl::StrJoin(sequences, ", "), ")");
    KABAR_ASSIGN_OR_RETURN(Statement snippet, reader->Prepare(snippet_sql));
    int code = BindText(snippet.get(), 1, match);
    if (code != SQLITE_OK) return reader->Error(code, "cannot bind query");
    while ((code = sqlite3_step(snippet.get())) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(snippet.get(), 1);
      snippets[sqlite3_column_int64(snippet.get(), 0)] =
          text == nullptr ? ""
                          : TidySnippet(reinterpret_cast<const char*>(text));
    }
    if (code != SQLITE_DONE) return reader->Error(code, "cannot make snippets");
    for (size_t i = 0; i < sequences.size(); ++i) {
      response.mutable_matches(static_cast<int>(i))
          ->set_snippet(snippets[sequences[i]]);
    }
  }
  KABAR_RETURN_IF_ERROR(reader->Exec("COMMIT"));
  return response;
}

absl::StatusOr<v1::CountArticlesResponse> SqliteArticleStore::Count(
    const v1::CountArticlesRequest& request) {
  const v1::ArticleFilter& filter = request.filter();
  KABAR_RETURN_IF_ERROR(ValidateFilter(filter));
  const v1::CountDimension dimension = request.group_by();
  if (!v1::CountDimension_IsValid(dimension)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown group_by ", static_cast<int>(dimension)));
  }
  const WhereClause where = FilterClauseWithText(filter);

  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, TakeReader());
  ReaderLease reader(this, std::move(connection));
  // Runs `sql` with the filter's values; calls `on_row` for each row.
  auto run = [&](const std::string& sql, auto on_row) -> absl::Status {
    KABAR_ASSIGN_OR_RETURN(Statement select, reader->Prepare(sql));
    for (size_t i = 0; i < where.values.size(); ++i) {
      const int code =
          Bind(select.get(), static_cast<int>(i) + 1, where.values[i]);
      if (code != SQLITE_OK) return reader->Error(code, "cannot bind query");
    }
    while (true) {
      const int code = sqlite3_step(select.get());
      if (code == SQLITE_DONE) return absl::OkStatus();
      if (code != SQLITE_ROW)
        return reader->Error(code, "cannot count articles");
      on_row(select.get());
    }
  };
  auto by_label = [&](const char* column,
                      google::protobuf::RepeatedPtrField<v1::LabelCount>* out) {
    WhereClause labeled = where;
    labeled.conditions.push_back(absl::StrCat(column, " <> ''"));
    return run(absl::StrCat("SELECT ", column, ", COUNT(*) AS n FROM articles",
                            labeled.Sql(), " GROUP BY ", column,
                            " ORDER BY n DESC, ", column),
               [out](sqlite3_stmt* row) {
                 v1::LabelCount* count = out->Add();
                 const unsigned char* label = sqlite3_column_text(row, 0);
                 if (label != nullptr) {
                   count->set_label(reinterpret_cast<const char*>(label));
                 }
                 count->set_count(sqlite3_column_int64(row, 1));
               });
  };

  v1::CountArticlesResponse response;
  if (dimension != v1::COUNT_DIMENSION_UNSPECIFIED) {
    std::string expression;
    bool by_day = true;
    switch (dimension) {
      case v1::COUNT_DIMENSION_PUBLISHED_DAY:
        expression = DaySql("published_at");
        break;
      case v1::COUNT_DIMENSION_INGESTED_DAY:
        expression = DaySql("ingested_at");
        break;
      default:
        by_day = false;
        expression = dimension == v1::COUNT_DIMENSION_LANGUAGE ? "language"
                     : dimension == v1::COUNT_DIMENSION_TOPIC  ? "topic"
                                                               : "source";
    }
    std::vector<std::pair<std::string, int64_t>> rows;
    KABAR_RETURN_IF_ERROR(
        run(absl::StrCat("SELECT ", expression, ", COUNT(*) FROM articles",
                         where.Sql(), " GROUP BY 1"),
            [&rows, by_day](sqlite3_stmt* row) {
              std::string label;
              if (sqlite3_column_type(row, 0) != SQLITE_NULL) {
                if (by_day) {
                  label = DayLabel(sqlite3_column_int64(row, 0));
                } else {
                  const unsigned char* text = sqlite3_column_text(row, 0);
                  if (text != nullptr)
                    label = reinterpret_cast<const char*>(text);
                }
              }
              rows.emplace_back(std::move(label), sqlite3_column_int64(row, 1));
            }));
    FillGroups(dimension, std::move(rows), &response,
               response.mutable_groups());
    return response;
  }
  // One read transaction, so the three answers describe the same snapshot.
  KABAR_RETURN_IF_ERROR(reader->Exec("BEGIN"));
  KABAR_RETURN_IF_ERROR(
      run(absl::StrCat("SELECT COUNT(*) FROM articles", where.Sql()),
          [&response](sqlite3_stmt* row) {
            response.set_total(sqlite3_column_int64(row, 0));
          }));
  KABAR_RETURN_IF_ERROR(by_label("language", response.mutable_by_language()));
  KABAR_RETURN_IF_ERROR(by_label("topic", response.mutable_by_topic()));
  KABAR_RETURN_IF_ERROR(reader->Exec("COMMIT"));
  return response;
}

absl::StatusOr<ArticlesAfter> SqliteArticleStore::ReadAfter(
    const v1::ArticleFilter& filter, int64_t after_sequence, int limit) {
  KABAR_RETURN_IF_ERROR(ValidateFilter(filter));
  if (!filter.text().empty()) {
    return absl::InvalidArgumentError("watching a text query is not supported");
  }
  if (limit < 0 || after_sequence < 0) {
    return absl::InvalidArgumentError("negative limit or sequence");
  }
  WhereClause where = FilterClause(filter);
  where.conditions.insert(where.conditions.begin(), "seq > ?");
  where.values.insert(where.values.begin(), after_sequence);
  where.values.push_back(int64_t{limit});

  KABAR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection, TakeReader());
  ReaderLease reader(this, std::move(connection));
  // Writes are serialized (one writer, BEGIN IMMEDIATE across processes),
  // so sequences become visible in order: everything up to the newest one
  // in this snapshot has been seen.
  KABAR_RETURN_IF_ERROR(reader->Exec("BEGIN"));
  KABAR_ASSIGN_OR_RETURN(
      const std::string newest,
      reader->QueryText("SELECT COALESCE(MAX(seq), 0) FROM articles"));
  ArticlesAfter result;
  result.scanned_through =
      std::max<int64_t>(after_sequence, std::atoll(newest.c_str()));
  KABAR_ASSIGN_OR_RETURN(
      Statement select,
      reader->Prepare(absl::StrCat("SELECT seq, data FROM articles",
                                   where.Sql(), " ORDER BY seq LIMIT ?")));
  for (size_t i = 0; i < where.values.size(); ++i) {
    const int code =
        Bind(select.get(), static_cast<int>(i) + 1, where.values[i]);
    if (code != SQLITE_OK) return reader->Error(code, "cannot bind query");
  }
  while (true) {
    const int code = sqlite3_step(select.get());
    if (code == SQLITE_DONE) break;
    if (code != SQLITE_ROW) return reader->Error(code, "cannot read articles");
    const int64_t seq = sqlite3_column_int64(select.get(), 0);
    result.articles.emplace_back(seq, v1::StoredArticle());
    if (!result.articles.back().second.ParseFromArray(
            sqlite3_column_blob(select.get(), 1),
            sqlite3_column_bytes(select.get(), 1))) {
      return absl::DataLossError(
          absl::StrCat("stored article at sequence ", seq, " does not parse"));
    }
  }
  KABAR_RETURN_IF_ERROR(reader->Exec("COMMIT"));
  if (limit > 0 && static_cast<int>(result.articles.size()) == limit) {
    result.scanned_through = result.articles.back().first;
  }
  return result;
}

}  // namespace kabar::store
