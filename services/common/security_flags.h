// Copyright kabar authors.
// The server security flags every kabar service takes: --tls_cert,
// --tls_key, --tls_client_ca and --auth_tokens_file (also KABAR_TLS_CERT,
// ...). See security.h for what they do.
#ifndef KABAR_SERVICES_COMMON_SECURITY_FLAGS_H_
#define KABAR_SERVICES_COMMON_SECURITY_FLAGS_H_

#include "services/common/security.h"

namespace kabar::common {

// The parsed flags. REQUIRES: ParseFlags() ran.
ServerSecurityOptions ServerSecurityFromFlags();

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_SECURITY_FLAGS_H_
