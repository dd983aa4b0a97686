// Copyright kabar authors.
// Operating the real services: per-service health that follows the
// dependencies, Prometheus metrics scraped over HTTP, request ids in every
// service's log lines, and the per-client stream limit. All three binaries
// run as processes on loopback ports.
#include <httplib.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/store/testing/postgres_test_database.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kSourceDir = KABAR_SOURCE_DIR;
constexpr int kSampleArticles = 36;  // samples/articles.jsonl

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int ReadPort(const std::string& path) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(path)), &port)) << path;
  return port;
}

// GET /metrics over plain HTTP, as Prometheus does.
std::string Scrape(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_read_timeout(10, 0);
  httplib::Result response = http.Get("/metrics");
  if (!response) {
    ADD_FAILURE() << "no answer from 127.0.0.1:" << port << "/metrics";
    return "";
  }
  EXPECT_EQ(response->status, 200);
  EXPECT_THAT(response->get_header_value("Content-Type"), HasSubstr("text/plain"));
  return response->body;
}

// The value of the sample line that starts with `series` ("name{labels}").
double Sample(const std::string& exposition, const std::string& series) {
  for (absl::string_view line : absl::StrSplit(exposition, '\n')) {
    if (absl::StartsWith(line, series + " ")) {
      double value = -1;
      EXPECT_TRUE(absl::SimpleAtod(line.substr(series.size() + 1), &value)) << line;
      return value;
    }
  }
  ADD_FAILURE() << "no sample " << series << " in:\n" << exposition;
  return -1;
}

client::ClientOptions To(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  return options;
}

// A restartable service with its metrics on a port of its own.
struct Service : ::kabar::testing::RestartableService {
  using RestartableService::RestartableService;

  std::string metrics_port_file() const { return dir + "/" + binary + ".metrics.port"; }
  std::string log() const { return ReadFile(process->log_path()); }
  int metrics_port() const { return ReadPort(metrics_port_file()); }

  void Start() {
    ASSERT_EQ(RestartableService::Start({"--metrics_listen=127.0.0.1:0",
                                         "--metrics_port_file=" + metrics_port_file()}),
              absl::OkStatus());
  }
};

