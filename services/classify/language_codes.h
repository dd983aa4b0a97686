// Copyright kabar authors.
// LanguageCodes: kabar's one table of language codes. Every language label
// a model emits (lid.176's Wikipedia-style codes, FLORES-200 codes such as
// "ind_Latn") maps to the code kabar reports: ISO 639-1 where it exists,
// ISO 639-3 otherwise, with a script subtag only where one language is
// written in several scripts ("ks-Arab"). The table is the file
// models/language_codes.tsv, compiled into the binary (so the classifier
// never runs with a table that differs from the one training used) and
// passed to kabar-train as --label_map. Immutable; thread-safe.
#ifndef KABAR_SERVICES_CLASSIFY_LANGUAGE_CODES_H_
#define KABAR_SERVICES_CLASSIFY_LANGUAGE_CODES_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kabar::classify {

class LanguageCodes final {
 public:
  // The compiled-in models/language_codes.tsv.
  static const LanguageCodes& Default();

  // Parses "FROM<TAB>TO" lines; '#' starts a comment line, blank lines are
  // skipped. INVALID_ARGUMENT naming the line for a line without exactly two
  // fields, a duplicate FROM, or a TO that is not a kabar code (IsKabarCode).
  static absl::StatusOr<LanguageCodes> Parse(absl::string_view content);

  // kabar's code for `label`: the table's entry, or `label` itself when the
  // table has none (it is already a kabar code). Mapping a kabar code again
  // gives it back.
  std::string Map(absl::string_view label) const;

  // The table's entries, FROM -> TO.
  const std::map<std::string, std::string, std::less<>>& entries() const {
    return entries_;
  }

 private:
  std::map<std::string, std::string, std::less<>> entries_;
};

// Whether `code` has kabar's shape: 2 or 3 lowercase ASCII letters,
// optionally "-" and a 4-letter script subtag in title case ("ks-Deva").
bool IsKabarCode(absl::string_view code);

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_LANGUAGE_CODES_H_
