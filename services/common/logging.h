// Copyright kabar authors.
// Minimal logging: one timestamped line per call on stderr. Abseil 20220623
// has no absl/log. Thread-safe.
#ifndef KABAR_SERVICES_COMMON_LOGGING_H_
#define KABAR_SERVICES_COMMON_LOGGING_H_

#include "absl/strings/string_view.h"

namespace kabar::common {

void LogInfo(absl::string_view message);
void LogWarning(absl::string_view message);
void LogError(absl::string_view message);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_LOGGING_H_
