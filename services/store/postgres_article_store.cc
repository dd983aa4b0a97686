// Copyright kabar authors.
#include "services/store/postgres_article_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "services/common/logging.h"
#include "services/common/status_macros.h"
#include "services/common/text.h"

namespace kabar::store {
namespace {

// Schema migrations: kMigrations[v] takes a database from version v to v + 1,
// recorded as a row in kabar_schema_migrations. Append new steps; never edit
// a released one.
//
// Version 1 mirrors the SQLite schema. `seq` orders inserts: the store draws
// a block from kabar_articles_seq per batch, so it never repeats and page
// cursors stay meaningful. The other columns copy what filters and ordering
// read out of `data`, the serialized StoredArticle, which is the source of
// truth. Times are unix microseconds, as in SQLite, so page tokens mean the
// same on both backends; published_at is NULL when unknown. `topic` is the
// top topic, "" when there is none. Confidences are float4 values widened to
// double precision, so comparisons with a widened filter value are exact.
// `search` is computed by the INSERT rather than as a generated column.
//
// Citus: the primary key on `id` is the only unique constraint, and Citus
// requires unique constraints to include the distribution column, so the
// table can be distributed by id (an operator runs
// create_distributed_table('kabar_articles', 'id') once; the store does not).
// Beyond that the schema is one table, a sequence and btree/GIN indexes, with
// no foreign keys, triggers or extensions. kabar has not been run on Citus.
constexpr const char* kSchemaV1[] = {
    "CREATE SEQUENCE kabar_articles_seq AS bigint",
    R"sql(CREATE TABLE kabar_articles (
  id text NOT NULL,
  seq bigint NOT NULL DEFAULT nextval('kabar_articles_seq'),
  source text NOT NULL,
  language text NOT NULL,
  language_confidence double precision NOT NULL,
  topic text NOT NULL,
  topic_confidence double precision NOT NULL,
  published_at bigint,
  ingested_at bigint NOT NULL,
  search tsvector NOT NULL,
  data bytea NOT NULL,
  PRIMARY KEY (id)
))sql",
    "ALTER SEQUENCE kabar_articles_seq OWNED BY kabar_articles.seq",
    // Equality filters are answered in result order (ingested_at DESC,
    // seq DESC) by a backward index scan; range filters use their own index
    // and sort the matches.
    "CREATE INDEX kabar_articles_by_ingested_at "
    "ON kabar_articles (ingested_at, seq)",
    "CREATE INDEX kabar_articles_by_language "
    "ON kabar_articles (language, ingested_at, seq)",
    "CREATE INDEX kabar_articles_by_topic "
    "ON kabar_articles (topic, ingested_at, seq)",
    "CREATE INDEX kabar_articles_by_source "
    "ON kabar_articles (source, ingested_at, seq)",
    "CREATE INDEX kabar_articles_by_published_at "
    "ON kabar_articles (published_at)",
    "CREATE INDEX kabar_articles_by_language_confidence "
    "ON kabar_articles (language_confidence)",
    "CREATE INDEX kabar_articles_by_topic_confidence "
    "ON kabar_articles (topic_confidence)",
    // Full-text search over title (weight A) and body (weight B), for search
    // later: WHERE search @@ plainto_tsquery('simple', 'banjir jakarta').
    "CREATE INDEX kabar_articles_search ON kabar_articles USING gin (search)",
};
// Version 2: WatchArticles reads by seq, and a first query page reads the
// newest seq.
constexpr const char* kSchemaV2[] = {
    "CREATE INDEX kabar_articles_by_seq ON kabar_articles (seq)",
};
const absl::Span<const char* const> kMigrations[] = {kSchemaV1, kSchemaV2};
static_assert(std::size(kMigrations) == PostgresArticleStore::kSchemaVersion,
              "one migration per schema version");

// Serializes schema changes among replicas starting at once. Advisory locks
// are per database; the key is "kabar" in ASCII.
constexpr int64_t kMigrationLockKey = 0x6b61626172;
// Serializes Put transactions among replicas, from before they draw
// sequence numbers until they commit, so sequences become visible in
// increasing order and a watch reading "seq > cursor" never skips a row
// committed late ("kabarput" in ASCII). Within one replica the batches are
// serialized anyway by SQLite-like semantics; across replicas it costs write
// parallelism, which the database's single index set bounds anyway.
constexpr int64_t kPutLockKey = 0x6b61626172707574;
// ts_headline options: the markers TextMatch promises, a passage of about
// a sentence.
constexpr char kHeadlineOptions[] =
    "StartSel=[, StopSel=], MaxWords=20, MinWords=8, ShortWord=0, "
    "MaxFragments=1, FragmentDelimiter=\" ... \"";

// Rows per INSERT statement: 12 parameters each, well below libpq's 65535.
constexpr size_t kRowsPerInsert = 500;
// Characters of title and body fed to to_tsvector (see Put in the header).
constexpr int kMaxIndexedTitleChars = 10000;
constexpr int kMaxIndexedBodyChars = 100000;

// Longest article id quoted in an error message.
constexpr size_t kMaxQuotedIdBytes = 128;

// Type OIDs of the parameters we bind (fixed in pg_type since forever).
constexpr Oid kByteaOid = 17;
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kFloat8Oid = 701;

constexpr int kBinary = 1;

