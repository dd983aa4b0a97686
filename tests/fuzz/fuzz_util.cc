// Copyright kabar authors.
#include "tests/fuzz/fuzz_util.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/escaping.h"

namespace kabar::fuzz {

void Check(bool condition, absl::string_view what, absl::string_view value) {
  if (condition) return;
  constexpr size_t kMaxShown = 300;
  const std::string shown = absl::CHexEscape(value.substr(0, kMaxShown));
  std::fprintf(stderr,
               "invariant violated: %.*s\n  value (%zu bytes): \"%s\"%s\n",
               static_cast<int>(what.size()), what.data(), value.size(),
               shown.c_str(), value.size() > kMaxShown ? "..." : "");
  std::abort();
}

size_t FirstInvalidUtf8(absl::string_view text) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const auto in = [](uint8_t b, uint8_t low, uint8_t high) {
    return b >= low && b <= high;
  };
  size_t i = 0;
  while (i < text.size()) {
    const uint8_t b0 = byte(i);
    if (b0 <= 0x7F) {
      i += 1;
      continue;
    }
    // Allowed range of the second byte and the sequence length, by lead byte.
    uint8_t low = 0x80, high = 0xBF;
    size_t length = 0;
    if (in(b0, 0xC2, 0xDF)) {
      length = 2;
    } else if (b0 == 0xE0) {
      length = 3, low = 0xA0;
    } else if (in(b0, 0xE1, 0xEC) || in(b0, 0xEE, 0xEF)) {
      length = 3;
    } else if (b0 == 0xED) {
      length = 3, high = 0x9F;
    } else if (b0 == 0xF0) {
      length = 4, low = 0x90;
    } else if (in(b0, 0xF1, 0xF3)) {
      length = 4;
    } else if (b0 == 0xF4) {
      length = 4, high = 0x8F;
    } else {
      return i;
    }
    if (i + length > text.size() || !in(byte(i + 1), low, high)) return i;
    for (size_t k = 2; k < length; ++k) {
      if (!in(byte(i + k), 0x80, 0xBF)) return i;
    }
    i += length;
  }
  return absl::string_view::npos;
}

}  // namespace kabar::fuzz
