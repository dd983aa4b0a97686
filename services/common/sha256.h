// Copyright kabar authors.
// SHA-256 digests (OpenSSL), as lowercase hex: article ids and model
// identities. Thread-safe.
#ifndef KABAR_SERVICES_COMMON_SHA256_H_
#define KABAR_SERVICES_COMMON_SHA256_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::common {

// 64 hex characters.
std::string Sha256Hex(absl::string_view data);

// Digest of a file's contents. NOT_FOUND when it cannot be opened.
absl::StatusOr<std::string> Sha256FileHex(const std::string& path);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_SHA256_H_