struct ResultDeleter {
  void operator()(PGresult* result) const { PQclear(result); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

struct ConnDeleter {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnDeleter>;

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

// libpq messages span lines ("...failed: Connection refused\n\tIs the
// server running..."); ours are one line.
std::string OneLine(absl::string_view message) {
  std::string line = absl::StrReplaceAll(message, {{"\n", " "}, {"\t", ""}});
  return std::string(absl::StripAsciiWhitespace(line));
}

// Which StatusCode a SQLSTATE belongs to. Retryable conditions (the server
// going away, running out of room, losing a deadlock) are UNAVAILABLE: Put
// is idempotent, so callers may simply retry.
absl::StatusCode CodeForSqlState(absl::string_view state) {
  const absl::string_view category = state.substr(0, 2);
  if (category == "08" || category == "53" || category == "57" ||
      category == "58" || category == "40" || state == "25006") {
    // connection, resources, operator intervention, system error,
    // rollback (deadlock, serialization), read-only (a standby)
    return absl::StatusCode::kUnavailable;
  }
  if (category == "22" || category == "54") {
    // data exception, program limit exceeded
    return absl::StatusCode::kInvalidArgument;
  }
  if (state == "42501") return absl::StatusCode::kPermissionDenied;
  if (state == "XX001" || state == "XX002") return absl::StatusCode::kDataLoss;
  return absl::StatusCode::kInternal;
}

// The status for a failed command: `result` is what it returned, possibly
// nullptr (out of memory, or the connection is gone).
absl::Status CommandError(PGconn* conn, const PGresult* result,
                          absl::string_view what) {
  const char* state = result == nullptr
                          ? nullptr
                          : PQresultErrorField(result, PG_DIAG_SQLSTATE);
  if (state == nullptr) {
    // Failed in libpq, not on the server: usually the connection broke.
    return absl::Status(
        PQstatus(conn) == CONNECTION_OK ? absl::StatusCode::kInternal
                                        : absl::StatusCode::kUnavailable,
        absl::StrCat(what, ": ", OneLine(PQerrorMessage(conn))));
  }
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  return absl::Status(
      CodeForSqlState(state),
      absl::StrCat(
          what, ": ",
          OneLine(primary != nullptr ? primary : PQresultErrorMessage(result)),
          " (SQLSTATE ", state, ")"));
}

// `url` with any password replaced by "***", for messages.
std::string RedactPassword(const std::string& url) {
  std::string redacted = url;
  const size_t scheme = redacted.find("://");
  if (scheme != std::string::npos) {
    const size_t authority = scheme + 3;
    const size_t end = redacted.find_first_of("/?", authority);
    const size_t at = redacted.rfind(
        '@', end == std::string::npos ? std::string::npos : end - 1);
    if (at != std::string::npos && at >= authority) {
      const size_t colon = redacted.find(':', authority);
      if (colon != std::string::npos && colon < at) {
        redacted.replace(colon + 1, at - colon - 1, "***");
      }
    }
  }
  // password=... in a query string or a key=value conninfo string.
  for (size_t pos = redacted.find("password="); pos != std::string::npos;
       pos = redacted.find("password=", pos + 1)) {
    const size_t start = pos + std::strlen("password=");
    const size_t end = redacted.find_first_of("& ", start);
    redacted.replace(start,
                     (end == std::string::npos ? redacted.size() : end) - start,
                     "***");
  }
  return redacted;
}

// `database "kabar" on 127.0.0.1:5432 as user "kabar"`, from what libpq
// resolved for `conn` (connected or not). Never includes the password.
std::string Describe(PGconn* conn) {
  auto or_default = [](const char* value) -> std::string {
    return value == nullptr || *value == '\0' ? "(default)" : value;
  };
  const std::string host = or_default(PQhost(conn));
  const std::string port = or_default(PQport(conn));
  return absl::StrCat("database \"", or_default(PQdb(conn)), "\" on ",
                      absl::StartsWith(host, "/") ? "socket " : "", host, ":",
                      port, " as user \"", or_default(PQuser(conn)), "\"");
}

// Query parameters, all sent in binary with explicit types, so text is taken
// byte for byte (no NUL-terminated C strings) and numbers need no
// formatting. Each Add returns the placeholder ("$3") to put in the SQL.
class Params {
 public:
  Params() = default;
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;

  // `text` is not copied: it must outlive the command.
  std::string TextRef(absl::string_view text) {
    return Add(kTextOid, text, false);
  }
  std::string Text(std::string text) {
    owned_.push_back(std::move(text));
    return Add(kTextOid, owned_.back(), false);
  }
  // `bytes` is not copied: it must outlive the command.
  std::string ByteaRef(absl::string_view bytes) {
    return Add(kByteaOid, bytes, false);
  }
  std::string Int8(int64_t value) {
    return Add(kInt8Oid, Own(static_cast<uint64_t>(value)), false);
  }
  std::string NullInt8() { return Add(kInt8Oid, {}, true); }
  std::string Float8(double value) {
    uint64_t bits;
    std::memcpy(&bits, &value, sizeof bits);
    return Add(kFloat8Oid, Own(bits), false);
  }

  int size() const { return static_cast<int>(types_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  // Big-endian, as the binary protocol wants; kept alive in owned_.
  absl::string_view Own(uint64_t bits) {
    std::string bytes(8, '\0');
    for (int i = 7; i >= 0; --i) {
      bytes[i] = static_cast<char>(bits & 0xff);
      bits >>= 8;
    }
    owned_.push_back(std::move(bytes));
    return owned_.back();
  }

  std::string Add(Oid type, absl::string_view value, bool null) {
    types_.push_back(type);
    // A non-null empty value still needs a non-null pointer.
    values_.push_back(null ? nullptr : value.empty() ? "" : value.data());
    lengths_.push_back(static_cast<int>(value.size()));
    formats_.push_back(kBinary);
    return absl::StrCat("$", types_.size());
  }

  // A deque, so pointers into earlier strings survive later additions.
  std::deque<std::string> owned_;
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// Readers for binary result columns. REQUIRES: the value is not NULL and of
// the named type.
int64_t ReadInt8(const PGresult* result, int row, int column) {
  const auto* bytes =
      reinterpret_cast<const unsigned char*>(PQgetvalue(result, row, column));
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value = (value << 8) | bytes[i];
  return static_cast<int64_t>(value);
}
double ReadFloat8(const PGresult* result, int row, int column) {
  const int64_t bits = ReadInt8(result, row, column);
  double value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}
absl::string_view ReadBytes(const PGresult* result, int row, int column) {
  return absl::string_view(PQgetvalue(result, row, column),
                           PQgetlength(result, row, column));
}

// Text for to_tsvector: NUL cannot be sent as text, and is a separator
// anyway. Other text columns cannot hold NUL (ValidateArticle).
absl::string_view SearchableText(const std::string& text,
                                 std::string* scratch) {
  if (text.find('\0') == std::string::npos) return text;
  *scratch = text;
  std::replace(scratch->begin(), scratch->end(), '\0', ' ');
  return *scratch;
}

// The tsquery for ParseTextQuery's terms: each word or phrase through
// phraseto_tsquery, so nothing the user typed is tsquery syntax, all ANDed.
std::string TsQuerySql(const std::vector<std::string>& terms, Params& params) {
  std::vector<std::string> parts;
  for (const std::string& term : terms) {
    parts.push_back(
        absl::StrCat("phraseto_tsquery('simple', ", params.Text(term), ")"));
  }
  return absl::StrCat("(", absl::StrJoin(parts, " && "), ")");
}

// The WHERE conditions for `filter`, its values added to `params`. Values
// are always bound, never spliced into SQL. With filter.text, the tsquery
// expression is also stored in `*tsquery` (when not null), for ranking.
// REQUIRES: ValidateFilter(filter).ok().
std::vector<std::string> FilterConditions(const v1::ArticleFilter& filter,
                                          Params& params,
                                          std::string* tsquery = nullptr) {
  std::vector<std::string> conditions;
  if (!filter.text().empty()) {
    const std::string query =
        TsQuerySql(*ParseTextQuery(filter.text()), params);
    conditions.push_back(absl::StrCat("search @@ ", query));
    if (tsquery != nullptr) *tsquery = query;
  }
  if (!filter.language().empty()) {
    conditions.push_back(
        absl::StrCat("language = ", params.TextRef(filter.language())));
  }
  if (!filter.topic().empty()) {
    conditions.push_back(
        absl::StrCat("topic = ", params.TextRef(filter.topic())));
  }
  if (!filter.source().empty()) {
    conditions.push_back(
        absl::StrCat("source = ", params.TextRef(filter.source())));
  }
  // A NULL published_at (unknown) matches no published range.
  if (filter.has_published_after()) {
    conditions.push_back(
        absl::StrCat("published_at >= ",
                     params.Int8(ToUnixMicros(filter.published_after()))));
  }
  if (filter.has_published_before()) {
    conditions.push_back(
        absl::StrCat("published_at < ",
                     params.Int8(ToUnixMicros(filter.published_before()))));
  }
  if (filter.has_ingested_after()) {
    conditions.push_back(absl::StrCat(
        "ingested_at >= ", params.Int8(ToUnixMicros(filter.ingested_after()))));
  }
  if (filter.has_ingested_before()) {
    conditions.push_back(absl::StrCat(
        "ingested_at < ", params.Int8(ToUnixMicros(filter.ingested_before()))));
  }
  // Both sides are the same float widened to double, so >= is exact.
  if (filter.min_language_confidence() > 0) {
    conditions.push_back(absl::StrCat(
        "language_confidence >= ",
        params.Float8(static_cast<double>(filter.min_language_confidence()))));
  }
  if (filter.min_topic_confidence() > 0) {
    conditions.push_back(absl::StrCat(
        "topic_confidence >= ",
        params.Float8(static_cast<double>(filter.min_topic_confidence()))));
  }
  return conditions;
}

std::string WhereSql(const std::vector<std::string>& conditions) {
  if (conditions.empty()) return "";
  return absl::StrCat(" WHERE ", absl::StrJoin(conditions, " AND "));
}

}  // namespace

// One PGconn. Not thread-safe: used by one call at a time (while leased).
class PostgresArticleStore::Connection {
 public:
  // Connects to `url`. Errors: UNAVAILABLE naming the database and host.
  static absl::StatusOr<std::unique_ptr<Connection>> Open(
      const std::string& url, absl::Duration connect_timeout) {
    const std::string timeout = absl::StrCat(
        std::max<int64_t>(2, absl::ToInt64Seconds(connect_timeout)));
    // Later keywords override earlier ones: the URL may set its own
    // connect_timeout, but the encoding is always UTF8 (what protobuf
    // strings are).
    const char* const keywords[] = {"connect_timeout", "dbname",
                                    "client_encoding",
                                    "fallback_application_name", nullptr};
    const char* const values[] = {timeout.c_str(), url.c_str(), "UTF8",
                                  "kabar-store", nullptr};
    ConnPtr conn(PQconnectdbParams(keywords, values, /*expand_dbname=*/1));
    if (conn == nullptr) {
      return absl::ResourceExhaustedError(
          "out of memory creating a PostgreSQL connection");
    }
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to PostgreSQL ", Describe(conn.get()),
                       ": ", OneLine(PQerrorMessage(conn.get()))));
    }
    // Notices ("relation already exists, skipping", "word is too long to be
    // indexed") would otherwise go to stderr unformatted.
    PQsetNoticeProcessor(
        conn.get(), [](void*, const char*) {}, nullptr);
    return std::unique_ptr<Connection>(new Connection(std::move(conn)));
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  PGconn* get() const { return conn_.get(); }

  // Whether the connection is still usable.
  bool healthy() const { return PQstatus(conn_.get()) == CONNECTION_OK; }

  // Commands that succeeded since StartLease.
  int succeeded() const { return succeeded_; }
  // Begins one caller's use; returns whether earlier ones ran a command.
  bool StartLease() {
    const bool used = ever_succeeded_;
    succeeded_ = 0;
    return used;
  }

  // Runs one statement with `params`; results come back in binary.
  // `what` describes it for error messages.
  absl::StatusOr<Result> Exec(absl::string_view what, const std::string& sql,
                              const Params& params) {
    Result result(PQexecParams(conn_.get(), sql.c_str(), params.size(),
                               params.types(), params.values(),
                               params.lengths(), params.formats(), kBinary));
    const ExecStatusType status =
        result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result.get());
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      return CommandError(conn_.get(), result.get(), what);
    }
    ++succeeded_;
    ever_succeeded_ = true;
    return result;
  }

  absl::StatusOr<Result> Exec(absl::string_view what, const std::string& sql) {
    return Exec(what, sql, Params());
  }

 private:
  explicit Connection(ConnPtr conn) : conn_(std::move(conn)) {}

  const ConnPtr conn_;
  int succeeded_ = 0;
  bool ever_succeeded_ = false;
};

// A leased connection; hands it back to the pool when the scope ends.
class PostgresArticleStore::Lease {
 public:
  Lease(PostgresArticleStore* store, std::unique_ptr<Connection> connection)
      : store_(store), connection_(std::move(connection)) {}
  ~Lease() {
    if (connection_ != nullptr) store_->Release(std::move(connection_));
  }
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;

