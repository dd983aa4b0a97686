// Copyright kabar authors.
#include "services/common/security.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>
#include <utility>

#include <grpcpp/security/server_credentials.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "services/common/sha256.h"
#include "services/common/status_macros.h"

namespace kabar::common {
namespace {

constexpr absl::string_view kDigestPrefix = "sha256:";
constexpr char kAuthorizationKey[] = "authorization";
constexpr char kTokenHelp[] =
    "send metadata \"authorization: Bearer TOKEN\" (kabar CLI: --token, "
    "KABAR_TOKEN or --token_file)";

bool IsLowerHex(absl::string_view text) {
  for (char c : text) {
    if (!absl::ascii_isdigit(c) && (c < 'a' || c > 'f')) return false;
  }
  return true;
}

// Constant-time equality of two digests of the same length.
bool DigestsEqual(const std::string& a, const std::string& b) {
  return a.size() == b.size() &&
         CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& pem) {
  return std::unique_ptr<BIO, BioDeleter>(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
}

// The first certificate in `pem`; INVALID_ARGUMENT naming `flag` otherwise.
absl::StatusOr<std::unique_ptr<X509, X509Deleter>> ParseCertificate(
    const std::string& pem, absl::string_view flag, const std::string& path) {
  auto bio = MemoryBio(pem);
  std::unique_ptr<X509, X509Deleter> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", path, " holds no PEM certificate"));
  }
  return cert;
}

absl::Status CheckKeyMatches(const std::string& key_pem, X509* cert,
                             const ServerSecurityOptions& options) {
  auto bio = MemoryBio(key_pem);
  std::unique_ptr<EVP_PKEY, KeyDeleter> key(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tls_key: ", options.tls_key_file,
                     " holds no unencrypted PEM private key"));
  }
  if (X509_check_private_key(cert, key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls_key: ", options.tls_key_file,
        " is not the key of the certificate in ", options.tls_cert_file));
  }
  return absl::OkStatus();
}

}  // namespace

const char* RoleName(Role role) {
  switch (role) {
    case Role::kReadOnly:
      return "read-only";
    case Role::kReadWrite:
      return "read-write";
    case Role::kService:
      return "service";
  }
  return "unknown";
}

absl::StatusOr<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kReadOnly, Role::kReadWrite, Role::kService}) {
    if (name == RoleName(role)) return role;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown role \"", name,
                   "\" (expected read-only, read-write or service)"));
}

std::optional<Role> RequiredRole(absl::string_view method) {
  if (absl::StartsWith(method, "/grpc.health.v1.Health/") ||
      absl::StartsWith(method, "/grpc.reflection.")) {
    return std::nullopt;
  }
  struct Rule {
    absl::string_view method;
    Role role;
  };
  static constexpr Rule kRules[] = {
      {"/kabar.v1.IngestService/IngestStream", Role::kReadWrite},
      {"/kabar.v1.IngestService/IngestArticle", Role::kReadWrite},
      {"/kabar.v1.StoreService/GetArticle", Role::kReadOnly},
      {"/kabar.v1.StoreService/QueryArticles", Role::kReadOnly},
      {"/kabar.v1.StoreService/CountArticles", Role::kReadOnly},
      {"/kabar.v1.StoreService/GetStoreStats", Role::kReadOnly},
      {"/kabar.v1.StoreService/WatchArticles", Role::kReadOnly},
      {"/kabar.v1.StoreService/PutArticles", Role::kService},
      {"/kabar.v1.StoreService/UpdateLabels", Role::kService},
      {"/kabar.v1.ClassifierService/GetModels", Role::kReadOnly},
      {"/kabar.v1.ClassifierService/ClassifyBatch", Role::kReadWrite},
      {"/kabar.v1.ClassifierService/ReloadModels", Role::kService},
  };
  for (const Rule& rule : kRules) {
    if (method == rule.method) return rule.role;
  }
  return Role::kService;
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text,
                                             absl::string_view origin) {
  TokenTable table;
  absl::flat_hash_set<std::string> seen;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const auto where = [&] {
      return absl::StrCat(origin, ":", line_number, ": ");
    };
    if (const size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (fields.size() < 2 || fields.size() > 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          where(), "expected \"TOKEN_OR_SHA256_DIGEST ROLE [NAME]\", got ",
          fields.size(), " fields"));
    }
    Entry entry;
    absl::string_view token = fields[0];
    if (absl::ConsumePrefix(&token, kDigestPrefix)) {
      const std::string digest = absl::AsciiStrToLower(token);
      if (digest.size() != 64 || !IsLowerHex(digest)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), "a sha256: digest must be 64 hex digits"));
      }
      entry.sha256_hex = digest;
    } else {
      entry.sha256_hex = Sha256Hex(token);
    }
    absl::StatusOr<Role> role = ParseRole(fields[1]);
    if (!role.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), role.status().message()));
    }
    entry.role = *role;
    entry.name = fields.size() == 3 ? std::string(fields[2])
                                    : absl::StrCat(origin, ":", line_number);
    if (!seen.insert(entry.sha256_hex).second) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), "this token is listed twice"));
    }
    table.entries_.push_back(std::move(entry));
  }
  if (table.entries_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, " lists no tokens, so no call would be allowed"));
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  KABAR_ASSIGN_OR_RETURN(std::string text,
                         ReadSecurityFile(path, "tokens file"));
  return Parse(text, path);
}

