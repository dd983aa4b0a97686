// Copyright kabar authors.
// TLS, mutual TLS and bearer tokens with real processes: certificates and
// tokens come from deploy/gen-dev-certs.sh at test time; kabar-classify and
// kabar-store require client certificates (mutual TLS) and tokens, and
// kabar-ingest serves TLS with tokens and reaches them with its own
// certificate and service token. Driven by the `kabar` CLI and the C++
// client library.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::kabar::testing::ServiceProcess;
using ::testing::HasSubstr;
using ::testing::AllOf;

const std::string kSourceDir = KABAR_SOURCE_DIR;
const std::string kSeedArticle =
    kSourceDir + "/../shared/seed/000_bc3e7fe9585bda6e.txt";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Everything gen-dev-certs.sh made, and the services started with it.
struct Deployment {
  std::string dir;
  std::string certs;
  std::unique_ptr<ServiceProcess> classify;
  std::unique_ptr<ServiceProcess> store;
  std::unique_ptr<ServiceProcess> ingest;

  std::string Cert(const std::string& name) const { return certs + "/" + name; }
  std::string Token(const std::string& role) const {
    return std::string(
        absl::StripAsciiWhitespace(ReadFile(Cert(role + ".token"))));
  }
};

Deployment* deployment = nullptr;

class SecurityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    deployment = new Deployment;
    Deployment& d = *deployment;
    d.dir = MakeTempDir("security");
    d.certs = d.dir + "/certs";
    std::string output;
    const absl::StatusOr<int> made = RunCommand(
        {"/bin/bash", kSourceDir + "/deploy/gen-dev-certs.sh", d.certs},
        &output);
    if (!made.ok() || *made != 0) {
      ADD_FAILURE() << "gen-dev-certs.sh failed: " << output;
      return;
    }
    // Internal services: mutual TLS and tokens.
    const std::vector<std::string> internal_tls = {
        "--tls_cert=" + d.Cert("server.pem"),
        "--tls_key=" + d.Cert("server.key"),
        "--tls_client_ca=" + d.Cert("ca.pem"),
        "--auth_tokens_file=" + d.Cert("tokens.txt")};
    // What ingest and the health checks of internal services present.
    client::ClientSecurity service_identity = ServiceIdentity();
    std::vector<std::string> classify_args = internal_tls;
    classify_args.push_back("--language_model=" + kSourceDir +
                            "/models/lid.176.ftz");
    classify_args.push_back("--topic_model=" + kSourceDir +
                            "/models/topic.ftz");
    d.classify = Start("kabar-classify", classify_args,
                       "kabar.v1.ClassifierService", service_identity);
    std::vector<std::string> store_args = internal_tls;
    store_args.push_back("--db=" + d.dir + "/kabar.db");
    d.store = Start("kabar-store", store_args, "kabar.v1.StoreService",
                    service_identity);
    if (d.classify == nullptr || d.store == nullptr) return;
    // The front door: TLS and tokens, no client certificates.
    d.ingest =
        Start("kabar-ingest",
              {"--tls_cert=" + d.Cert("server.pem"),
               "--tls_key=" + d.Cert("server.key"),
               "--auth_tokens_file=" + d.Cert("tokens.txt"),
               "--classifier=" + d.classify->address(),
               "--store=" + d.store->address(), "--tls_ca=" + d.Cert("ca.pem"),
               "--tls_client_cert=" + d.Cert("server.pem"),
               "--tls_client_key=" + d.Cert("server.key"),
               "--token_file=" + d.Cert("service.token"),
               "--spool_dir=" + d.dir + "/spool"},
              "kabar.v1.IngestService", Tls());
  }

  static void TearDownTestSuite() {
    for (auto* process :
         {&deployment->ingest, &deployment->store, &deployment->classify}) {
      if (*process != nullptr) {
        EXPECT_EQ((*process)->Stop().value_or(-1), 0);
      }
    }
    std::filesystem::remove_all(deployment->dir);
    delete deployment;
    deployment = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(deployment->ingest, nullptr) << "services did not start";
  }

  static std::unique_ptr<ServiceProcess> Start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::string& service, const client::ClientSecurity& security) {
    auto process =
        ServiceProcess::Start(BinaryPath(binary), args, deployment->dir,
                              service, absl::Seconds(60), security);
    if (!process.ok()) {
      ADD_FAILURE() << process.status();
      return nullptr;
    }
    return *std::move(process);
  }

  // TLS verifying the servers with the development CA; no certificate, no
  // token.
  static client::ClientSecurity Tls() {
    client::ClientSecurityFiles files;
    files.tls_ca_file = deployment->Cert("ca.pem");
    absl::StatusOr<client::ClientSecurity> security =
        client::LoadClientSecurity(files);
    EXPECT_TRUE(security.ok()) << security.status();
    return security.value_or(client::ClientSecurity{});
  }

  // Tls() plus the client certificate, for the mutual-TLS services.
  static client::ClientSecurity MutualTls() {
    client::ClientSecurityFiles files;
    files.tls_ca_file = deployment->Cert("ca.pem");
    files.tls_client_cert_file = deployment->Cert("client.pem");
    files.tls_client_key_file = deployment->Cert("client.key");
    absl::StatusOr<client::ClientSecurity> security =
        client::LoadClientSecurity(files);
    EXPECT_TRUE(security.ok()) << security.status();
    return security.value_or(client::ClientSecurity{});
  }

  static client::ClientSecurity ServiceIdentity() {
    client::ClientSecurity security = MutualTls();
    security.client_cert_pem = ReadFile(deployment->Cert("server.pem"));
    security.client_key_pem = ReadFile(deployment->Cert("server.key"));
    return security;
  }

  static client::ClientOptions To(const ServiceProcess& process,
                                  client::ClientSecurity security,
                                  const std::string& token = "") {
    client::ClientOptions options;
    options.address = process.address();
    options.timeout = absl::Seconds(10);
    options.security = std::move(security);
    options.security.token = token;
    return options;
  }

  // Runs the CLI with TLS and the client certificate against the suite's
  // services, plus `args` (command first).
  int Kabar(std::vector<std::string> args, std::string* output) {
    std::vector<std::string> argv = {
        BinaryPath("kabar"),
        args[0],
        "--ingest=" + deployment->ingest->address(),
        "--store=" + deployment->store->address(),
        "--classifier=" + deployment->classify->address(),
        "--tls_ca=" + deployment->Cert("ca.pem"),
        "--tls_client_cert=" + deployment->Cert("client.pem"),
        "--tls_client_key=" + deployment->Cert("client.key")};
    argv.insert(argv.end(), args.begin() + 1, args.end());
    absl::StatusOr<int> code = RunCommand(argv, output);
    EXPECT_TRUE(code.ok()) << code.status();
    return code.value_or(-1);
  }
};