  Connection& operator*() const { return *connection_; }
  Connection* operator->() const { return connection_.get(); }

 private:
  PostgresArticleStore* const store_;
  std::unique_ptr<Connection> connection_;
};

absl::StatusOr<std::unique_ptr<PostgresArticleStore>>
PostgresArticleStore::Create(const Options& options) {
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PostgreSQL pool_size must be at least 1, got ", options.pool_size));
  }
  // Check the URL first: a malformed one would otherwise surface as a
  // connection failure. libpq's message may quote part of the URL, so it is
  // shown only when the URL holds no password.
  char* parse_error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(options.url.c_str(), &parse_error);
  if (parsed == nullptr) {
    const std::string redacted = RedactPassword(options.url);
    std::string reason = parse_error != nullptr
                             ? OneLine(parse_error)
                             : std::string("out of memory parsing it");
    PQfreemem(parse_error);
    if (redacted != options.url) reason = "check its syntax";
    return absl::InvalidArgumentError(
        absl::StrCat("malformed PostgreSQL URL ", redacted, ": ", reason));
  }
  PQconninfoFree(parsed);

  KABAR_ASSIGN_OR_RETURN(
      std::unique_ptr<Connection> connection,
      Connection::Open(options.url, options.connect_timeout));
  const std::string description = Describe(connection->get());