const TokenTable::Entry* TokenTable::Find(absl::string_view token) const {
  const std::string digest = Sha256Hex(token);
  const Entry* found = nullptr;
  for (const Entry& entry : entries_) {
    if (DigestsEqual(digest, entry.sha256_hex) && found == nullptr)
      found = &entry;
  }
  return found;
}

absl::Status AuthorizeCall(const TokenTable& tokens, absl::string_view method,
                           std::optional<absl::string_view> authorization,
                           std::string* token_name) {
  if (token_name != nullptr) token_name->clear();
  const std::optional<Role> needed = RequiredRole(method);
  if (!needed.has_value()) return absl::OkStatus();
  if (!authorization.has_value()) {
    return absl::UnauthenticatedError(absl::StrCat(
        "missing bearer token: ", method, " needs a token with role ",
        RoleName(*needed), "; ", kTokenHelp));
  }
  absl::string_view value = absl::StripAsciiWhitespace(*authorization);
  if (value.size() < 7 ||
      !absl::EqualsIgnoreCase(value.substr(0, 7), "bearer ")) {
    return absl::UnauthenticatedError(absl::StrCat(
        "malformed authorization metadata: expected \"Bearer TOKEN\"; ",
        kTokenHelp));
  }
  const absl::string_view token = absl::StripAsciiWhitespace(value.substr(7));
  const TokenTable::Entry* entry = tokens.Find(token);
  if (token.empty() || entry == nullptr) {
    return absl::UnauthenticatedError(
        "invalid bearer token: it is not in this server's tokens file");
  }
  if (entry->role < *needed) {
    return absl::PermissionDeniedError(absl::StrCat(
        "token \"", entry->name, "\" has role ", RoleName(entry->role), "; ",
        method, " needs role ", RoleName(*needed)));
  }
  if (token_name != nullptr) *token_name = entry->name;
  return absl::OkStatus();
}

grpc::Status TokenAuthProcessor::Process(
    const InputMetadata& auth_metadata, grpc::AuthContext* /*context*/,
    OutputMetadata* consumed_auth_metadata,
    OutputMetadata* /*response_metadata*/) {
  absl::string_view method;
  if (auto path = auth_metadata.find(":path"); path != auth_metadata.end()) {
    method = absl::string_view(path->second.data(), path->second.size());
  }
  std::optional<absl::string_view> authorization;
  if (auto found = auth_metadata.find(kAuthorizationKey);
      found != auth_metadata.end()) {
    authorization =
        absl::string_view(found->second.data(), found->second.size());
    // Handlers have no use for the token; keep it out of their sight.
    consumed_auth_metadata->emplace(kAuthorizationKey,
                                    std::string(*authorization));
  }
  const absl::Status status = AuthorizeCall(tokens_, method, authorization);
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

absl::StatusOr<std::string> ReadSecurityFile(const std::string& path,
                                             absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  }
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurityOptions& options) {
  const bool tls =
      !options.tls_cert_file.empty() || !options.tls_key_file.empty();
  if (!tls) {
    if (!options.tls_client_ca_file.empty()) {
      return absl::InvalidArgumentError(
          "--tls_client_ca needs --tls_cert and --tls_key (mutual TLS is TLS)");
    }
    if (!options.auth_tokens_file.empty()) {
      return absl::InvalidArgumentError(
          "--auth_tokens_file needs --tls_cert and --tls_key: bearer tokens "
          "must not travel in clear text");
    }
    return grpc::InsecureServerCredentials();
  }
  if (options.tls_cert_file.empty() || options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("--tls_cert and --tls_key go together");
  }
  KABAR_ASSIGN_OR_RETURN(
      std::string cert_pem,
      ReadSecurityFile(options.tls_cert_file, "--tls_cert file"));
  KABAR_ASSIGN_OR_RETURN(
      std::string key_pem,
      ReadSecurityFile(options.tls_key_file, "--tls_key file"));
  KABAR_ASSIGN_OR_RETURN(
      auto cert, ParseCertificate(cert_pem, "tls_cert", options.tls_cert_file));
  KABAR_RETURN_IF_ERROR(CheckKeyMatches(key_pem, cert.get(), options));

  grpc::SslServerCredentialsOptions ssl(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!options.tls_client_ca_file.empty()) {
    KABAR_ASSIGN_OR_RETURN(
        ssl.pem_root_certs,
        ReadSecurityFile(options.tls_client_ca_file, "--tls_client_ca file"));
    KABAR_RETURN_IF_ERROR(ParseCertificate(ssl.pem_root_certs, "tls_client_ca",
                                           options.tls_client_ca_file)
                              .status());
    ssl.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  ssl.pem_key_cert_pairs.push_back({std::move(key_pem), std::move(cert_pem)});
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::SslServerCredentials(ssl);
  if (!options.auth_tokens_file.empty()) {
    KABAR_ASSIGN_OR_RETURN(TokenTable tokens,
                           TokenTable::Load(options.auth_tokens_file));
    credentials->SetAuthMetadataProcessor(
        std::make_shared<TokenAuthProcessor>(std::move(tokens)));
  }
  return credentials;
}

std::string DescribeServerSecurity(const ServerSecurityOptions& options) {
  std::string text = options.tls_cert_file.empty()        ? "plaintext"
                     : options.tls_client_ca_file.empty() ? "TLS"
                                                          : "mutual TLS";
  absl::StrAppend(&text, options.auth_tokens_file.empty()
                             ? ", no token auth"
                             : absl::StrCat(", bearer tokens from ",
                                            options.auth_tokens_file));
  return text;
}

}  // namespace kabar::common
