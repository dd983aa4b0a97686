// Copyright kabar authors.
#include "services/common/security_flags.h"

#include <string>

#include "absl/flags/flag.h"

ABSL_FLAG(
    std::string, tls_cert, "",
    "PEM certificate chain of this server; with --tls_key, serve TLS only");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificates; when set, clients must present a certificate "
          "they signed (mutual TLS)");
ABSL_FLAG(std::string, auth_tokens_file, "",
          "Bearer tokens accepted, one \"sha256:DIGEST|TOKEN ROLE [NAME]\" per "
          "line (roles read-only, read-write, service); needs TLS");

namespace kabar::common {

ServerSecurityOptions ServerSecurityFromFlags() {
  ServerSecurityOptions options;
  options.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  options.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens_file);
  return options;
}

}  // namespace kabar::common