  auto set_up = [&]() -> absl::Status {
    // Text is sent and stored as UTF-8 bytes; another server encoding would
    // convert or reject them.
    KABAR_ASSIGN_OR_RETURN(
        Result encoding,
        connection->Exec("cannot read the server encoding",
                         "SELECT current_setting('server_encoding')"));
    const absl::string_view server_encoding = ReadBytes(encoding.get(), 0, 0);
    if (server_encoding != "UTF8") {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database encoding is ", server_encoding,
          ", kabar needs UTF8 (CREATE DATABASE ... ENCODING 'UTF8' "
          "TEMPLATE template0)"));
    }

    KABAR_RETURN_IF_ERROR(
        connection->Exec("cannot start the migration", "BEGIN").status());
    auto migrate = [&]() -> absl::Status {
      // Held until COMMIT: a replica starting meanwhile waits here, then
      // finds the schema current.
      Params lock;
      const std::string key = lock.Int8(kMigrationLockKey);
      KABAR_RETURN_IF_ERROR(
          connection
              ->Exec("cannot take the migration lock",
                     absl::StrCat("SELECT pg_advisory_xact_lock(", key, ")"),
                     lock)
              .status());
      KABAR_RETURN_IF_ERROR(
          connection
              ->Exec("cannot create kabar_schema_migrations",
                     "CREATE TABLE IF NOT EXISTS kabar_schema_migrations ("
                     "version integer PRIMARY KEY, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
              .status());
      KABAR_ASSIGN_OR_RETURN(
          Result current,
          connection->Exec("cannot read the schema version",
                           "SELECT COALESCE(MAX(version), 0)::int8 "
                           "FROM kabar_schema_migrations"));
      const int64_t version = ReadInt8(current.get(), 0, 0);
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat(
            "schema version ", version, " is newer than the ", kSchemaVersion,
            " this kabar-store understands; upgrade kabar-store"));
      }
      for (int64_t step = version; step < kSchemaVersion; ++step) {
        for (const char* statement : kMigrations[step]) {
          KABAR_RETURN_IF_ERROR(
              connection
                  ->Exec(absl::StrCat("schema migration to version ", step + 1,
                                      " failed"),
                         statement)
                  .status());
        }
        Params applied;
        const std::string placeholder = applied.Int8(step + 1);
        KABAR_RETURN_IF_ERROR(
            connection
                ->Exec("cannot record the schema version",
                       absl::StrCat("INSERT INTO kabar_schema_migrations "
                                    "(version) VALUES (",
                                    placeholder, "::integer)"),
                       applied)
                .status());
      }
      KABAR_RETURN_IF_ERROR(
          connection->Exec("cannot commit the migration", "COMMIT").status());
      if (version != kSchemaVersion) {
        common::LogInfo(absl::StrCat(
            "PostgreSQL ", description,
            version == 0 ? ": created schema version "
                         : absl::StrCat(": migrated schema from version ",
                                        version, " to "),
            kSchemaVersion));
      }
      return absl::OkStatus();
    };
    absl::Status migrated = migrate();
    if (!migrated.ok() && connection->healthy() &&
        PQtransactionStatus(connection->get()) != PQTRANS_IDLE) {
      connection->Exec("rollback", "ROLLBACK").status().IgnoreError();
    }
    return migrated;
  };
  KABAR_RETURN_IF_ERROR(
      Prefixed(set_up(), absl::StrCat("PostgreSQL ", description, ": ")));
  return std::unique_ptr<PostgresArticleStore>(
      new PostgresArticleStore(options, description, std::move(connection)));
}

PostgresArticleStore::PostgresArticleStore(Options options,
                                           std::string description,
                                           std::unique_ptr<Connection> first)
    : options_(std::move(options)), description_(std::move(description)) {
  absl::MutexLock lock(&mu_);
  open_ = 1;
  idle_.push_back(std::move(first));
}

PostgresArticleStore::~PostgresArticleStore() {
  absl::MutexLock lock(&mu_);
  idle_.clear();
}

absl::StatusOr<std::unique_ptr<PostgresArticleStore::Connection>>
PostgresArticleStore::Acquire(bool fresh) {
  {
    absl::MutexLock lock(&mu_);
    if (fresh) {
      open_ -= static_cast<int>(idle_.size());
      idle_.clear();
    }
    auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !idle_.empty() || open_ < options_.pool_size;
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&available),
                              options_.acquire_timeout)) {
      return absl::UnavailableError(absl::StrCat(
          "all ", options_.pool_size, " connections to PostgreSQL ",
          description_, " stayed busy for ",
          absl::FormatDuration(options_.acquire_timeout)));
    }
    if (!idle_.empty()) {
      std::unique_ptr<Connection> connection = std::move(idle_.back());
      idle_.pop_back();
      return connection;
    }
    ++open_;  // reserved while connecting, without holding the lock
  }
  absl::StatusOr<std::unique_ptr<Connection>> connection =
      Connection::Open(options_.url, options_.connect_timeout);
  if (!connection.ok()) {
    absl::MutexLock lock(&mu_);
    --open_;
  }
  return connection;
}

void PostgresArticleStore::Release(std::unique_ptr<Connection> connection) {
  // A call that failed half-way may leave its transaction open.
  if (connection->healthy() &&
      PQtransactionStatus(connection->get()) != PQTRANS_IDLE) {
    connection->Exec("rollback", "ROLLBACK").status().IgnoreError();
  }
  const bool keep = connection->healthy() &&
                    PQtransactionStatus(connection->get()) == PQTRANS_IDLE;
  if (!keep) connection.reset();  // closes it outside the lock
  absl::MutexLock lock(&mu_);
  if (keep) {
    idle_.push_back(std::move(connection));
  } else {
    --open_;
  }
}

template <typename T, typename Work>
absl::StatusOr<T> PostgresArticleStore::WithConnection(Work work) {
  bool fresh = false;
  while (true) {
    KABAR_ASSIGN_OR_RETURN(std::unique_ptr<Connection> connection,
                           Acquire(fresh));
    // A connection opened just now has nothing stale about it.
    const bool reused = connection->StartLease();
    Lease lease(this, std::move(connection));
    absl::StatusOr<T> result = work(*lease);
    if (result.ok() || fresh || !reused || lease->healthy() ||
        lease->succeeded() > 0) {
      return result;
    }
    common::LogWarning(absl::StrCat(
        "PostgreSQL ", description_, ": pooled connection was dead (",
        result.status().message(), "); reconnecting"));
    fresh = true;
  }
}

absl::Status PostgresArticleStore::CheckHealth() {
  return WithConnection<bool>([](Connection& connection) -> absl::StatusOr<bool> {
           KABAR_RETURN_IF_ERROR(
               connection.Exec("health check failed", "SELECT 1").status());
           return true;
         })
      .status();
}