class ObservabilityTest : public ::testing::Test {
 protected:
  void StartAll(const std::vector<std::string>& extra_args,
                const std::vector<std::string>& ingest_args = {}) {
    dir_ = MakeTempDir("observability");
    classify_ = Service{"kabar-classify",
                        {"--language_model=" + kSourceDir + "/models/lid.176.ftz",
                         "--topic_model=" + kSourceDir + "/models/topic.ftz"},
                        "kabar.v1.ClassifierService",
                        dir_ + "/classify"};
    store_ = Service{"kabar-store", {"--db=" + dir_ + "/kabar.db"}, "kabar.v1.StoreService",
                     dir_ + "/store"};
    for (Service* service : {&classify_, &store_}) {
      service->args.insert(service->args.end(), extra_args.begin(), extra_args.end());
      service->Start();
    }
    std::vector<std::string> args = {"--classifier=" + classify_.address(),
                                      "--store=" + store_.address(),
                                      "--health_check_interval=200ms"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    args.insert(args.end(), ingest_args.begin(), ingest_args.end());
    ingest_ = Service{"kabar-ingest", args, "kabar.v1.IngestService", dir_ + "/ingest"};
    ingest_.Start();
  }

  // `kabar ingest` of the 36 samples; its exit code.
  int IngestSamples(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {BinaryPath("kabar"), "ingest",
                                     "--ingest=" + ingest_.address(), "--progress=false"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back(kSourceDir + "/samples/articles.jsonl");
    std::string output;
    absl::StatusOr<int> code = RunCommand(argv, &output);
    EXPECT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(code.value_or(-1), 0) << output;
    return code.value_or(-1);
  }

  // Polls the health of `service` at `address` until it is (not) SERVING.
  static bool AwaitHealth(const std::string& address, const std::string& service,
                          bool serving, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (client::CheckHealth(address, service, absl::Seconds(2)).ok() == serving) return true;
      absl::SleepFor(absl::Milliseconds(100));
    }
    return false;
  }

  std::string dir_;
  Service classify_, store_, ingest_;
};

TEST_F(ObservabilityTest, EachServiceServesPrometheusMetricsOverHttp) {
  StartAll({});
  ASSERT_EQ(IngestSamples(), 0);
  ASSERT_EQ(IngestSamples(), 0);  // the second run: every article a duplicate

  const std::string ingest = Scrape(ingest_.metrics_port());
  EXPECT_THAT(ingest, HasSubstr("# TYPE kabar_ingest_articles_total counter\n"));
  EXPECT_EQ(Sample(ingest, "kabar_ingest_articles_total{outcome=\"accepted\"}"),
            kSampleArticles);
  EXPECT_EQ(Sample(ingest, "kabar_ingest_articles_total{outcome=\"duplicate\"}"),
            kSampleArticles);
  EXPECT_EQ(Sample(ingest, "kabar_ingest_spool_records"), 0);
  EXPECT_EQ(Sample(ingest,
                   "grpc_server_handled_total{grpc_service=\"kabar.v1.IngestService\","
                   "grpc_method=\"IngestStream\",grpc_code=\"OK\"}"),
            2);
  EXPECT_EQ(Sample(ingest,
                   "grpc_server_handling_seconds_bucket{grpc_service=\"kabar.v1.IngestService\","
                   "grpc_method=\"IngestStream\",grpc_code=\"OK\",le=\"+Inf\"}"),
            2);
  EXPECT_EQ(Sample(ingest, "kabar_dependency_up{dependency=\"store\"}"), 1);
  EXPECT_GT(Sample(ingest, "kabar_ingest_downstream_seconds_count{peer=\"classify\"}"), 0);

  const std::string classify = Scrape(classify_.metrics_port());
  EXPECT_THAT(classify, HasSubstr("# TYPE kabar_classify_batch_size histogram\n"));
  EXPECT_EQ(Sample(classify, "kabar_classify_batch_size_sum"), 2 * kSampleArticles);
  EXPECT_EQ(Sample(classify, "kabar_classify_model_seconds_count{model=\"language\"}"),
            2 * kSampleArticles);
  EXPECT_EQ(Sample(classify, "kabar_classify_model_seconds_count{model=\"topic\"}"),
            2 * kSampleArticles);

  const std::string store = Scrape(store_.metrics_port());
  EXPECT_EQ(Sample(store, "kabar_store_rows_written_total{outcome=\"inserted\"}"),
            kSampleArticles);
  EXPECT_EQ(Sample(store, "kabar_store_rows_written_total{outcome=\"already_exists\"}"),
            kSampleArticles);
  EXPECT_GT(Sample(store, "kabar_store_db_seconds_count{method=\"PutArticles\"}"), 0);
}

TEST_F(ObservabilityTest, RejectionsAreCountedByReason) {
  StartAll({});
  client::IngestClient ingest(To(ingest_.address()));
  v1::Article empty;
  empty.set_title("no body");
  absl::StatusOr<v1::IngestAck> ack = ingest.IngestArticle(empty);
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->status(), v1::ACK_STATUS_REJECTED);
  EXPECT_EQ(Sample(Scrape(ingest_.metrics_port()),
                   "kabar_ingest_articles_total{outcome=\"rejected\",reason=\"empty_body\"}"),
            1);
}

TEST_F(ObservabilityTest, RequestIdFromTheCliAppearsInEveryServicesLog) {
  StartAll({"--log_level=debug"});
  ASSERT_EQ(IngestSamples({"--request_id=obs-req-42"}), 0);
  for (const Service* service : {&ingest_, &classify_, &store_}) {
    const std::string log = service->log();
    EXPECT_THAT(log, HasSubstr("request_id=obs-req-42")) << service->binary << ":\n" << log;
    // One line each, key=value.
    for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
      EXPECT_TRUE(absl::StartsWith(line, "ts=")) << service->binary << ": " << line;
      EXPECT_THAT(line, HasSubstr(" level=")) << line;
    }
  }
}

TEST_F(ObservabilityTest, JsonLogsAreOneObjectPerLine) {
  StartAll({"--log_format=json"});
  ASSERT_EQ(IngestSamples(), 0);
  const std::string log = store_.log();
  int lines = 0;
  for (absl::string_view line : absl::StrSplit(log, '\n', absl::SkipEmpty())) {
    ++lines;
    EXPECT_TRUE(absl::StartsWith(line, "{\"ts\":\"")) << line;
    EXPECT_TRUE(absl::EndsWith(line, "}")) << line;
    EXPECT_THAT(line, HasSubstr("\"level\":\"")) << line;
  }
  EXPECT_GT(lines, 0);
}

TEST_F(ObservabilityTest, InvalidLogFlagsStopTheServiceWithAClearError) {
  std::string output;
  absl::StatusOr<int> code =
      RunCommand({BinaryPath("kabar-store"), "--listen=127.0.0.1:0", "--log_level=loud",
                  "--db=" + MakeTempDir("badflag") + "/x.db"},
                 &output);
  ASSERT_TRUE(code.ok());
  EXPECT_NE(*code, 0);
  EXPECT_THAT(output, HasSubstr("--log_level must be debug, info, warning or error"));
}

