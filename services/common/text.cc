// Copyright kabar authors.
#include "services/common/text.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace kabar::common {
namespace {

// Decodes the code point at text[*pos] and advances *pos. Returns -1 (and
// advances one byte) on a malformed sequence.
int32_t DecodeUtf8(absl::string_view text, size_t* pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  const uint8_t lead = byte(*pos);
  if (lead < 0x80) {
    ++*pos;
    return lead;
  }
  int length = 0;
  int32_t code_point = 0;
  int32_t minimum = 0;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    ++*pos;
    return -1;
  }
  if (*pos + length > text.size()) {
    ++*pos;
    return -1;
  }
  for (int i = 1; i < length; ++i) {
    const uint8_t continuation = byte(*pos + i);
    if ((continuation & 0xC0) != 0x80) {
      ++*pos;
      return -1;
    }
    code_point = (code_point << 6) | (continuation & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    ++*pos;
    return -1;
  }
  *pos += length;
  return code_point;
}

void AppendUtf8(int32_t code_point, std::string* out) {
  if (code_point < 0x80) {
    out->push_back(static_cast<char>(code_point));
  } else if (code_point < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (code_point >> 6)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (code_point >> 12)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (code_point >> 18)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((code_point >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (code_point & 0x3F)));
  }
}

enum class CharClass { kKeep, kSpace, kNewline, kDrop };

CharClass Classify(int32_t c) {
  if (c == '\n' || c == '\r' || c == 0x2028 || c == 0x2029 || c == 0x85) {
    return CharClass::kNewline;
  }
  if (c == '\t' || c == '\v' || c == '\f' || c == ' ' || c == 0xA0 ||
      c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x202F ||
      c == 0x205F || c == 0x3000) {
    return CharClass::kSpace;
  }
  if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0) || c == 0x200B ||
      c == 0xFEFF || c == 0xFFFE || c == 0xFFFF || c < 0) {
    return CharClass::kDrop;
  }
  return CharClass::kKeep;
}

int32_t ToLower(int32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0xC0) return c;
  if (c <= 0xDE && c != 0xD7) return c + 32;                 // Latin-1
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 32;  // Greek
  if (c >= 0x410 && c <= 0x42F) return c + 32;                // Cyrillic
  if (c >= 0x400 && c <= 0x40F) return c + 80;                // Cyrillic Ё...
  return c;
}

bool IsPunctuation(int32_t c) {
  if (c < 0x80) {
    return (c >= '!' && c <= '/') || (c >= ':' && c <= '@') ||
           (c >= '[' && c <= '`') || (c >= '{' && c <= '~');
  }
  switch (c) {
    case 0xAB: case 0xBB: case 0xBF: case 0xA1:           // « » ¿ ¡
    case 0x2013: case 0x2014: case 0x2026:                // – — …
    case 0x2018: case 0x2019: case 0x201A: case 0x201C:   // quotes
    case 0x201D: case 0x201E:
    case 0x060C: case 0x061B: case 0x061F: case 0x06D4:   // Arabic
    case 0x0964: case 0x0965:                             // Devanagari dandas
    case 0x3001: case 0x3002: case 0x300C: case 0x300D:   // CJK
    case 0xFF0C: case 0xFF01: case 0xFF1F: case 0xFF1A: case 0xFF1B:
    case 0x1362: case 0x1363: case 0x1364:                // Ethiopic
      return true;
    default:
      return false;
  }
}

// Appends `text` to `out` with every run of whitespace (newlines included) as
// a single space, dropping control characters. `transform` maps each kept
// code point and may ask for spaces around it.
template <typename Transform>
void AppendFlattened(absl::string_view text, Transform transform, std::string* out) {
  bool pending_space = !out->empty();
  size_t pos = 0;
  while (pos < text.size()) {
    const int32_t c = DecodeUtf8(text, &pos);
    switch (Classify(c)) {
      case CharClass::kDrop:
        break;
      case CharClass::kSpace:
      case CharClass::kNewline:
        pending_space = !out->empty();
        break;
      case CharClass::kKeep: {
        bool isolate = false;
        const int32_t mapped = transform(c, &isolate);
        if (isolate) pending_space = !out->empty();
        if (pending_space) out->push_back(' ');
        pending_space = isolate;
        AppendUtf8(mapped, out);
        break;
      }
    }
  }
}

}  // namespace

absl::Status ValidateUtf8(absl::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (DecodeUtf8(text, &pos) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid UTF-8 at byte ", start));
    }
  }
  return absl::OkStatus();
}

std::string ReplaceInvalidUtf8(absl::string_view text, size_t* replaced) {
  constexpr absl::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
  std::string out;
  out.reserve(text.size());
  if (replaced != nullptr) *replaced = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    if (DecodeUtf8(text, &pos) < 0) {
      out.append(kReplacement.data(), kReplacement.size());
      if (replaced != nullptr) ++*replaced;
    } else {
      out.append(text.data() + start, pos - start);
    }
  }
  return out;
}

std::string NormalizeArticleText(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  int pending_newlines = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t start = pos;
    const int32_t c = DecodeUtf8(text, &pos);
    switch (Classify(c)) {
      case CharClass::kDrop:
        break;
      case CharClass::kSpace:
        pending_space = true;
        break;
      case CharClass::kNewline:
        // "\r\n" is one line break.
        if (c == '\r' && pos < text.size() && text[pos] == '\n') ++pos;
        pending_space = false;
        ++pending_newlines;
        break;
      case CharClass::kKeep:
        if (!out.empty()) {
          if (pending_newlines > 0) {
            out.append(pending_newlines > 1 ? "\n\n" : "\n");
          } else if (pending_space) {
            out.push_back(' ');
          }
        }
        pending_space = false;
        pending_newlines = 0;
        out.append(text.data() + start, pos - start);
        break;
    }
  }
  return out;
}

std::string FlattenForLanguageModel(absl::string_view title,
                                    absl::string_view body) {
  std::string out;
  out.reserve(title.size() + body.size() + 1);
  const auto identity = [](int32_t c, bool*) { return c; };
  AppendFlattened(title, identity, &out);
  AppendFlattened(body, identity, &out);
  return out;
}

std::string NormalizeForTopicModel(absl::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  AppendFlattened(
      text,
      [](int32_t c, bool* isolate) {
        *isolate = IsPunctuation(c);
        return ToLower(c);
      },
      &out);
  return out;
}

}  // namespace kabar::common