absl::StatusOr<std::vector<v1::PutOutcome>> PostgresArticleStore::Put(
    const std::vector<v1::StoredArticle>& articles) {
  for (size_t i = 0; i < articles.size(); ++i) {
    const absl::Status valid = ValidateArticle(articles[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "article ", i, " (id ", QuoteId(articles[i].article().id()),
          "): ", valid.message(), "; nothing was stored"));
    }
  }
  // Later copies of an id in the batch are ALREADY_EXISTS without reaching
  // the database, so the first copy wins whatever order the server inserts
  // rows in.
  std::unordered_map<std::string, size_t> first_copy;  // id -> index
  std::vector<size_t> firsts;
  for (size_t i = 0; i < articles.size(); ++i) {
    if (first_copy.emplace(articles[i].article().id(), i).second) {
      firsts.push_back(i);
    }
  }
  if (firsts.empty()) return std::vector<v1::PutOutcome>();

  // Set when COMMIT failed with the connection: then the server may or may
  // not have committed.
  bool outcome_unknown = false;
  auto put = [&](Connection& connection)
      -> absl::StatusOr<std::vector<v1::PutOutcome>> {
    std::vector<v1::PutOutcome> outcomes(articles.size(),
                                         v1::PUT_OUTCOME_ALREADY_EXISTS);
    KABAR_RETURN_IF_ERROR(
        connection.Exec("cannot begin a transaction", "BEGIN").status());
    Params lock;
    const std::string key = lock.Int8(kPutLockKey);
    KABAR_RETURN_IF_ERROR(
        connection
            .Exec("cannot take the write lock",
                  absl::StrCat("SELECT pg_advisory_xact_lock(", key, ")"), lock)
            .status());
    // The time stamp for articles without one, from the server's clock, and
    // one sequence number per new article, handed out in batch order so the
    // later article of a batch is the newer, as in SQLite.
    Params reserve;
    const std::string count = reserve.Int8(static_cast<int64_t>(firsts.size()));
    KABAR_ASSIGN_OR_RETURN(
        Result reserved,
        connection.Exec(
            "cannot reserve sequence numbers",
            absl::StrCat("SELECT (EXTRACT(EPOCH FROM clock_timestamp()) * "
                         "1000000)::int8, nextval('kabar_articles_seq') "
                         "FROM generate_series(1, ",
                         count, ")"),
            reserve));
    if (PQntuples(reserved.get()) != static_cast<int>(firsts.size())) {
      return absl::InternalError("sequence reservation returned too few rows");
    }
    const int64_t now_micros = ReadInt8(reserved.get(), 0, 0);
    std::vector<int64_t> seqs(firsts.size());
    for (size_t i = 0; i < seqs.size(); ++i) {
      seqs[i] = ReadInt8(reserved.get(), static_cast<int>(i), 1);
    }
    std::sort(seqs.begin(), seqs.end());

    std::vector<std::string> blobs(firsts.size());
    for (size_t k = 0; k < firsts.size(); ++k) {
      const v1::StoredArticle& stored = articles[firsts[k]];
      if (stored.has_ingested_at()) {
        stored.SerializeToString(&blobs[k]);
      } else {
        v1::StoredArticle stamped = stored;
        stamped.mutable_ingested_at()->set_seconds(now_micros / 1000000);
        stamped.mutable_ingested_at()->set_nanos(
            static_cast<int32_t>(now_micros % 1000000) * 1000);
        stamped.SerializeToString(&blobs[k]);
      }
    }

    // Rows go in id order: concurrent batches sharing ids then lock them in
    // the same order and cannot deadlock.
    std::vector<size_t> order(firsts.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return articles[firsts[a]].article().id() <
             articles[firsts[b]].article().id();
    });

    for (size_t begin = 0; begin < order.size(); begin += kRowsPerInsert) {
      const size_t end = std::min(order.size(), begin + kRowsPerInsert);
      Params params;
      std::deque<std::string> scratch;  // NUL-free copies of title/body
      std::vector<std::string> rows;
      for (size_t r = begin; r < end; ++r) {
        const size_t k = order[r];
        const v1::StoredArticle& stored = articles[firsts[k]];
        const v1::Article& article = stored.article();
        const v1::Labels& labels = stored.labels();
        const bool has_topic = labels.topics_size() > 0;
        scratch.emplace_back();
        const absl::string_view title =
            SearchableText(article.title(), &scratch.back());
        scratch.emplace_back();
        const absl::string_view body =
            SearchableText(article.body(), &scratch.back());
        rows.push_back(absl::StrCat(
            "(", params.TextRef(article.id()), ", ", params.Int8(seqs[k]), ", ",
            params.TextRef(article.source()), ", ",
            params.TextRef(labels.language().code()), ", ",
            params.Float8(labels.language().confidence()), ", ",
            params.TextRef(has_topic ? labels.topics(0).label()
                                     : absl::string_view()),
            ", ",
            params.Float8(has_topic ? labels.topics(0).confidence() : 0.0),
            ", ",
            article.has_published_at()
                ? params.Int8(ToUnixMicros(article.published_at()))
                : params.NullInt8(),
            ", ",
            params.Int8(stored.has_ingested_at()
                            ? ToUnixMicros(stored.ingested_at())
                            : now_micros),
            ", setweight(to_tsvector('simple', left(", params.TextRef(title),
            ", ", kMaxIndexedTitleChars,
            ")), 'A') || setweight(to_tsvector('simple', left(",
            params.TextRef(body), ", ", kMaxIndexedBodyChars, ")), 'B'), ",
            params.ByteaRef(blobs[k]), ")"));
      }
      KABAR_ASSIGN_OR_RETURN(
          Result inserted,
          connection.Exec(
              "cannot store articles",
              absl::StrCat("INSERT INTO kabar_articles (id, seq, source, "
                           "language, language_confidence, topic, "
                           "topic_confidence, published_at, ingested_at, "
                           "search, data) VALUES ",
                           absl::StrJoin(rows, ", "),
                           " ON CONFLICT (id) DO NOTHING RETURNING id"),
              params));
      for (int row = 0; row < PQntuples(inserted.get()); ++row) {
        const auto it =
            first_copy.find(std::string(ReadBytes(inserted.get(), row, 0)));
        if (it == first_copy.end()) {
          return absl::InternalError("INSERT returned an id it was not given");
        }
        outcomes[it->second] = v1::PUT_OUTCOME_INSERTED;
      }
    }

    const Result commit(PQexecParams(connection.get(), "COMMIT", 0, nullptr,
                                     nullptr, nullptr, nullptr, kBinary));
    if (commit == nullptr || PQresultStatus(commit.get()) != PGRES_COMMAND_OK) {
      const absl::Status error =
          CommandError(connection.get(), commit.get(), "COMMIT failed");
      if (!connection.healthy()) {
        outcome_unknown = true;
        return absl::UnavailableError(absl::StrCat(
            error.message(),
            "; the batch may or may not be stored (retrying it is safe)"));
      }
      return error;
    }
    return outcomes;
  };
  absl::StatusOr<std::vector<v1::PutOutcome>> result =
      WithConnection<std::vector<v1::PutOutcome>>(put);
  if (!result.ok() && !outcome_unknown) {
    return Prefixed(result.status(), "nothing was stored: ");
  }
  return result;
}

