// Copyright kabar authors.
// PostgresTestDatabase: a fresh, empty PostgreSQL database for one test, on
// the server named by KABAR_TEST_POSTGRES_URL, dropped afterwards. Tests that
// need PostgreSQL skip (GTEST_SKIP() << SkipMessage()) when the variable is
// unset. scripts/postgres.sh starts a throwaway server and prints a URL for
// it.
#ifndef KABAR_SERVICES_STORE_TESTING_POSTGRES_TEST_DATABASE_H_
#define KABAR_SERVICES_STORE_TESTING_POSTGRES_TEST_DATABASE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kabar::store {

// Not thread-safe; owned by one test.
class PostgresTestDatabase {
 public:
  // Environment variable with the server URL, e.g.
  // postgresql://postgres@127.0.0.1:5432/postgres. Its user must be allowed
  // to CREATE DATABASE.
  static constexpr char kUrlVariable[] = "KABAR_TEST_POSTGRES_URL";

  // The server URL, or "" when kUrlVariable is unset.
  static std::string ServerUrl();

  // Why PostgreSQL tests are skipped, and how to run them.
  static std::string SkipMessage();

  // `url` (a postgresql:// URI or a key=value conninfo string) with its
  // database replaced by `database`.
  static std::string WithDatabase(const std::string& url,
                                  const std::string& database);

  // Creates database kabar_test_<random> on ServerUrl().
  // REQUIRES: !ServerUrl().empty().
  static absl::StatusOr<std::unique_ptr<PostgresTestDatabase>> Create();

  // Drops the database, disconnecting whoever is still connected.
  ~PostgresTestDatabase();
  PostgresTestDatabase(const PostgresTestDatabase&) = delete;
  PostgresTestDatabase& operator=(const PostgresTestDatabase&) = delete;

  const std::string& name() const { return name_; }
  // A URL of the new database, for PostgresArticleStore or OpenArticleStore.
  const std::string& url() const { return url_; }

  // Runs `sql` (one or more statements, no parameters) in the new database
  // on a connection of its own. Returns the last statement's rows, each
  // value as text ("" for NULL).
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(
      const std::string& sql) const;

 private:
  PostgresTestDatabase(std::string server_url, std::string name)
      : server_url_(std::move(server_url)),
        name_(std::move(name)),
        url_(WithDatabase(server_url_, name_)) {}

  const std::string server_url_;
  const std::string name_;
  const std::string url_;
};

}  // namespace kabar::store

#endif  // KABAR_SERVICES_STORE_TESTING_POSTGRES_TEST_DATABASE_H_