TEST_F(ObservabilityTest, IngestIsNotServingWhileTheStoreIsDown) {
  StartAll({});
  const std::string service = "kabar.v1.IngestService";
  EXPECT_TRUE(AwaitHealth(ingest_.address(), service, true, absl::Seconds(10)));

  ASSERT_TRUE(store_.process->Stop().ok());
  EXPECT_TRUE(AwaitHealth(ingest_.address(), service, false, absl::Seconds(15)))
      << ingest_.log();
  // The process itself is alive: the whole-server status stays SERVING.
  EXPECT_TRUE(client::CheckHealth(ingest_.address(), "", absl::Seconds(2)).ok());
  EXPECT_EQ(Sample(Scrape(ingest_.metrics_port()), "kabar_dependency_up{dependency=\"store\"}"),
            0);
  EXPECT_THAT(ingest_.log(), HasSubstr("dependency=store"));

  store_.Start();
  EXPECT_TRUE(AwaitHealth(ingest_.address(), service, true, absl::Seconds(20)))
      << ingest_.log();
  ASSERT_EQ(IngestSamples(), 0);
}

TEST_F(ObservabilityTest, StreamsBeyondThePerClientLimitAreRefused) {
  StartAll({}, {"--max_streams_per_client=1"});
  client::IngestClient ingest(To(ingest_.address()));
  std::unique_ptr<client::IngestStreamCall> first = ingest.OpenStream();
  v1::IngestStreamRequest request;
  request.set_sequence(1);
  request.mutable_article()->set_body("The first stream is open and working.");
  ASSERT_TRUE(first->Write(request));
  v1::IngestAck ack;
  ASSERT_TRUE(first->Read(&ack));  // the first stream is surely open now
  EXPECT_EQ(ack.status(), v1::ACK_STATUS_ACCEPTED);

  std::unique_ptr<client::IngestStreamCall> second = ingest.OpenStream();
  second->Write(request);
  EXPECT_FALSE(second->Read(&ack));
  const absl::Status refused = second->Finish();
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_THAT(refused.message(), HasSubstr("max_streams_per_client"));

  // Once the first ends, its slot is free again.
  ASSERT_TRUE(first->WritesDone());
  while (first->Read(&ack)) {
  }
  ASSERT_TRUE(first->Finish().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::Status third_status;
  bool answered = false;
  while (!answered && absl::Now() < deadline) {
    std::unique_ptr<client::IngestStreamCall> third = ingest.OpenStream();
    request.set_sequence(2);
    third->Write(request);
    third->WritesDone();
    answered = third->Read(&ack);
    while (third->Read(&ack)) {
    }
    third_status = third->Finish();
    if (!answered) absl::SleepFor(absl::Milliseconds(50));  // OnDone may lag Finish
  }
  EXPECT_TRUE(answered) << third_status;
  EXPECT_TRUE(third_status.ok()) << third_status;
}

TEST_F(ObservabilityTest, StoreIsNotServingWhilePostgresRefusesItsConnections) {
  if (store::PostgresTestDatabase::ServerUrl().empty()) {
    GTEST_SKIP() << store::PostgresTestDatabase::SkipMessage();
  }
  auto database = store::PostgresTestDatabase::Create();
  ASSERT_TRUE(database.ok()) << database.status();
  // Statements about the store's database run from another one.
  auto admin = store::PostgresTestDatabase::Create();
  ASSERT_TRUE(admin.ok()) << admin.status();
  dir_ = MakeTempDir("observability-pg");
  store_ = Service{"kabar-store",
                   {"--db=" + (*database)->url(), "--health_check_interval=200ms"},
                   "kabar.v1.StoreService",
                   dir_ + "/store"};
  store_.Start();
  const std::string service = "kabar.v1.StoreService";
  EXPECT_TRUE(AwaitHealth(store_.address(), service, true, absl::Seconds(10)));

  const std::string name = (*database)->name();
  ASSERT_TRUE((*admin)
                  ->Query("ALTER DATABASE " + name +
                          " ALLOW_CONNECTIONS false; SELECT pg_terminate_backend(pid) FROM "
                          "pg_stat_activity WHERE datname = '" + name + "'")
                  .ok());
  EXPECT_TRUE(AwaitHealth(store_.address(), service, false, absl::Seconds(15)))
      << store_.log();
  EXPECT_TRUE(client::CheckHealth(store_.address(), "", absl::Seconds(2)).ok());
  EXPECT_THAT(store_.log(), HasSubstr("dependency=database"));

  ASSERT_TRUE((*admin)->Query("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true").ok());
  EXPECT_TRUE(AwaitHealth(store_.address(), service, true, absl::Seconds(15)))
      << store_.log();
}

}  // namespace
}  // namespace kabar