absl::StatusOr<std::vector<v1::UpdateOutcome>>
PostgresArticleStore::UpdateLabels(
    const std::vector<v1::LabelUpdate>& updates) {
  for (size_t i = 0; i < updates.size(); ++i) {
    const absl::Status valid = ValidateLabelUpdate(updates[i]);
    if (!valid.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("update ", i, " (id ", QuoteId(updates[i].id()),
                       "): ", valid.message(), "; nothing was updated"));
    }
  }
  if (updates.empty()) return std::vector<v1::UpdateOutcome>();
  // Byte order, the order the rows are locked in (COLLATE "C" below).
  std::set<std::string> ids;
  for (const v1::LabelUpdate& update : updates) ids.insert(update.id());
  const std::vector<std::string> sorted_ids(ids.begin(), ids.end());

  // Set when COMMIT failed with the connection: then the server may or may
  // not have committed.
  bool outcome_unknown = false;
  auto update_all = [&](Connection& connection)
      -> absl::StatusOr<std::vector<v1::UpdateOutcome>> {
    KABAR_RETURN_IF_ERROR(
        connection.Exec("cannot begin a transaction", "BEGIN").status());
    std::map<std::string, v1::StoredArticle> articles;
    for (size_t begin = 0; begin < sorted_ids.size(); begin += kRowsPerInsert) {
      const size_t end = std::min(sorted_ids.size(), begin + kRowsPerInsert);
      Params params;
      std::vector<std::string> placeholders;
      for (size_t k = begin; k < end; ++k) {
        placeholders.push_back(params.TextRef(sorted_ids[k]));
      }
      // FOR UPDATE holds the rows until COMMIT, and a concurrent updater
      // waiting for them then reads the version this transaction wrote.
      KABAR_ASSIGN_OR_RETURN(
          Result rows,
          connection.Exec(
              "cannot read articles to update",
              absl::StrCat("SELECT id, data FROM kabar_articles WHERE id IN (",
                           absl::StrJoin(placeholders, ", "),
                           ") ORDER BY id COLLATE \"C\" FOR UPDATE"),
              params));
      for (int row = 0; row < PQntuples(rows.get()); ++row) {
        const std::string id(ReadBytes(rows.get(), row, 0));
        const absl::string_view data = ReadBytes(rows.get(), row, 1);
        if (!articles[id].ParseFromArray(data.data(),
                                         static_cast<int>(data.size()))) {
          return absl::DataLossError(
              absl::StrCat("stored article ", QuoteId(id), " does not parse"));
        }
      }
    }

    std::set<std::string> changed;
    std::vector<v1::UpdateOutcome> outcomes =
        ApplyLabelUpdates(updates, &articles, &changed);
    const std::vector<std::string> changed_ids(changed.begin(), changed.end());

    for (size_t begin = 0; begin < changed_ids.size();
         begin += kRowsPerInsert) {
      const size_t end = std::min(changed_ids.size(), begin + kRowsPerInsert);
      Params params;
      std::deque<std::string> blobs;  // stable addresses for ByteaRef
      std::vector<std::string> rows;
      for (size_t k = begin; k < end; ++k) {
        const v1::StoredArticle& stored = articles[changed_ids[k]];
        const v1::Labels& labels = stored.labels();
        const bool has_topic = labels.topics_size() > 0;
        blobs.emplace_back();
        stored.SerializeToString(&blobs.back());
        rows.push_back(absl::StrCat(
            "(", params.TextRef(changed_ids[k]), ", ",
            params.TextRef(labels.language().code()), ", ",
            params.Float8(labels.language().confidence()), ", ",
            params.TextRef(has_topic ? labels.topics(0).label()
                                     : absl::string_view()),
            ", ",
            params.Float8(has_topic ? labels.topics(0).confidence() : 0.0),
            ", ", params.ByteaRef(blobs.back()), ")"));
      }
      KABAR_ASSIGN_OR_RETURN(
          Result updated,
          connection.Exec(
              "cannot update articles",
              absl::StrCat(
                  "UPDATE kabar_articles AS a SET language = v.language, "
                  "language_confidence = v.language_confidence, "
                  "topic = v.topic, topic_confidence = v.topic_confidence, "
                  "data = v.data FROM (VALUES ",
                  absl::StrJoin(rows, ", "),
                  ") AS v (id, language, language_confidence, topic, "
                  "topic_confidence, data) WHERE a.id = v.id"),
              params));
      if (std::string(PQcmdTuples(updated.get())) !=
          absl::StrCat(rows.size())) {
        return absl::InternalError(absl::StrCat(
            "UPDATE changed ", PQcmdTuples(updated.get()), " rows, expected ",
            rows.size(), " (the rows were locked)"));
      }
    }

    const Result commit(PQexecParams(connection.get(), "COMMIT", 0, nullptr,
                                     nullptr, nullptr, nullptr, kBinary));
    if (commit == nullptr || PQresultStatus(commit.get()) != PGRES_COMMAND_OK) {
      const absl::Status error =
          CommandError(connection.get(), commit.get(), "COMMIT failed");
      if (!connection.healthy()) {
        outcome_unknown = true;
        return absl::UnavailableError(absl::StrCat(
            error.message(),
            "; the updates may or may not be applied (retrying them with "
            "their expected models is safe)"));
      }
      return error;
    }
    return outcomes;
  };
  absl::StatusOr<std::vector<v1::UpdateOutcome>> result =
      WithConnection<std::vector<v1::UpdateOutcome>>(update_all);
  if (!result.ok() && !outcome_unknown) {
    return Prefixed(result.status(), "nothing was updated: ");
  }
  return result;
}

absl::StatusOr<v1::StoredArticle> PostgresArticleStore::Get(
    const std::string& id) {
  if (id.empty()) return absl::InvalidArgumentError("article id is empty");
  if (id.find('\0') != std::string::npos || !common::ValidateUtf8(id).ok()) {
    // Put refuses such ids, and PostgreSQL cannot even compare them.
    return absl::NotFoundError(
        absl::StrCat("no article with id ", QuoteId(id)));
  }
  return WithConnection<v1::StoredArticle>(
      [&](Connection& connection) -> absl::StatusOr<v1::StoredArticle> {
        Params params;
        const std::string placeholder = params.TextRef(id);
        KABAR_ASSIGN_OR_RETURN(
            Result row,
            connection.Exec(absl::StrCat("cannot read article ", QuoteId(id)),
                            absl::StrCat("SELECT data FROM kabar_articles "
                                         "WHERE id = ",
                                         placeholder),
                            params));
        if (PQntuples(row.get()) == 0) {
          return absl::NotFoundError(
              absl::StrCat("no article with id ", QuoteId(id)));
        }
        const absl::string_view data = ReadBytes(row.get(), 0, 0);
        v1::StoredArticle article;
        if (!article.ParseFromArray(data.data(),
                                    static_cast<int>(data.size()))) {
          return absl::DataLossError(
              absl::StrCat("stored article ", QuoteId(id), " does not parse"));
        }
        return article;
      });
}

