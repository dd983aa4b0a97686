// Copyright kabar authors.
// PostgresArticleStore: the ArticleStore for deployments that outgrow one
// SQLite file. Several kabar-store replicas may share one PostgreSQL
// database: ids are unique by primary key, inserts are ON CONFLICT DO
// NOTHING, and the schema is migrated under an advisory lock so replicas
// starting together do not race. Like SqliteArticleStore, each article is one
// row of filter/order columns plus the whole StoredArticle as serialized
// protobuf (bytea), and title and body are indexed for full-text search
// (a tsvector column with a GIN index, 'simple' configuration, since articles
// come in many languages: no stemming, no stop words; ranked by ts_rank,
// snippets by ts_headline). Page tokens are the shared PageCursor tokens over
// (ingested_at, seq), so both backends page identically.
//
// Talks to the server through libpq, with parameterized statements only
// (values are always bound, in binary, never spliced into SQL).
#ifndef KABAR_SERVICES_STORE_POSTGRES_ARTICLE_STORE_H_
#define KABAR_SERVICES_STORE_POSTGRES_ARTICLE_STORE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/store/article_store.h"

namespace kabar::store {

// Thread-safe: calls share a small pool of connections, each used by one call
// at a time. Destroying the store while another thread is inside one of its
// methods is not allowed.
class PostgresArticleStore final : public ArticleStore {
 public:
  // The schema version this code writes (kabar_schema_migrations).
  static constexpr int kSchemaVersion = 2;

  struct Options {
    // Where the database is: a libpq connection URI
    // (postgresql://user[:password]@host[:port]/dbname[?key=value&...]) or
    // a "key=value ..." conninfo string. libpq's environment variables
    // (PGPASSWORD, PGHOST, ...) and ~/.pgpass fill what it leaves out. The
    // user needs CREATE on the database's default schema the first time
    // (PostgreSQL 15 grants that on "public" to the database owner only).
    std::string url;
    // Connections open at most. A call needing one while all are busy waits
    // up to `acquire_timeout`. Each replica holds up to this many server
    // connections, so replicas * pool_size must stay below the server's
    // max_connections.
    int pool_size = 4;
    // How long opening a connection may take (libpq connect_timeout, whole
    // seconds, at least 2) unless the URL sets connect_timeout itself.
    absl::Duration connect_timeout = absl::Seconds(10);
    // How long a call waits for a free connection before UNAVAILABLE.
    absl::Duration acquire_timeout = absl::Seconds(30);
  };

  // Connects, checks the database is UTF8 and brings its schema to
  // kSchemaVersion (safe when several replicas start at once). Errors name
  // the database and host, never the password: INVALID_ARGUMENT for a
  // malformed URL or pool_size < 1; UNAVAILABLE when the server cannot be
  // reached or refuses the login; FAILED_PRECONDITION when the database is
  // not UTF8 or its schema is newer than kSchemaVersion; PERMISSION_DENIED
  // when the user may not create the schema.
  static absl::StatusOr<std::unique_ptr<PostgresArticleStore>> Create(
      const Options& options);

  ~PostgresArticleStore() override;
  PostgresArticleStore(const PostgresArticleStore&) = delete;
  PostgresArticleStore& operator=(const PostgresArticleStore&) = delete;

  // As ArticleStore::Put. Articles without ingested_at get the database
  // server's clock, so replicas on different hosts stamp one timeline. Only
  // the first 100 000 characters of a body (10 000 of a title) are indexed
  // for search, which keeps any article under PostgreSQL's 1 MB tsvector
  // limit; the stored article is always complete. A failed COMMIT whose
  // outcome the connection loss hides is UNAVAILABLE saying so: the batch
  // may or may not be stored, and retrying it is safe.
  absl::StatusOr<std::vector<v1::PutOutcome>> Put(
      const std::vector<v1::StoredArticle>& articles) override;
  absl::StatusOr<v1::StoredArticle> Get(const std::string& id) override;
  using ArticleStore::Count;
  using ArticleStore::Query;
  // As ArticleStore::Query. Snippets come from ts_headline over the indexed
  // part of title and body; relevance is ts_rank.
  // SELECT 1 on a pooled connection.
  absl::Status CheckHealth() override;
  absl::StatusOr<v1::QueryArticlesResponse> Query(
      const v1::QueryArticlesRequest& request) override;
  absl::StatusOr<v1::CountArticlesResponse> Count(
      const v1::CountArticlesRequest& request) override;
  // As ArticleStore::ReadAfter. Puts from every replica commit in sequence
  // order (they hold a transaction-scoped advisory lock from drawing their
  // sequence numbers to COMMIT), so reading by seq misses nothing.
  absl::StatusOr<ArticlesAfter> ReadAfter(const v1::ArticleFilter& filter,
                                          int64_t after_sequence,
                                          int limit) override;
  // As ArticleStore::UpdateLabels. The rows are locked (SELECT ... FOR
  // UPDATE, in id order) before they are compared, so replicas updating the
  // same articles at once serialize and cannot deadlock, and the second sees
  // what the first wrote. A failed COMMIT whose outcome the connection loss
  // hides is UNAVAILABLE saying so; retrying is safe when the updates carry
  // an expected model (applied ones are then SKIPPED).
  absl::StatusOr<std::vector<v1::UpdateOutcome>> UpdateLabels(
      const std::vector<v1::LabelUpdate>& updates) override;

 private:
  class Connection;  // one PGconn
  class Lease;       // borrows a pooled connection, returns it when done

  PostgresArticleStore(Options options, std::string description,
                       std::unique_ptr<Connection> first);

  // A connection from the pool, or a new one when fewer than pool_size are
  // open; waits up to acquire_timeout for one to come back. `fresh` drops
  // the idle ones first (they are presumed dead) and always connects.
  absl::StatusOr<std::unique_ptr<Connection>> Acquire(bool fresh);
  // Keeps `connection` for reuse when it is healthy and outside a
  // transaction (rolling back one left open), else closes it.
  void Release(std::unique_ptr<Connection> connection);

  // Runs `work` on a pooled connection. When a reused connection turns out
  // to be dead before its first command succeeded (the server restarted, or
  // dropped it while idle) nothing can have happened, so `work` runs once
  // more on a new connection.
  template <typename T, typename Work>
  absl::StatusOr<T> WithConnection(Work work);

  const Options options_;
  // "database "x" on host:port as user "u"", for messages.
  const std::string description_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
  // Connections open: idle, leased, or being opened.
  int open_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_POSTGRES_ARTICLE_STORE_H_
