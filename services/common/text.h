// Copyright kabar authors.
// Text checks and normalization shared by ingest (what is stored), classify
// (what the models see) and kabar-train (what the models learn from), so
// training and serving never disagree. All functions are pure and
// thread-safe.
#ifndef KABAR_SERVICES_COMMON_TEXT_H_
#define KABAR_SERVICES_COMMON_TEXT_H_

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kabar::common {

// OK when `text` is well-formed UTF-8: no overlong forms, no surrogates,
// nothing above U+10FFFF. Else INVALID_ARGUMENT naming the byte offset.
absl::Status ValidateUtf8(absl::string_view text);

// `text` with every ill-formed UTF-8 byte replaced by U+FFFD (the
// replacement character), so that any bytes, e.g. a parser's excerpt of
// its input cut in the middle of a character, can be shown or sent as text.
// Well-formed text comes back unchanged. When `replaced` is given, it is set
// to the number of bytes replaced.
std::string ReplaceInvalidUtf8(absl::string_view text,
                               size_t* replaced = nullptr);

// The form in which article text is stored. Line breaks become "\n";
// control characters other than newline are dropped (tabs and Unicode
// spaces become a space; zero-width characters and byte-order marks go);
// runs of spaces collapse to one; lines are trimmed; more than one blank
// line collapses to one; the result is trimmed.
// REQUIRES: ValidateUtf8(text).ok().
std::string NormalizeArticleText(absl::string_view text);

// The language model's input: title and body on one line, every run of
// whitespace a single space. Nothing else changes: lid.176 was trained on
// raw text, so case and punctuation carry signal. fastText reads only up to
// the first newline, which is why this must be one line.
// REQUIRES: both are valid UTF-8.
std::string FlattenForLanguageModel(absl::string_view title,
                                    absl::string_view body);

// The topic model's input, used identically by kabar-train: the flattened
// text, lowercased (ASCII, Latin-1, Greek, Cyrillic) and with punctuation
// split off words, so "ASEAN," and "asean" are one token.
// REQUIRES: valid UTF-8.
std::string NormalizeForTopicModel(absl::string_view text);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_TEXT_H_
