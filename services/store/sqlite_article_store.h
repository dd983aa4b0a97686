// Copyright kabar authors.
// SqliteArticleStore: the embedded default ArticleStore, one SQLite file in
// WAL mode. Each article is one row: a few columns that filters and ordering
// need, plus the whole StoredArticle as a serialized protobuf, so reads are
// lossless whatever fields the API grows. Title and body are also kept in an
// FTS5 table (unicode61 tokenizer, diacritics removed) for full-text search
// ranked by bm25, with snippets. Files of schema version 1 (a contentless
// FTS5 table, which cannot quote text) are migrated on open: the index is
// rebuilt from the stored articles, once.
//
// Concurrency: SQLite allows one writer at a time, so all writes go through a
// single mutex-guarded connection. Reads use a small pool of read-only
// connections and, thanks to WAL, run in parallel with each other and with
// the writer, each seeing the last committed state.
#ifndef KABAR_SERVICES_STORE_SQLITE_ARTICLE_STORE_H_
#define KABAR_SERVICES_STORE_SQLITE_ARTICLE_STORE_H_

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

// Thread-safe. Owns its connections; closing (destroying) the store while
// another thread is inside one of its methods is not allowed.
class SqliteArticleStore final : public ArticleStore {
 public:
  // The schema version this code writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 2;

  struct Options {
    // Database file; created, with its schema, when missing. Its directory
    // must exist.
    std::string path;
    // How long a statement waits for a lock held by another process (another
    // kabar-store, or the sqlite3 shell) before failing with UNAVAILABLE.
    absl::Duration busy_timeout = absl::Seconds(5);
    // Read connections kept open between reads. More concurrent readers
    // than this still work; the extra connections are closed afterwards.
    int max_idle_readers = 4;
  };

  // Opens or creates the database and brings its schema to kSchemaVersion.
  // Errors name the path: UNAVAILABLE when it cannot be opened or created,
  // DATA_LOSS when it is not a SQLite database, FAILED_PRECONDITION when it
  // was written by a newer kabar (schema version above kSchemaVersion).
  static absl::StatusOr<std::unique_ptr<SqliteArticleStore>> Create(
      const Options& options);

  ~SqliteArticleStore() override;
  SqliteArticleStore(const SqliteArticleStore&) = delete;
  SqliteArticleStore& operator=(const SqliteArticleStore&) = delete;

  absl::StatusOr<std::vector<v1::PutOutcome>> Put(
      const std::vector<v1::StoredArticle>& articles) override;
  absl::StatusOr<v1::StoredArticle> Get(const std::string& id) override;
  using ArticleStore::Count;
  using ArticleStore::Query;
  absl::StatusOr<v1::QueryArticlesResponse> Query(
      const v1::QueryArticlesRequest& request) override;
  absl::StatusOr<v1::CountArticlesResponse> Count(
      const v1::CountArticlesRequest& request) override;
  absl::StatusOr<ArticlesAfter> ReadAfter(const v1::ArticleFilter& filter,
                                          int64_t after_sequence,
                                          int limit) override;
  absl::StatusOr<std::vector<v1::UpdateOutcome>> UpdateLabels(
      const std::vector<v1::LabelUpdate>& updates) override;

 private:
  class Connection;   // one sqlite3 handle and its cached statements
  class ReaderLease;  // borrows a read connection, returns it when done

  SqliteArticleStore(Options options, std::unique_ptr<Connection> writer);

  // Schema version 2: indexes the title and body of every stored article
  // in the (new, empty) articles_fts. Runs inside the migration transaction.
  static absl::Status FillFullTextIndex(Connection& writer);

  // A read connection from the pool, or a new one.
  absl::StatusOr<std::unique_ptr<Connection>> TakeReader();
  void ReturnReader(std::unique_ptr<Connection> reader);

  const Options options_;

  absl::Mutex writer_mu_;
  const std::unique_ptr<Connection> writer_ ABSL_PT_GUARDED_BY(writer_mu_);

  absl::Mutex readers_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_
      ABSL_GUARDED_BY(readers_mu_);
};

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_SQLITE_ARTICLE_STORE_H_
