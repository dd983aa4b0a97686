// Copyright kabar authors.
// kabar-ingest: the front door. Validates and normalizes articles streamed by
// clients, has the classify service label them and the store service commit
// them, and acknowledges each one.
//
// Usage: kabar-ingest [--listen=127.0.0.1:7701] [--classifier=127.0.0.1:7702]
//            [--store=127.0.0.1:7703] [--max_article_bytes=1048576]
//            [--max_batch_size=64] [--workers=4] [--window=512]
//            [--rpc_timeout=30s] [--spool_dir=kabar-spool]
//            [--spool_max_bytes=1073741824] [--port_file=PATH]
//            [--shutdown_grace=10s] [--max_streams_per_client=16]
//            [--health_check_interval=2s] [--metrics_listen=HOST:PORT]
//            [--log_level=info] [--log_format=text|json]
//            [--max_message_bytes=67108864]
//            [--tls_cert=PEM --tls_key=PEM [--tls_client_ca=PEM]]
//            [--auth_tokens_file=PATH]
//            [--tls_ca=PEM [--tls_client_cert=PEM --tls_client_key=PEM]]
//            [--token=T | --token_file=PATH]
// The --tls_cert group secures this server; --tls_ca, --tls_client_* and
// --token are what ingest presents to classify and store (a token with the
// service role). Every flag can also be set as KABAR_<FLAG> in the
// environment.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "clients/cpp/security_flags.h"
#include "services/common/dependency_monitor.h"
#include "services/common/flags.h"
#include "services/common/security_flags.h"
#include "services/common/server_flags.h"
#include "services/common/server_runner.h"
#include "services/ingest/ingest_service.h"
#include "services/ingest/ingester.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7701", "HOST:PORT to serve on (port 0: any)");
ABSL_FLAG(std::string, classifier, kabar::client::kDefaultClassifierAddress,
          "Address of the classify service");
ABSL_FLAG(std::string, store, kabar::client::kDefaultStoreAddress,
          "Address of the store service");
ABSL_FLAG(int64_t, max_article_bytes, 1 << 20, "Largest accepted article");
ABSL_FLAG(int, max_batch_size, 64, "Most articles per classify/store call");
ABSL_FLAG(int, workers, 4, "Batches in flight at once");
ABSL_FLAG(int, window, 512, "Unacked articles one stream may have in flight");
ABSL_FLAG(absl::Duration, rpc_timeout, absl::Seconds(30),
          "Deadline of each call to classify and store");
ABSL_FLAG(std::string, spool_dir, "kabar-spool",
          "Directory of the write-ahead spool (articles not yet stored)");
ABSL_FLAG(uint64_t, spool_max_bytes, uint64_t{1} << 30,
          "Spool size at which ingest answers RESOURCE_EXHAUSTED");
ABSL_FLAG(std::string, port_file, "", "Write the bound port to this file");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "Time in-flight calls get to finish on SIGTERM");
ABSL_FLAG(int, max_streams_per_client, 16,
          "IngestStream calls one client IP may have open at once (0: no limit)");
ABSL_FLAG(absl::Duration, health_check_interval, absl::Seconds(2),
          "How often classify and store health is checked; while either is down, "
          "ingest reports NOT_SERVING");

int main(int argc, char** argv) {
  kabar::common::ParseFlags(argc, argv, "kabar-ingest: validates and accepts articles");

  kabar::ingest::IngesterOptions options;
  options.validation.max_article_bytes = absl::GetFlag(FLAGS_max_article_bytes);
  options.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.workers = absl::GetFlag(FLAGS_workers);
  options.spool.directory = absl::GetFlag(FLAGS_spool_dir);
  options.spool.max_bytes = absl::GetFlag(FLAGS_spool_max_bytes);
  if (options.max_batch_size < 1 || options.workers < 1 || absl::GetFlag(FLAGS_window) < 1) {
    std::fprintf(stderr, "--max_batch_size, --workers and --window must be >= 1\n");
    return 2;
  }
  if (absl::GetFlag(FLAGS_max_streams_per_client) < 0 ||
      absl::GetFlag(FLAGS_health_check_interval) <= absl::ZeroDuration() ||
      absl::GetFlag(FLAGS_rpc_timeout) <= absl::ZeroDuration()) {
    std::fprintf(stderr,
                 "--max_streams_per_client must be >= 0, --health_check_interval and "
                 "--rpc_timeout > 0\n");
    return 2;
  }
  kabar::common::ServerOptions server_options;
  if (absl::Status applied = kabar::common::ApplyServerFlags(&server_options); !applied.ok()) {
    std::fprintf(stderr, "kabar-ingest: %s\n", std::string(applied.message()).c_str());
    return 2;
  }
  auto security = kabar::client::ClientSecurityFromFlags();
  if (!security.ok()) {
    std::fprintf(stderr, "kabar-ingest: %s\n",
                 std::string(security.status().message()).c_str());
    return 1;
  }
  kabar::client::ClientOptions classifier;
  classifier.address = absl::GetFlag(FLAGS_classifier);
  classifier.timeout = absl::GetFlag(FLAGS_rpc_timeout);
  classifier.security = *security;
  classifier.max_message_bytes = server_options.max_message_bytes;
  kabar::client::ClientOptions store = classifier;
  store.address = absl::GetFlag(FLAGS_store);
  auto ingester = kabar::ingest::Ingester::Create(
      options, std::make_unique<kabar::client::ClassifyClient>(classifier),
      std::make_unique<kabar::client::StoreClient>(store));
  if (!ingester.ok()) {
    std::fprintf(stderr, "kabar-ingest: %s\n", std::string(ingester.status().message()).c_str());
    return 1;
  }
  kabar::ingest::IngestServiceImpl service(
      {absl::GetFlag(FLAGS_window), absl::GetFlag(FLAGS_max_streams_per_client)},
      ingester->get());

  server_options.listen = absl::GetFlag(FLAGS_listen);
  server_options.port_file = absl::GetFlag(FLAGS_port_file);
  server_options.health_service_name = "kabar.v1.IngestService";
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  server_options.security = kabar::common::ServerSecurityFromFlags();
  server_options.serving_at_start = false;  // until the first dependency check
  auto runner = kabar::common::ServerRunner::Start(server_options, {&service});
  if (!runner.ok()) {
    std::fprintf(stderr, "kabar-ingest: %s\n", std::string(runner.status().message()).c_str());
    return 1;
  }
  // Health checks get a short deadline of their own: a peer that takes
  // longer than the interval to answer one is as good as down.
  kabar::client::ClientOptions classifier_health = classifier;
  kabar::client::ClientOptions store_health = store;
  classifier_health.timeout = store_health.timeout =
      std::min(absl::GetFlag(FLAGS_health_check_interval), absl::Seconds(5));
  kabar::client::HealthClient classifier_probe(classifier_health);
  kabar::client::HealthClient store_probe(store_health);
  kabar::common::ServerRunner* serving = runner->get();
  kabar::common::DependencyMonitor dependencies(
      {{"classifier", [&] { return classifier_probe.Check("kabar.v1.ClassifierService"); }},
       {"store", [&] { return store_probe.Check("kabar.v1.StoreService"); }}},
      absl::GetFlag(FLAGS_health_check_interval),
      [serving](bool all_up) { serving->SetServing(all_up); });
  (*runner)->WaitForTermination();
  return 0;
}
