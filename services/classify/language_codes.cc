// Copyright kabar authors.
#include "services/classify/language_codes.h"

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/classify/language_codes_data.h"
#include "services/common/logging.h"

namespace kabar::classify {

bool IsKabarCode(absl::string_view code) {
  const size_t dash = code.find('-');
  const absl::string_view language = code.substr(0, dash);
  if (language.size() < 2 || language.size() > 3) return false;
  for (char c : language) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c))) return false;
  }
  if (dash == absl::string_view::npos) return true;
  const absl::string_view script = code.substr(dash + 1);
  if (script.size() != 4 ||
      !absl::ascii_isupper(static_cast<unsigned char>(script[0]))) {
    return false;
  }
  for (char c : script.substr(1)) {
    if (!absl::ascii_islower(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::StatusOr<LanguageCodes> LanguageCodes::Parse(absl::string_view content) {
  LanguageCodes codes;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++line_number;
    line = absl::StripTrailingAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    const std::vector<absl::string_view> fields = absl::StrSplit(line, '\t');
    const auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("language codes line ", line_number, ": ", why));
    };
    if (fields.size() != 2 || fields[0].empty()) {
      return error("want FROM<TAB>TO");
    }
    if (!IsKabarCode(fields[1])) {
      return error(absl::StrCat("\"", fields[1], "\" is not a kabar code"));
    }
    if (!codes.entries_.emplace(fields[0], fields[1]).second) {
      return error(absl::StrCat("\"", fields[0], "\" is listed twice"));
    }
  }
  return codes;
}

const LanguageCodes& LanguageCodes::Default() {
  static const LanguageCodes* const codes = [] {
    absl::StatusOr<LanguageCodes> parsed = Parse(kLanguageCodesTsv);
    if (!parsed.ok()) {
      // The table is compiled in and checked by unit tests; this is a
      // broken build, not bad input.
      common::LogError(absl::StrCat("models/language_codes.tsv: ",
                                    parsed.status().ToString()));
      std::abort();
    }
    return new LanguageCodes(*std::move(parsed));
  }();
  return *codes;
}

std::string LanguageCodes::Map(absl::string_view label) const {
  const auto it = entries_.find(label);
  return it == entries_.end() ? std::string(label) : it->second;
}

}  // namespace kabar::classify
