// Copyright kabar authors.
// Helpers shared by the libFuzzer targets in tests/fuzz: an invariant check
// that aborts (so libFuzzer records the input as a finding) and a reference
// UTF-8 validator written independently of services/common/text.cc, to
// check it against. Not part of any production target.
#ifndef KABAR_TESTS_FUZZ_FUZZ_UTIL_H_
#define KABAR_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>

#include "absl/strings/string_view.h"

namespace kabar::fuzz {

// When `condition` is false: prints `what` and an excerpt of `value` (with
// non-printable bytes escaped) to stderr, then aborts.
void Check(bool condition, absl::string_view what,
           absl::string_view value = "");

// The offset of the first byte of the first ill-formed sequence in `text`,
// or npos when it is well-formed UTF-8. Straight from the byte ranges of
// Table 3-7 of the Unicode Standard, which exclude overlong forms,
// surrogates and code points above U+10FFFF.
size_t FirstInvalidUtf8(absl::string_view text);

inline bool IsWellFormedUtf8(absl::string_view text) {
  return FirstInvalidUtf8(text) == absl::string_view::npos;
}

}  // namespace kabar::fuzz

#endif  // KABAR_TESTS_FUZZ_FUZZ_UTIL_H_
