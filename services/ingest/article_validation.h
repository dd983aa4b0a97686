// Copyright kabar authors.
// What ingest does to every article before anything else sees it: check it,
// normalize its text and give it a stable id. Pure functions, thread-safe.
#ifndef KABAR_SERVICES_INGEST_ARTICLE_VALIDATION_H_
#define KABAR_SERVICES_INGEST_ARTICLE_VALIDATION_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kabar/v1/article.pb.h"

namespace kabar::ingest {

struct ValidationOptions {
  // Largest accepted article (all fields, as encoded on the wire). News
  // articles are a few KB; 1 MiB leaves room for very long reads while
  // keeping one article from hogging the classifier.
  size_t max_article_bytes = 1 << 20;
  // Most metadata entries per article.
  size_t max_metadata_entries = 256;
  // Longest client-supplied id.
  size_t max_id_bytes = 256;
};

// Lowercases scheme and host, drops the fragment, a default port, utm_*
// tracking parameters and a trailing slash, so the same story reached
// through slightly different links gets the same id.
std::string NormalizeUrl(absl::string_view url);

// A stable id: 32 hex characters of SHA-256 over the normalized URL when
// the article has one, else over its title and body.
// REQUIRES: title and body already normalized.
std::string DeriveArticleId(const v1::Article& article);

// Returns the article ready to classify and store: text fields normalized
// (common::NormalizeArticleText; the title on one line), an id derived when
// none was given. INVALID_ARGUMENT, with a message saying what and where,
// when: the article is over the size limit; any text field (or metadata key
// or value) is not valid UTF-8; the body is empty after normalization; the
// id is too long or holds whitespace or control characters; there are too
// many metadata entries.
absl::StatusOr<v1::Article> PrepareArticle(v1::Article article,
                                           const ValidationOptions& options);

// A short, fixed label for why PrepareArticle rejected an article
// (too_large, invalid_utf8, too_many_metadata, invalid_id, empty_body,
// invalid), for metrics: the messages themselves vary without bound.
absl::string_view RejectionReason(const absl::Status& status);

}  // namespace kabar::ingest

#endif  // KABAR_SERVICES_INGEST_ARTICLE_VALIDATION_H_
