// Copyright kabar authors.
#include "services/store/testing/postgres_test_database.h"

#include <libpq-fe.h>
#include <stdlib.h>

#include <random>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kabar::store {
namespace {

// Runs `sql` on a new connection to `url`; returns the rows of the last
// statement as text.
absl::StatusOr<std::vector<std::vector<std::string>>> Run(
    const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status error = absl::UnavailableError(absl::StrCat(
        "cannot connect to the test server: ", PQerrorMessage(conn)));
    PQfinish(conn);
    return error;
  }
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  PGresult* result = PQexec(conn, sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  absl::StatusOr<std::vector<std::vector<std::string>>> rows;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    rows = absl::InternalError(
        absl::StrCat(sql, ": ", PQresultErrorMessage(result)));
  } else {
    rows.emplace();
    for (int row = 0; row < PQntuples(result); ++row) {
      std::vector<std::string>& values = rows->emplace_back();
      for (int column = 0; column < PQnfields(result); ++column) {
        values.emplace_back(PQgetvalue(result, row, column),
                            PQgetlength(result, row, column));
      }
    }
  }
  PQclear(result);
  PQfinish(conn);
  return rows;
}

}  // namespace

std::string PostgresTestDatabase::ServerUrl() {
  const char* url = getenv(kUrlVariable);
  return url == nullptr ? "" : url;
}

std::string PostgresTestDatabase::SkipMessage() {
  return absl::StrCat(
      kUrlVariable,
      " is unset, so the PostgreSQL cases are skipped. To run them: export ",
      kUrlVariable,
      "=$(scripts/postgres.sh start /tmp/kabar-pg) (a throwaway server; "
      "scripts/postgres.sh stop /tmp/kabar-pg afterwards), or point it at a "
      "server where the user may CREATE DATABASE, e.g. "
      "postgresql://postgres@127.0.0.1:5432/postgres");
}

std::string PostgresTestDatabase::WithDatabase(const std::string& url,
                                               const std::string& database) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) {
    // key=value conninfo: a later keyword overrides an earlier one.
    return absl::StrCat(url, " dbname=", database);
  }
  const size_t path = url.find_first_of("/?", scheme + 3);
  if (path == std::string::npos) return absl::StrCat(url, "/", database);
  const size_t query = url.find('?', path);
  const std::string rest = query == std::string::npos ? "" : url.substr(query);
  return absl::StrCat(url.substr(0, path), "/", database, rest);
}

absl::StatusOr<std::unique_ptr<PostgresTestDatabase>>
PostgresTestDatabase::Create() {
  const std::string server_url = ServerUrl();
  if (server_url.empty()) {
    return absl::FailedPreconditionError(SkipMessage());
  }
  std::random_device random;
  const std::string name =
      absl::StrCat("kabar_test_", absl::Hex(random(), absl::kZeroPad8),
                   absl::Hex(random(), absl::kZeroPad8));
  absl::StatusOr<std::vector<std::vector<std::string>>> created =
      Run(server_url, absl::StrCat("CREATE DATABASE ", name));
  if (!created.ok()) return created.status();
  return std::unique_ptr<PostgresTestDatabase>(
      new PostgresTestDatabase(server_url, name));
}

PostgresTestDatabase::~PostgresTestDatabase() {
  Run(server_url_,
      absl::StrCat("DROP DATABASE IF EXISTS ", name_, " WITH (FORCE)"))
      .status()
      .IgnoreError();
}

absl::StatusOr<std::vector<std::vector<std::string>>>
PostgresTestDatabase::Query(const std::string& sql) const {
  return Run(url_, sql);
}

}  // namespace kabar::store