v1::Article Article(const std::string& title) {
  v1::Article article;
  article.set_title(title);
  article.set_body(
      absl::StrCat(title, ": the parliament voted on the budget."));
  return article;
}

TEST_F(SecurityTest, HealthNeedsNoToken) {
  EXPECT_TRUE(client::CheckHealth(To(*deployment->ingest, Tls()),
                                  "kabar.v1.IngestService")
                  .ok());
  EXPECT_TRUE(client::CheckHealth(To(*deployment->store, MutualTls()),
                                  "kabar.v1.StoreService")
                  .ok());
}

TEST_F(SecurityTest, NoTokenIsUnauthenticated) {
  const client::IngestClient ingest(To(*deployment->ingest, Tls()));
  const absl::StatusOr<v1::IngestAck> ack =
      ingest.IngestArticle(Article("No token"));
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(ack.status().message(), HasSubstr("missing bearer token"));
  EXPECT_THAT(ack.status().message(),
              HasSubstr("needs a token with role read-write"));

  std::string output;
  EXPECT_EQ(Kabar({"query"}, &output), 1);
  EXPECT_THAT(output, HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(output, HasSubstr("--token, KABAR_TOKEN or --token_file"));
}

TEST_F(SecurityTest, WrongTokenIsUnauthenticated) {
  const client::StoreClient store(To(*deployment->store, MutualTls(),
                                     deployment->Token("read-only") + "x"));
  const auto response = store.QueryArticles(v1::QueryArticlesRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(response.status().message(), HasSubstr("invalid bearer token"));

  std::string output;
  EXPECT_EQ(Kabar({"ingest", kSeedArticle, "--token=not-a-token"}, &output), 2);
  EXPECT_THAT(output, HasSubstr("UNAUTHENTICATED"));
}

TEST_F(SecurityTest, ReadOnlyTokenQueriesButCannotIngest) {
  const std::string reader = deployment->Token("read-only");
  const client::IngestClient ingest(To(*deployment->ingest, Tls(), reader));
  const absl::StatusOr<v1::IngestAck> ack =
      ingest.IngestArticle(Article("Reader"));
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(ack.status().message(),
              HasSubstr("token \"dev-read-only\" has role read-only; "
                        "/kabar.v1.IngestService/IngestArticle needs role "
                        "read-write"));

  std::string output;
  EXPECT_EQ(Kabar({"ingest", kSeedArticle,
                   "--token_file=" + deployment->Cert("read-only.token")},
                  &output),
            2);
  EXPECT_THAT(output, HasSubstr("PERMISSION_DENIED"));
  EXPECT_THAT(output, HasSubstr("has role read-only"));

  const client::StoreClient store(To(*deployment->store, MutualTls(), reader));
  EXPECT_TRUE(store.QueryArticles(v1::QueryArticlesRequest()).ok());
  EXPECT_TRUE(store.CountArticles(v1::CountArticlesRequest()).ok());
}

TEST_F(SecurityTest, ReadWriteTokenIngestsEndToEndOverTls) {
  std::string output;
  ASSERT_EQ(Kabar({"ingest", kSeedArticle,
                   "--token_file=" + deployment->Cert("read-write.token")},
                  &output),
            0)
      << output;

  // The stored article, read back with the read-only token from the
  // environment, as the CLI documents.
  std::vector<std::string> argv = {
      "/usr/bin/env",
      "KABAR_TOKEN=" + deployment->Token("read-only"),
      BinaryPath("kabar"),
      "query",
      "--store=" + deployment->store->address(),
      "--tls_ca=" + deployment->Cert("ca.pem"),
      "--tls_client_cert=" + deployment->Cert("client.pem"),
      "--tls_client_key=" + deployment->Cert("client.key"),
      "--format=jsonl"};
  ASSERT_EQ(RunCommand(argv, &output).value_or(-1), 0) << output;
  EXPECT_THAT(output, HasSubstr("\"language\":"));
  EXPECT_THAT(output, HasSubstr("\"topic\":"));

  const client::IngestClient ingest(
      To(*deployment->ingest, Tls(), deployment->Token("read-write")));
  const absl::StatusOr<v1::IngestAck> ack =
      ingest.IngestArticle(Article("Writer"));
  ASSERT_TRUE(ack.ok()) << ack.status();
  EXPECT_EQ(ack->status(), v1::ACK_STATUS_ACCEPTED);
}

TEST_F(SecurityTest, InternalCallsNeedTheServiceRole) {
  v1::PutArticlesRequest put;
  put.add_articles()->mutable_article()->set_id("forged");
  const client::StoreClient writer(
      To(*deployment->store, MutualTls(), deployment->Token("read-write")));
  const auto denied = writer.PutArticles(put);
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(denied.status().message(), HasSubstr("needs role service"));

  const client::ClassifyClient reader(
      To(*deployment->classify, MutualTls(), deployment->Token("read-only")));
  EXPECT_TRUE(reader.GetModels().ok());
  EXPECT_EQ(reader.ReloadModels().status().code(),
            absl::StatusCode::kPermissionDenied);
  v1::ClassifyBatchRequest classify;
  classify.add_texts()->set_body("Le gouvernement a présenté le budget.");
  EXPECT_EQ(reader.ClassifyBatch(classify).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST_F(SecurityTest, IngestKeepsArticlesWhenItsOwnTokenIsRefused) {
  const std::string dir = MakeTempDir("security-ingest");
  // Ingest misconfigured with a read-write token: the store refuses its
  // PutArticles.
  const auto ingest_with = [&](const std::string& token_file) {
    return Start(
        "kabar-ingest",
        {"--tls_cert=" + deployment->Cert("server.pem"),
         "--tls_key=" + deployment->Cert("server.key"),
         "--auth_tokens_file=" + deployment->Cert("tokens.txt"),
         "--classifier=" + deployment->classify->address(),
         "--store=" + deployment->store->address(),
         "--tls_ca=" + deployment->Cert("ca.pem"),
         "--tls_client_cert=" + deployment->Cert("server.pem"),
         "--tls_client_key=" + deployment->Cert("server.key"),
         "--token_file=" + deployment->Cert(token_file), "--spool_dir=" + dir},
        "kabar.v1.IngestService", Tls());
  };
  std::unique_ptr<ServiceProcess> misconfigured =
      ingest_with("read-write.token");
  ASSERT_NE(misconfigured, nullptr);
  v1::Article article = Article("Spooled while refused");
  article.set_id("spooled-while-refused");
  const client::IngestClient client(
      To(*misconfigured, Tls(), deployment->Token("read-write")));
  const absl::StatusOr<v1::IngestAck> ack = client.IngestArticle(article);
  EXPECT_EQ(ack.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(ack.status().message(),
              HasSubstr("ingest's credentials were refused"));
  EXPECT_THAT(ack.status().message(), HasSubstr("needs role service"));
  ASSERT_EQ(misconfigured->Stop().value_or(-1), 0);

  // Restarted with the service token, ingest stores what it had spooled.
  std::unique_ptr<ServiceProcess> fixed = ingest_with("service.token");
  ASSERT_NE(fixed, nullptr);
  const client::StoreClient store(
      To(*deployment->store, MutualTls(), deployment->Token("read-only")));
  absl::StatusOr<v1::StoredArticle> stored = store.GetArticle(article.id());
  for (int i = 0; i < 300 && !stored.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    stored = store.GetArticle(article.id());
  }
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->article().title(), "Spooled while refused");
  EXPECT_EQ(fixed->Stop().value_or(-1), 0);
  std::filesystem::remove_all(dir);
}

TEST_F(SecurityTest, PlaintextClientAgainstTlsServerFailsClearly) {
  const client::StoreClient store(To(*deployment->ingest,
                                     client::ClientSecurity{},
                                     deployment->Token("read-only")));
  const auto response = store.QueryArticles(v1::QueryArticlesRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(),
              HasSubstr("if the server uses TLS, connect with TLS: --tls_ca"));

  std::string output;
  const absl::StatusOr<int> code =
      RunCommand({BinaryPath("kabar"), "query",
                  "--store=" + deployment->ingest->address(), "--timeout=5s"},
                 &output);
  EXPECT_EQ(code.value_or(-1), 1);
  EXPECT_THAT(output, HasSubstr("UNAVAILABLE"));
  EXPECT_THAT(output, HasSubstr("--tls_ca"));
}

TEST_F(SecurityTest, MutualTlsRejectsClientWithoutCertificate) {
  const std::string reader = deployment->Token("read-only");
  const client::StoreClient anonymous(To(*deployment->store, Tls(), reader));
  const auto response = anonymous.QueryArticles(v1::QueryArticlesRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(response.status().message(), HasSubstr("--tls_client_cert"));

  const client::StoreClient known(To(*deployment->store, MutualTls(), reader));
  EXPECT_TRUE(known.QueryArticles(v1::QueryArticlesRequest()).ok());
}

TEST_F(SecurityTest, ServicesRefuseUnsafeOrBrokenSettings) {
  std::string output;
  // Tokens over plaintext.
  EXPECT_EQ(RunCommand({BinaryPath("kabar-store"), "--listen=127.0.0.1:0",
                        "--db=" + deployment->dir + "/refused.db",
                        "--auth_tokens_file=" + deployment->Cert("tokens.txt")},
                       &output)
                .value_or(-1),
            1);
  EXPECT_THAT(output, HasSubstr("must not travel in clear text"));
  // A key that is not the certificate's.
  EXPECT_EQ(RunCommand({BinaryPath("kabar-store"), "--listen=127.0.0.1:0",
                        "--db=" + deployment->dir + "/refused.db",
                        "--tls_cert=" + deployment->Cert("server.pem"),
                        "--tls_key=" + deployment->Cert("client.key")},
                       &output)
                .value_or(-1),
            1);
  EXPECT_THAT(output, HasSubstr("is not the key of the certificate"));
  // A tokens file with an unknown role.
  const std::string bad_tokens = deployment->dir + "/bad-tokens.txt";
  std::ofstream(bad_tokens) << "secret superuser\n";
  EXPECT_EQ(RunCommand({BinaryPath("kabar-store"), "--listen=127.0.0.1:0",
                        "--db=" + deployment->dir + "/refused.db",
                        "--tls_cert=" + deployment->Cert("server.pem"),
                        "--tls_key=" + deployment->Cert("server.key"),
                        "--auth_tokens_file=" + bad_tokens},
                       &output)
                .value_or(-1),
            1);
  EXPECT_THAT(output, AllOf(HasSubstr("bad-tokens.txt:1: unknown role"),
                            HasSubstr("superuser")));
  // A token gRPC could not send.
  EXPECT_EQ(
      RunCommand({BinaryPath("kabar"), "query", "--token=two words"}, &output)
          .value_or(-1),
      2);
  EXPECT_THAT(output, HasSubstr("only visible ASCII"));
}

}  // namespace
}  // namespace kabar