absl::StatusOr<v1::QueryArticlesResponse> PostgresArticleStore::Query(
    const v1::QueryArticlesRequest& request) {
  const v1::ArticleFilter& filter = request.filter();
  KABAR_RETURN_IF_ERROR(ValidateFilter(filter));
  KABAR_ASSIGN_OR_RETURN(const v1::QuerySort sort, ResolveSort(request));
  KABAR_ASSIGN_OR_RETURN(const int limit,
                         EffectivePageSize(request.page_size()));
  std::optional<PageCursor> cursor;
  if (!request.page_token().empty()) {
    KABAR_ASSIGN_OR_RETURN(cursor, DecodePageToken(request.page_token(), sort));
  }
  const bool has_text = !filter.text().empty();

  return WithConnection<v1::QueryArticlesResponse>(
      [&](Connection& connection) -> absl::StatusOr<v1::QueryArticlesResponse> {
        // One snapshot for the newest sequence, the page and its snippets.
        KABAR_RETURN_IF_ERROR(
            connection
                .Exec("cannot begin a transaction",
                      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .status());
        int64_t max_sequence = 0;
        if (cursor.has_value()) {
          max_sequence = cursor->max_sequence;
        } else {
          KABAR_ASSIGN_OR_RETURN(
              Result newest,
              connection.Exec("cannot read the newest sequence",
                              "SELECT COALESCE(MAX(seq), 0)::int8 "
                              "FROM kabar_articles"));
          max_sequence = ReadInt8(newest.get(), 0, 0);
        }
        Params params;
        std::string tsquery;
        std::vector<std::string> conditions =
            FilterConditions(filter, params, &tsquery);
        conditions.push_back(
            absl::StrCat("seq <= ", params.Int8(max_sequence)));
        const std::string relevance =
            has_text ? absl::StrCat("ts_rank(search, ", tsquery, ")::float8")
                     : std::string("0::float8");
        std::vector<std::string> after;  // conditions on the named columns
        if (cursor.has_value()) {
          const std::string seq = params.Int8(cursor->sequence);
          switch (sort) {
            case v1::QUERY_SORT_PUBLISHED:
              if (cursor->published_is_null) {
                after.push_back(
                    absl::StrCat("published_at IS NULL AND seq < ", seq));
              } else {
                const std::string key = params.Int8(cursor->ingested_at_micros);
                after.push_back(absl::StrCat(
                    "(published_at < ", key, " OR (published_at = ", key,
                    " AND seq < ", seq, ") OR published_at IS NULL)"));
              }
              break;
            case v1::QUERY_SORT_RELEVANCE: {
              const std::string key = params.Float8(cursor->relevance);
              after.push_back(absl::StrCat("(relevance < ", key,
                                           " OR (relevance = ", key,
                                           " AND seq < ", seq, "))"));
              break;
            }
            default:
              // A row comparison is one range of the (ingested_at, seq)
              // index.
              after.push_back(absl::StrCat(
                  "(ingested_at, seq) < (",
                  params.Int8(cursor->ingested_at_micros), ", ", seq, ")"));
          }
        }
        const char* order = " ORDER BY ingested_at DESC, seq DESC";
        if (sort == v1::QUERY_SORT_PUBLISHED) {
          order = " ORDER BY published_at DESC NULLS LAST, seq DESC";
        } else if (sort == v1::QUERY_SORT_RELEVANCE) {
          order = " ORDER BY relevance DESC, seq DESC";
        }
        // One row more than the page tells whether another page follows,
        // so the last page never comes with a token leading to an empty one.
        const std::string sql = absl::StrCat(
            "SELECT seq, ingested_at, published_at, relevance, data FROM "
            "(SELECT seq, ingested_at, published_at, ",
            relevance, " AS relevance, data FROM kabar_articles",
            WhereSql(conditions), ") AS hits", WhereSql(after), order,
            " LIMIT ", params.Int8(int64_t{limit} + 1));
        KABAR_ASSIGN_OR_RETURN(
            Result rows, connection.Exec("cannot query articles", sql, params));
        v1::QueryArticlesResponse response;
        PageCursor last;
        last.sort = sort;
        last.max_sequence = max_sequence;
        const int count = PQntuples(rows.get());
        for (int row = 0; row < count; ++row) {
          if (response.articles_size() == limit) {
            response.set_next_page_token(EncodePageToken(last));
            break;
          }
          last.sequence = ReadInt8(rows.get(), row, 0);
          last.ingested_at_micros = ReadInt8(rows.get(), row, 1);
          if (sort == v1::QUERY_SORT_PUBLISHED) {
            last.published_is_null = PQgetisnull(rows.get(), row, 2) != 0;
            last.ingested_at_micros =
                last.published_is_null ? 0 : ReadInt8(rows.get(), row, 2);
          }
          last.relevance = ReadFloat8(rows.get(), row, 3);
          const absl::string_view data = ReadBytes(rows.get(), row, 4);
          if (!response.add_articles()->ParseFromArray(
                  data.data(), static_cast<int>(data.size()))) {
            return absl::DataLossError(
                absl::StrCat("stored article at sequence ", last.sequence,
                             " does not parse"));
          }
          if (has_text) response.add_matches()->set_relevance(last.relevance);
        }

        if (has_text && response.articles_size() > 0) {
          // Headlines from the indexed part of title and body, in one
          // statement for the page.
          Params headline_params;
          const std::string query =
              TsQuerySql(*ParseTextQuery(filter.text()), headline_params);
          std::deque<std::string> texts;
          std::vector<std::string> values;
          for (int i = 0; i < response.articles_size(); ++i) {
            const v1::Article& article = response.articles(i).article();
            std::string scratch;
            texts.emplace_back(
                absl::StrCat(SearchableText(article.title(), &scratch), "\n"));
            absl::StrAppend(&texts.back(),
                            SearchableText(article.body(), &scratch));
            values.push_back(absl::StrCat("(", headline_params.Int8(i), ", ",
                                          headline_params.TextRef(texts.back()),
                                          ")"));
          }
          KABAR_ASSIGN_OR_RETURN(
              Result headlines,
              connection.Exec(
                  "cannot make snippets",
                  absl::StrCat("SELECT v.i, ts_headline('simple', left(v.t, ",
                               kMaxIndexedTitleChars + kMaxIndexedBodyChars,
                               "), ", query, ", ",
                               headline_params.Text(kHeadlineOptions),
                               ") FROM (VALUES ", absl::StrJoin(values, ", "),
                               ") AS v (i, t) ORDER BY v.i"),
                  headline_params));
          for (int row = 0; row < PQntuples(headlines.get()); ++row) {
            const int64_t i = ReadInt8(headlines.get(), row, 0);
            if (i < 0 || i >= response.matches_size()) continue;
            response.mutable_matches(static_cast<int>(i))
                ->set_snippet(TidySnippet(ReadBytes(headlines.get(), row, 1)));
          }
        }
        KABAR_RETURN_IF_ERROR(
            connection.Exec("cannot end the transaction", "COMMIT").status());
        return response;
      });
}

absl::StatusOr<v1::CountArticlesResponse> PostgresArticleStore::Count(
    const v1::CountArticlesRequest& request) {
  const v1::ArticleFilter& filter = request.filter();
  KABAR_RETURN_IF_ERROR(ValidateFilter(filter));
  const v1::CountDimension dimension = request.group_by();
  if (!v1::CountDimension_IsValid(dimension)) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown group_by ", static_cast<int>(dimension)));
  }
  Params params;
  const std::string where = WhereSql(FilterConditions(filter, params));

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
    // Days come back as int8, labels as text: both in column 0 or 1.
    const std::string sql = absl::StrCat(
        "SELECT ", by_day ? "(" + expression + ")::int8" : "0::int8", ", ",
        by_day ? "''::text" : expression,
        ", COUNT(*)::int8 FROM kabar_articles", where, " GROUP BY 1, 2");
    return WithConnection<v1::CountArticlesResponse>(
        [&](Connection& connection)
            -> absl::StatusOr<v1::CountArticlesResponse> {
          KABAR_ASSIGN_OR_RETURN(
              Result rows,
              connection.Exec("cannot count articles", sql, params));
          std::vector<std::pair<std::string, int64_t>> groups;
          for (int row = 0; row < PQntuples(rows.get()); ++row) {
            std::string label;
            if (by_day) {
              if (!PQgetisnull(rows.get(), row, 0)) {
                label = DayLabel(ReadInt8(rows.get(), row, 0));
              }
            } else {
              label = std::string(ReadBytes(rows.get(), row, 1));
            }
            groups.emplace_back(std::move(label), ReadInt8(rows.get(), row, 2));
          }
          v1::CountArticlesResponse response;
          FillGroups(dimension, std::move(groups), &response,
                     response.mutable_groups());
          return response;
        });
  }

  // One statement, so both groupings describe the same snapshot; the total
  // is the sum over languages ("" included). Both halves use the same
  // parameters.
  const std::string sql = absl::StrCat(
      "SELECT 0::int8, language, COUNT(*)::int8 FROM kabar_articles", where,
      " GROUP BY language UNION ALL "
      "SELECT 1::int8, topic, COUNT(*)::int8 FROM kabar_articles",
      where, " GROUP BY topic");

  return WithConnection<v1::CountArticlesResponse>(
      [&](Connection& connection) -> absl::StatusOr<v1::CountArticlesResponse> {
        KABAR_ASSIGN_OR_RETURN(
            Result rows, connection.Exec("cannot count articles", sql, params));
        std::vector<std::pair<std::string, int64_t>> by_language, by_topic;
        for (int row = 0; row < PQntuples(rows.get()); ++row) {
          const bool is_language = ReadInt8(rows.get(), row, 0) == 0;
          (is_language ? by_language : by_topic)
              .emplace_back(std::string(ReadBytes(rows.get(), row, 1)),
                            ReadInt8(rows.get(), row, 2));
        }
        v1::CountArticlesResponse response;
        FillGroups(v1::COUNT_DIMENSION_TOPIC, std::move(by_topic), &response,
                   response.mutable_by_topic());
        // Sets the total again, from the languages: the same number.
        FillGroups(v1::COUNT_DIMENSION_LANGUAGE, std::move(by_language),
                   &response, response.mutable_by_language());
        return response;
      });
}

