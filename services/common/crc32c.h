// Copyright kabar authors.
// CRC-32C (Castagnoli), the checksum of kabar's on-disk records.
#ifndef KABAR_SERVICES_COMMON_CRC32C_H_
#define KABAR_SERVICES_COMMON_CRC32C_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace kabar::common {

// CRC-32C of `data`, continuing from `crc` (0 to start). Thread-safe.
uint32_t Crc32c(absl::string_view data, uint32_t crc = 0);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_CRC32C_H_
