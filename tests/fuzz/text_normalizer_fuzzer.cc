// Copyright kabar authors.
// libFuzzer target for services/common/text.h. ValidateUtf8 is checked
// against an independent validator (tests/fuzz/fuzz_util.h), down to the
// offset it reports. Valid inputs (split into title and body at the first
// 0x1F byte, if any) then go through the three normalizers, whose outputs
// must be valid UTF-8 and have the documented shape:
//   - NormalizeArticleText: a fixed point (normalizing twice changes
//     nothing); "\n" is its only control character; no CR, no Unicode
//     spaces, zero-width characters or BOMs; lines trimmed, single spaces,
//     at most one blank line in a row, trimmed at both ends.
//   - FlattenForLanguageModel: one line (no line break of any kind), single
//     spaces, trimmed, and flattening it again changes nothing.
//   - NormalizeForTopicModel: one line, and a fixed point too, since
//     kabar-train and classify must agree on what the model saw.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "services/common/text.h"
#include "tests/fuzz/fuzz_util.h"

namespace kabar::fuzz {
namespace {

// Unicode line breaks and invisible characters the normalizers remove, as
// UTF-8. (U+0085 NEL, U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR.)
constexpr absl::string_view kLineBreaks[] = {"\n", "\r", "\xC2\x85",
                                             "\xE2\x80\xA8", "\xE2\x80\xA9"};
constexpr absl::string_view kInvisible[] = {
    "\xC2\xA0",      // NO-BREAK SPACE (becomes a space)
    "\xE2\x80\x8B",  // ZERO WIDTH SPACE
    "\xEF\xBB\xBF",  // BYTE ORDER MARK
    "\xE3\x80\x80",  // IDEOGRAPHIC SPACE (becomes a space)
};

// No C0 control except those in `allowed`, and no DEL.
bool HasOnlyAllowedControls(absl::string_view text, absl::string_view allowed) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && !absl::StrContains(allowed, c)) || byte == 0x7F) {
      return false;
    }
  }
  return true;
}

void CheckSingleSpacedAndTrimmed(absl::string_view text,
                                 absl::string_view what) {
  Check(!absl::StrContains(text, "  "), absl::StrCat(what, ": double space"),
        text);
  Check(!absl::StartsWith(text, " ") && !absl::EndsWith(text, " "),
        absl::StrCat(what, ": not trimmed"), text);
}

void CheckOneLine(absl::string_view text, absl::string_view what) {
  for (const absl::string_view line_break : kLineBreaks) {
    Check(!absl::StrContains(text, line_break),
          absl::StrCat(what, ": has a line break"), text);
  }
  Check(HasOnlyAllowedControls(text, ""),
        absl::StrCat(what, ": has a control character"), text);
  CheckSingleSpacedAndTrimmed(text, what);
}

void CheckArticleText(absl::string_view text) {
  const std::string normalized = common::NormalizeArticleText(text);
  Check(IsWellFormedUtf8(normalized),
        "NormalizeArticleText: output is not valid UTF-8", normalized);
  Check(common::NormalizeArticleText(normalized) == normalized,
        "NormalizeArticleText: not a fixed point", text);
  Check(HasOnlyAllowedControls(normalized, "\n"),
        "NormalizeArticleText: control character other than \\n", normalized);
  for (const absl::string_view line_break : kLineBreaks) {
    if (line_break == "\n") continue;
    Check(!absl::StrContains(normalized, line_break),
          "NormalizeArticleText: line break other than \\n", normalized);
  }
  for (const absl::string_view invisible : kInvisible) {
    Check(!absl::StrContains(normalized, invisible),
          "NormalizeArticleText: kept an invisible character", normalized);
  }
  CheckSingleSpacedAndTrimmed(normalized, "NormalizeArticleText");
  Check(
      !absl::StartsWith(normalized, "\n") && !absl::EndsWith(normalized, "\n"),
      "NormalizeArticleText: not trimmed", normalized);
  Check(!absl::StrContains(normalized, " \n") &&
            !absl::StrContains(normalized, "\n "),
        "NormalizeArticleText: line not trimmed", normalized);
  Check(!absl::StrContains(normalized, "\n\n\n"),
        "NormalizeArticleText: more than one blank line", normalized);
  // What is stored flattens to what the language model would have seen.
  Check(common::FlattenForLanguageModel("", normalized) ==
            common::FlattenForLanguageModel("", text),
        "NormalizeArticleText: flattening the stored text differs", text);
}

void CheckModelInputs(absl::string_view title, absl::string_view body) {
  const std::string flat = common::FlattenForLanguageModel(title, body);
  Check(IsWellFormedUtf8(flat),
        "FlattenForLanguageModel: output is not valid UTF-8", flat);
  CheckOneLine(flat, "FlattenForLanguageModel");
  Check(common::FlattenForLanguageModel(flat, "") == flat,
        "FlattenForLanguageModel: not a fixed point", flat);

  const std::string topic = common::NormalizeForTopicModel(flat);
  Check(IsWellFormedUtf8(topic),
        "NormalizeForTopicModel: output is not valid UTF-8", topic);
  CheckOneLine(topic, "NormalizeForTopicModel");
  Check(common::NormalizeForTopicModel(topic) == topic,
        "NormalizeForTopicModel: not a fixed point", flat);
}

void FuzzText(absl::string_view input) {
  const absl::Status status = common::ValidateUtf8(input);
  const size_t invalid = FirstInvalidUtf8(input);
  if (invalid != absl::string_view::npos) {
    Check(!status.ok(), "ValidateUtf8: accepted ill-formed UTF-8", input);
    Check(
        status.code() == absl::StatusCode::kInvalidArgument &&
            status.message() == absl::StrCat("invalid UTF-8 at byte ", invalid),
        absl::StrCat("ValidateUtf8: expected the error at byte ", invalid),
        status.ToString());
    return;  // The normalizers require valid UTF-8.
  }
  Check(status.ok(), "ValidateUtf8: rejected well-formed UTF-8", input);

  absl::string_view title;
  absl::string_view body = input;
  if (const size_t split = input.find('\x1F');
      split != absl::string_view::npos) {
    title = input.substr(0, split);
    body = input.substr(split + 1);
  }
  CheckArticleText(body);
  CheckModelInputs(title, body);
}

}  // namespace
}  // namespace kabar::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kabar::fuzz::FuzzText(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