absl::StatusOr<ArticlesAfter> PostgresArticleStore::ReadAfter(
    const v1::ArticleFilter& filter, int64_t after_sequence, int limit) {
  KABAR_RETURN_IF_ERROR(ValidateFilter(filter));
  if (!filter.text().empty()) {
    return absl::InvalidArgumentError("watching a text query is not supported");
  }
  if (limit < 0 || after_sequence < 0) {
    return absl::InvalidArgumentError("negative limit or sequence");
  }
  Params params;
  std::vector<std::string> conditions = FilterConditions(filter, params);
  conditions.insert(conditions.begin(),
                    absl::StrCat("seq > ", params.Int8(after_sequence)));
  const std::string sql =
      absl::StrCat("SELECT seq, data FROM kabar_articles", WhereSql(conditions),
                   " ORDER BY seq LIMIT ", params.Int8(limit));
  return WithConnection<ArticlesAfter>(
      [&](Connection& connection) -> absl::StatusOr<ArticlesAfter> {
        // Put commits in sequence order (kPutLockKey), so within one
        // snapshot every sequence up to the newest visible one is final.
        KABAR_RETURN_IF_ERROR(
            connection
                .Exec("cannot begin a transaction",
                      "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .status());
        KABAR_ASSIGN_OR_RETURN(
            Result newest, connection.Exec("cannot read the newest sequence",
                                           "SELECT COALESCE(MAX(seq), 0)::int8 "
                                           "FROM kabar_articles"));
        ArticlesAfter result;
        result.scanned_through =
            std::max(after_sequence, ReadInt8(newest.get(), 0, 0));
        KABAR_ASSIGN_OR_RETURN(
            Result rows, connection.Exec("cannot read articles", sql, params));
        for (int row = 0; row < PQntuples(rows.get()); ++row) {
          const int64_t seq = ReadInt8(rows.get(), row, 0);
          const absl::string_view data = ReadBytes(rows.get(), row, 1);
          result.articles.emplace_back(seq, v1::StoredArticle());
          if (!result.articles.back().second.ParseFromArray(
                  data.data(), static_cast<int>(data.size()))) {
            return absl::DataLossError(absl::StrCat(
                "stored article at sequence ", seq, " does not parse"));
          }
        }
        KABAR_RETURN_IF_ERROR(
            connection.Exec("cannot end the transaction", "COMMIT").status());
        if (limit > 0 && static_cast<int>(result.articles.size()) == limit) {
          result.scanned_through = result.articles.back().first;
        }
        return result;
      });
}

}  // namespace kabar::store
