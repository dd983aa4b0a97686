// Copyright kabar authors.
// Transport security and bearer-token authorization for kabar's gRPC
// servers.
//
// TLS: a server certificate and key make every port speak TLS; a client CA
// additionally requires each client to present a certificate it signed
// (mutual TLS).
//
// Tokens: a tokens file lists the bearer tokens a server accepts, each with
// a role. Roles are ordered; each one may do what the ones before it may:
//   read-only   query the store (get, query, counts, stats), list models
//   read-write  also ingest articles and classify texts
//   service     also the internal calls: store PutArticles/UpdateLabels
//               (ingest, backfill) and classify ReloadModels
// Health checks and reflection need no token. A method this table does not
// know needs the service role, so a new RPC is closed until it is listed
// in RequiredRole().
//
// Tokens file format, one token per line, '#' starts a comment:
//   TOKEN_OR_DIGEST  ROLE  [NAME]
// where TOKEN_OR_DIGEST is "sha256:" followed by the 64 hex digits of the
// SHA-256 of the token (preferred: the file then holds no secret), or the
// token itself. NAME labels the token in errors and logs.
#ifndef KABAR_SERVICES_COMMON_SECURITY_H_
#define KABAR_SERVICES_COMMON_SECURITY_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::common {

enum class Role { kReadOnly = 0, kReadWrite = 1, kService = 2 };

// "read-only", "read-write", "service".
const char* RoleName(Role role);
// Inverse of RoleName; INVALID_ARGUMENT listing the roles otherwise.
absl::StatusOr<Role> ParseRole(absl::string_view name);

// The role a call to `method` ("/package.Service/Method") needs, or nullopt
// when it is open to everyone (health, reflection).
std::optional<Role> RequiredRole(absl::string_view method);

// The accepted tokens. Immutable after Parse; thread-safe.
class TokenTable final {
 public:
  struct Entry {
    std::string sha256_hex;  // Of the token; 64 lowercase hex digits.
    Role role;
    std::string name;
  };

  // Parses the file format above. INVALID_ARGUMENT naming `origin` and the
  // line for a malformed line, an unknown role or a repeated token, and
  // when no token is listed at all.
  static absl::StatusOr<TokenTable> Parse(absl::string_view text,
                                          absl::string_view origin);
  // Reads and parses `path`; NOT_FOUND when it cannot be read.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The entry `token` matches, or null. Compares digests in constant time
  // and always visits every entry, so timing tells nothing about tokens.
  const Entry* Find(absl::string_view token) const;

  size_t size() const { return entries_.size(); }

 private:
  std::vector<Entry> entries_;
};

// Checks one call: `authorization` is the value of its "authorization"
// metadata (nullopt when absent), `method` its path. OK when `method` needs
// no token or the token's role suffices; UNAUTHENTICATED when a token is
// needed and missing, malformed or unknown; PERMISSION_DENIED naming the
// token, its role and the role needed otherwise. On success *token_name is
// set to the token's name ("" for open methods) when not null.
absl::Status AuthorizeCall(const TokenTable& tokens, absl::string_view method,
                           std::optional<absl::string_view> authorization,
                           std::string* token_name = nullptr);

// Applies AuthorizeCall to every call of a server; needs TLS credentials
// (gRPC runs metadata processors only on secure ports).
class TokenAuthProcessor final : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenAuthProcessor(TokenTable tokens) : tokens_(std::move(tokens)) {}

  // Cheap and lock-free: runs inline on the call's thread.
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& auth_metadata,
                       grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const TokenTable tokens_;
};

// Files that configure a server's security; all optional.
struct ServerSecurityOptions {
  // PEM certificate chain and private key of the server. Both or neither;
  // with them every port speaks TLS only.
  std::string tls_cert_file;
  std::string tls_key_file;
  // PEM CA certificates; when set, clients must present a certificate one
  // of them signed (mutual TLS). Needs tls_cert_file.
  std::string tls_client_ca_file;
  // Tokens file (format above); when set, calls need a bearer token with
  // the method's role. Needs tls_cert_file: tokens never travel in clear.
  std::string auth_tokens_file;
};

// Server credentials for `options`: insecure when nothing is set, else TLS
// (mutual when a client CA is given) with token authorization when a tokens
// file is given. INVALID_ARGUMENT (naming the flag) for an inconsistent
// combination or a file that is not valid PEM, or a key that does not
// match its certificate; NOT_FOUND for a file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const ServerSecurityOptions& options);

// One line for the start-up log, e.g. "mutual TLS, 3 bearer tokens".
std::string DescribeServerSecurity(const ServerSecurityOptions& options);

// The contents of `path`; NOT_FOUND naming `what` and the path otherwise.
absl::StatusOr<std::string> ReadSecurityFile(const std::string& path,
                                             absl::string_view what);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_SECURITY_H_
