// Copyright kabar authors.
#include "services/common/security.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "services/common/sha256.h"

namespace kabar::common {
namespace {

using ::testing::HasSubstr;

constexpr char kIngest[] = "/kabar.v1.IngestService/IngestStream";
constexpr char kQuery[] = "/kabar.v1.StoreService/QueryArticles";
constexpr char kPut[] = "/kabar.v1.StoreService/PutArticles";

TokenTable Tokens() {
  const std::string text =
      "# tokens of the test\n"
      "sha256:" +
      Sha256Hex("reader-secret") +
      "  read-only  dashboard\n"
      "\n"
      "writer-secret\tread-write\tnewsroom   # plain\n"
      "sha256:" +
      Sha256Hex("ingest-secret") + " service\n";
  absl::StatusOr<TokenTable> table = TokenTable::Parse(text, "tokens");
  EXPECT_TRUE(table.ok()) << table.status();
  return *std::move(table);
}

TEST(RoleTest, NamesRoundTrip) {
  for (Role role : {Role::kReadOnly, Role::kReadWrite, Role::kService}) {
    EXPECT_EQ(*ParseRole(RoleName(role)), role);
  }
  EXPECT_THAT(ParseRole("admin").status().message(),
              HasSubstr("read-only, read-write or service"));
}

TEST(RequiredRoleTest, ReadsWritesInternalAndOpenMethods) {
  EXPECT_EQ(RequiredRole(kQuery), Role::kReadOnly);
  EXPECT_EQ(RequiredRole("/kabar.v1.StoreService/GetArticle"), Role::kReadOnly);
  EXPECT_EQ(RequiredRole("/kabar.v1.StoreService/WatchArticles"), Role::kReadOnly);
  EXPECT_EQ(RequiredRole(kIngest), Role::kReadWrite);
  EXPECT_EQ(RequiredRole("/kabar.v1.IngestService/IngestArticle"),
            Role::kReadWrite);
  EXPECT_EQ(RequiredRole(kPut), Role::kService);
  EXPECT_EQ(RequiredRole("/kabar.v1.StoreService/UpdateLabels"),
            Role::kService);
  EXPECT_EQ(RequiredRole("/kabar.v1.ClassifierService/ReloadModels"),
            Role::kService);
  EXPECT_EQ(RequiredRole("/grpc.health.v1.Health/Check"), std::nullopt);
  EXPECT_EQ(RequiredRole("/grpc.reflection.v1alpha.ServerReflection/"
                         "ServerReflectionInfo"),
            std::nullopt);
  // Unknown methods are closed to all but the service role.
  EXPECT_EQ(RequiredRole("/kabar.v1.StoreService/DropEverything"),
            Role::kService);
  EXPECT_EQ(RequiredRole(""), Role::kService);
}

TEST(TokenTableTest, FindsDigestAndPlainTokens) {
  const TokenTable tokens = Tokens();
  ASSERT_EQ(tokens.size(), 3u);
  ASSERT_NE(tokens.Find("reader-secret"), nullptr);
  EXPECT_EQ(tokens.Find("reader-secret")->name, "dashboard");
  EXPECT_EQ(tokens.Find("reader-secret")->role, Role::kReadOnly);
  ASSERT_NE(tokens.Find("writer-secret"), nullptr);
  EXPECT_EQ(tokens.Find("writer-secret")->role, Role::kReadWrite);
  ASSERT_NE(tokens.Find("ingest-secret"), nullptr);
  EXPECT_EQ(tokens.Find("ingest-secret")->name, "tokens:5");  // Unnamed.
  EXPECT_EQ(tokens.Find("reader-secreT"), nullptr);
  EXPECT_EQ(tokens.Find(""), nullptr);
  // A digest in the file is not itself a token.
  EXPECT_EQ(tokens.Find("sha256:" + Sha256Hex("reader-secret")), nullptr);
}

TEST(TokenTableTest, RejectsMalformedFilesNamingTheLine) {
  const auto error = [](const std::string& text) {
    return std::string(TokenTable::Parse(text, "t.txt").status().message());
  };
  EXPECT_THAT(error("a read-only\nlonely\n"), HasSubstr("t.txt:2: expected"));
  EXPECT_THAT(error("a read-only x y\n"), HasSubstr("got 4 fields"));
  EXPECT_THAT(error("a admin\n"), HasSubstr("t.txt:1: unknown role \"admin\""));
  EXPECT_THAT(error("sha256:abc read-only\n"), HasSubstr("64 hex digits"));
  EXPECT_THAT(error("sha256:" + std::string(64, 'g') + " read-only\n"),
              HasSubstr("64 hex digits"));
  EXPECT_THAT(error("a read-only\nsha256:" + Sha256Hex("a") + " service\n"),
              HasSubstr("t.txt:2: this token is listed twice"));
  EXPECT_THAT(error("# nothing\n\n"), HasSubstr("lists no tokens"));
  EXPECT_EQ(TokenTable::Load("/nonexistent/tokens").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(AuthorizeCallTest, MissingMalformedAndUnknownTokensAreUnauthenticated) {
  const TokenTable tokens = Tokens();
  const absl::Status missing = AuthorizeCall(tokens, kQuery, std::nullopt);
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(missing.message(), HasSubstr("missing bearer token"));
  EXPECT_THAT(missing.message(),
              HasSubstr("needs a token with role read-only"));

  const absl::Status basic = AuthorizeCall(tokens, kQuery, "Basic dXNlcg==");
  EXPECT_EQ(basic.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(basic.message(), HasSubstr("expected \"Bearer TOKEN\""));

  for (const char* value : {"Bearer wrong", "Bearer ", "Bearer"}) {
    const absl::Status wrong = AuthorizeCall(tokens, kQuery, value);
    EXPECT_EQ(wrong.code(), absl::StatusCode::kUnauthenticated) << value;
  }
  EXPECT_THAT(AuthorizeCall(tokens, kQuery, "Bearer wrong").message(),
              HasSubstr("invalid bearer token"));
}

TEST(AuthorizeCallTest, RolesAreOrdered) {
  const TokenTable tokens = Tokens();
  std::string name;
  EXPECT_TRUE(
      AuthorizeCall(tokens, kQuery, "Bearer reader-secret", &name).ok());
  EXPECT_EQ(name, "dashboard");
  EXPECT_TRUE(AuthorizeCall(tokens, kQuery, "bearer  writer-secret ").ok());
  EXPECT_TRUE(AuthorizeCall(tokens, kIngest, "Bearer writer-secret").ok());
  EXPECT_TRUE(AuthorizeCall(tokens, kIngest, "Bearer ingest-secret").ok());
  EXPECT_TRUE(AuthorizeCall(tokens, kPut, "Bearer ingest-secret").ok());

  const absl::Status reader_ingests =
      AuthorizeCall(tokens, kIngest, "Bearer reader-secret");
  EXPECT_EQ(reader_ingests.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(reader_ingests.message(),
            "token \"dashboard\" has role read-only; "
            "/kabar.v1.IngestService/IngestStream needs role read-write");
  const absl::Status writer_puts =
      AuthorizeCall(tokens, kPut, "Bearer writer-secret");
  EXPECT_EQ(writer_puts.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(writer_puts.message(), HasSubstr("needs role service"));
}

TEST(AuthorizeCallTest, OpenMethodsNeedNoToken) {
  const TokenTable tokens = Tokens();
  std::string name = "stale";
  EXPECT_TRUE(
      AuthorizeCall(tokens, "/grpc.health.v1.Health/Check", std::nullopt, &name)
          .ok());
  EXPECT_EQ(name, "");
}

TEST(MakeServerCredentialsTest, PlaintextByDefault) {
  EXPECT_TRUE(MakeServerCredentials({}).ok());
  EXPECT_EQ(DescribeServerSecurity({}), "plaintext, no token auth");
}

TEST(MakeServerCredentialsTest, RefusesInconsistentOptions) {
  ServerSecurityOptions tokens_in_clear;
  tokens_in_clear.auth_tokens_file = "/etc/kabar/tokens";
  EXPECT_THAT(MakeServerCredentials(tokens_in_clear).status().message(),
              HasSubstr("must not travel in clear text"));

  ServerSecurityOptions ca_only;
  ca_only.tls_client_ca_file = "/etc/kabar/ca.pem";
  EXPECT_THAT(MakeServerCredentials(ca_only).status().message(),
              HasSubstr("--tls_client_ca needs --tls_cert"));

  ServerSecurityOptions cert_only;
  cert_only.tls_cert_file = "/etc/kabar/server.pem";
  EXPECT_THAT(MakeServerCredentials(cert_only).status().message(),
              HasSubstr("--tls_cert and --tls_key go together"));

  ServerSecurityOptions missing_files;
  missing_files.tls_cert_file = "/nonexistent/server.pem";
  missing_files.tls_key_file = "/nonexistent/server.key";
  const absl::Status status = MakeServerCredentials(missing_files).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr("/nonexistent/server.pem"));
}

}  // namespace
}  // namespace kabar::common
