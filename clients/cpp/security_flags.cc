// Copyright kabar authors.
#include "clients/cpp/security_flags.h"

#include "absl/flags/flag.h"

ABSL_FLAG(std::string, tls_ca, "",
          "PEM CA certificate(s) that verify the services; turns TLS on.");
ABSL_FLAG(std::string, tls_client_cert, "",
          "PEM certificate presented to services that require mutual TLS.");
ABSL_FLAG(std::string, tls_client_key, "",
          "PEM private key of --tls_client_cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name expected in the services' certificates instead of the host "
          "dialed.");
ABSL_FLAG(std::string, token, "",
          "Bearer token sent with every call (prefer KABAR_TOKEN or "
          "--token_file: command lines are visible to other users).");
ABSL_FLAG(std::string, token_file, "",
          "File whose first line is the bearer token.");

namespace kabar::client {

const std::vector<const char*>& ClientSecurityFlagNames() {
  static const auto* const names = new std::vector<const char*>{
      "tls_ca",          "tls_client_cert", "tls_client_key",
      "tls_server_name", "token",           "token_file"};
  return *names;
}

absl::StatusOr<ClientSecurity> ClientSecurityFromFlags() {
  ClientSecurityFiles files;
  files.tls_ca_file = absl::GetFlag(FLAGS_tls_ca);
  files.tls_client_cert_file = absl::GetFlag(FLAGS_tls_client_cert);
  files.tls_client_key_file = absl::GetFlag(FLAGS_tls_client_key);
  files.tls_server_name = absl::GetFlag(FLAGS_tls_server_name);
  files.token = absl::GetFlag(FLAGS_token);
  files.token_file = absl::GetFlag(FLAGS_token_file);
  return LoadClientSecurity(files);
}

}  // namespace kabar::client
