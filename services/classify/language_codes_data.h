// Copyright kabar authors.
// The text of models/language_codes.tsv, compiled in by CMake from
// language_codes_data.cc.in. Use LanguageCodes::Default() instead.
#ifndef KABAR_SERVICES_CLASSIFY_LANGUAGE_CODES_DATA_H_
#define KABAR_SERVICES_CLASSIFY_LANGUAGE_CODES_DATA_H_

namespace kabar::classify {

extern const char kLanguageCodesTsv[];

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_LANGUAGE_CODES_DATA_H_
