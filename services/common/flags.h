// Copyright kabar authors.
// Command-line parsing shared by every kabar binary: each flag can also be
// set from the environment as KABAR_<FLAG_NAME_IN_CAPITALS> (e.g. --db from
// KABAR_DB), so containers need no long command lines. The command line
// wins over the environment.
#ifndef KABAR_SERVICES_COMMON_FLAGS_H_
#define KABAR_SERVICES_COMMON_FLAGS_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace kabar::common {

// The environment variable that sets flag `flag_name`.
std::string EnvironmentVariableForFlag(absl::string_view flag_name);

// Applies KABAR_* environment variables to kabar's flags, then parses the
// command line. Exits with a message naming the variable when an
// environment value does not parse. Returns the positional arguments
// (argv[0] first).
std::vector<char*> ParseFlags(int argc, char** argv, absl::string_view usage);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_FLAGS_H_
