// Copyright kabar authors.
// The client security flags of the kabar CLI and of services that call
// other services: --tls_ca, --tls_client_cert, --tls_client_key,
// --tls_server_name, --token and --token_file (also KABAR_TLS_CA,
// KABAR_TOKEN, ...).
#ifndef KABAR_CLIENTS_CPP_SECURITY_FLAGS_H_
#define KABAR_CLIENTS_CPP_SECURITY_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "clients/cpp/clients.h"

namespace kabar::client {

// The names of the flags above, for help texts.
const std::vector<const char*>& ClientSecurityFlagNames();

// The flags, with their files read (see LoadClientSecurity).
// REQUIRES: ParseFlags() ran.
absl::StatusOr<ClientSecurity> ClientSecurityFromFlags();

}  // namespace kabar::client

#endif  // KABAR_CLIENTS_CPP_SECURITY_FLAGS_H_
