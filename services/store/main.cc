// Copyright kabar authors.
// kabar-store: the store service. Keeps labeled articles in a SQLite file
// or a PostgreSQL database and answers kabar.v1.StoreService calls (put,
// get, query, count). Several replicas may share one PostgreSQL database.
//
// Usage: kabar-store [flags]
//   --listen=HOST:PORT     Address to serve on; port 0 picks a free one.
//                          Default 127.0.0.1:7703.
//   --db=LOCATION          Database: a file path, sqlite:///abs/path or
//                          sqlite://rel/path (SQLite, created if missing);
//                          or postgresql://USER[:PASSWORD]@HOST[:PORT]/DB
//                          (also postgres://; any libpq URI; PGPASSWORD and
//                          ~/.pgpass work too), whose schema is created or
//                          migrated at start; each replica opens at most 4
//                          connections. Default kabar.db (working dir).
//   --port_file=PATH       Write the bound port here once serving. Default
//                          none.
//   --shutdown_grace=DUR   Time in-flight calls get on SIGTERM. Default 10s.
//   --threads=N            Database worker threads; 0 = one per core.
//   --tls_cert, --tls_key, --tls_client_ca, --auth_tokens_file
//                          TLS, mutual TLS and bearer tokens (see
//                          services/common/security.h). Default plaintext.
//   --watch_poll_interval=DUR  How often open WatchArticles streams look for
//                          articles other processes stored (replicas on one
//                          database). Default 1s.
//   --health_check_interval=DUR  How often the database is checked; while
//                          it does not answer the store reports NOT_SERVING.
//                          Default 2s.
//   --metrics_listen, --metrics_port_file, --log_level, --log_format,
//   --max_message_bytes    As for every service (services/common/server_flags.h).
// Every flag can also be set as KABAR_<FLAG> in the environment (KABAR_DB).
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "services/common/dependency_monitor.h"
#include "services/common/flags.h"
#include "services/common/logging.h"
#include "services/common/security_flags.h"
#include "services/common/server_flags.h"
#include "services/common/server_runner.h"
#include "services/store/article_store.h"
#include "services/store/store_service.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7703",
          "HOST:PORT to serve on (port 0: any)");
ABSL_FLAG(std::string, db, "kabar.db",
          "Database: file path, sqlite:// or postgresql:// URL");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "Time in-flight calls get to finish on SIGTERM");
ABSL_FLAG(int, threads, 0, "Database worker threads (0: one per core)");
ABSL_FLAG(absl::Duration, watch_poll_interval, absl::Seconds(1),
          "How often watches look for articles stored by other processes");
ABSL_FLAG(absl::Duration, health_check_interval, absl::Seconds(2),
          "How often the database is checked; while it does not answer, the store "
          "reports NOT_SERVING");

int main(int argc, char** argv) {
  kabar::common::ParseFlags(argc, argv,
                            "kabar-store: stores and queries labeled articles");
  if (absl::GetFlag(FLAGS_threads) < 0 ||
      absl::GetFlag(FLAGS_health_check_interval) <= absl::ZeroDuration()) {
    kabar::common::LogError(
        "kabar-store: --threads must be >= 0 and --health_check_interval > 0");
    return 1;
  }
  if (absl::GetFlag(FLAGS_watch_poll_interval) <= absl::ZeroDuration()) {
    kabar::common::LogError(
        "kabar-store: --watch_poll_interval must be positive");
    return 1;
  }
  kabar::common::ServerOptions server_options;
  if (absl::Status applied = kabar::common::ApplyServerFlags(&server_options); !applied.ok()) {
    kabar::common::LogError(absl::StrCat("kabar-store: ", applied.message()));
    return 2;
  }

  auto store = kabar::store::OpenArticleStore(absl::GetFlag(FLAGS_db));
  if (!store.ok()) {
    kabar::common::LogError(
        absl::StrCat("kabar-store: ", store.status().message()));
    return 1;
  }
  kabar::store::StoreServiceImpl::Options service_options;
  service_options.num_threads = absl::GetFlag(FLAGS_threads);
  service_options.watch_poll_interval =
      absl::GetFlag(FLAGS_watch_poll_interval);
  kabar::store::StoreServiceImpl service(store->get(), service_options);

  server_options.listen = absl::GetFlag(FLAGS_listen);
  server_options.port_file = absl::GetFlag(FLAGS_port_file);
  server_options.health_service_name = "kabar.v1.StoreService";
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  server_options.security = kabar::common::ServerSecurityFromFlags();
  server_options.serving_at_start = false;  // until the first dependency check
  auto runner = kabar::common::ServerRunner::Start(server_options, {&service});
  if (!runner.ok()) {
    kabar::common::LogError(
        absl::StrCat("kabar-store: ", runner.status().message()));
    return 1;
  }
  kabar::common::ServerRunner* serving = runner->get();
  kabar::store::ArticleStore* database = store->get();
  kabar::common::DependencyMonitor dependencies(
      {{"database", [database] { return database->CheckHealth(); }}},
      absl::GetFlag(FLAGS_health_check_interval),
      [serving](bool all_up) { serving->SetServing(all_up); });
  (*runner)->WaitForTermination();
  return 0;
}
