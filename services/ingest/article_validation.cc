// Copyright kabar authors.
#include "services/ingest/article_validation.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/common/sha256.h"
#include "services/common/status_macros.h"
#include "services/common/text.h"

namespace kabar::ingest {
namespace {

constexpr size_t kIdHexChars = 32;

absl::Status CheckUtf8(absl::string_view field, absl::string_view value) {
  absl::Status status = common::ValidateUtf8(value);
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.message()));
}

absl::Status CheckId(absl::string_view id, const ValidationOptions& options) {
  if (id.size() > options.max_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "id is ", id.size(), " bytes, over the limit of ", options.max_id_bytes));
  }
  for (const char c : id) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) {
      return absl::InvalidArgumentError(
          "id must not contain whitespace or control characters");
    }
  }
  return CheckUtf8("id", id);
}

}  // namespace

std::string NormalizeUrl(absl::string_view url) {
  url = absl::StripAsciiWhitespace(url);
  url = url.substr(0, url.find('#'));
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return std::string(url);
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  absl::string_view rest = url.substr(scheme_end + 3);
  const size_t authority_end = rest.find_first_of("/?");
  std::string authority = absl::AsciiStrToLower(rest.substr(0, authority_end));
  absl::string_view path_and_query =
      authority_end == absl::string_view::npos ? "" : rest.substr(authority_end);
  if ((scheme == "http" && absl::EndsWith(authority, ":80")) ||
      (scheme == "https" && absl::EndsWith(authority, ":443"))) {
    authority.resize(authority.rfind(':'));
  }
  const size_t query_start = path_and_query.find('?');
  absl::string_view path = path_and_query.substr(0, query_start);
  while (path.size() > 1 && absl::EndsWith(path, "/")) path.remove_suffix(1);
  if (path == "/") path = "";
  std::vector<absl::string_view> kept;
  if (query_start != absl::string_view::npos) {
    for (absl::string_view parameter :
         absl::StrSplit(path_and_query.substr(query_start + 1), '&', absl::SkipEmpty())) {
      if (!absl::StartsWith(parameter, "utm_")) kept.push_back(parameter);
    }
  }
  std::string normalized = absl::StrCat(scheme, "://", authority, path);
  if (!kept.empty()) absl::StrAppend(&normalized, "?", absl::StrJoin(kept, "&"));
  return normalized;
}

std::string DeriveArticleId(const v1::Article& article) {
  const std::string digest =
      article.url().empty()
          ? common::Sha256Hex(absl::StrCat("text:", article.title(), "\n", article.body()))
          : common::Sha256Hex(absl::StrCat("url:", NormalizeUrl(article.url())));
  return digest.substr(0, kIdHexChars);
}

absl::StatusOr<v1::Article> PrepareArticle(v1::Article article,
                                           const ValidationOptions& options) {
  const size_t size = article.ByteSizeLong();
  if (size > options.max_article_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "article is ", size, " bytes, over the limit of ", options.max_article_bytes));
  }
  KABAR_RETURN_IF_ERROR(CheckUtf8("url", article.url()));
  KABAR_RETURN_IF_ERROR(CheckUtf8("source", article.source()));
  KABAR_RETURN_IF_ERROR(CheckUtf8("title", article.title()));
  KABAR_RETURN_IF_ERROR(CheckUtf8("body", article.body()));
  if (article.metadata_size() > static_cast<int>(options.max_metadata_entries)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metadata has ", article.metadata_size(),
                     " entries, over the limit of ", options.max_metadata_entries));
  }
  for (const auto& [key, value] : article.metadata()) {
    KABAR_RETURN_IF_ERROR(CheckUtf8("metadata key", key));
    KABAR_RETURN_IF_ERROR(CheckUtf8(absl::StrCat("metadata[", key, "]"), value));
  }
  if (!article.id().empty()) KABAR_RETURN_IF_ERROR(CheckId(article.id(), options));

  article.set_body(common::NormalizeArticleText(article.body()));
  if (article.body().empty()) {
    return absl::InvalidArgumentError("body is empty");
  }
  article.set_title(common::FlattenForLanguageModel(article.title(), ""));
  article.set_source(common::FlattenForLanguageModel(article.source(), ""));
  article.set_url(std::string(absl::StripAsciiWhitespace(article.url())));
  if (article.id().empty()) article.set_id(DeriveArticleId(article));
  return article;
}

absl::string_view RejectionReason(const absl::Status& status) {
  const absl::string_view message = status.message();
  if (absl::StartsWith(message, "article is ")) return "too_large";
  if (absl::StartsWith(message, "metadata has ")) return "too_many_metadata";
  if (absl::StartsWith(message, "id ") || absl::StartsWith(message, "id:")) return "invalid_id";
  if (absl::StrContains(message, "invalid UTF-8")) return "invalid_utf8";
  if (message == "body is empty") return "empty_body";
  return "invalid";
}

}  // namespace kabar::ingest
