// Copyright kabar authors.
// Classifier: the interface the classify service serves. One implementation,
// FastTextClassifier (fasttext_classifier.h), labels a text with its language
// and topics; ModelRegistry (model_registry.h) holds the current one and
// swaps it on reload. The interface keeps fastText out of everything but the
// adapter.
#ifndef KABAR_SERVICES_CLASSIFY_CLASSIFIER_H_
#define KABAR_SERVICES_CLASSIFY_CLASSIFIER_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kabar/v1/article.pb.h"
#include "kabar/v1/classify_service.pb.h"

namespace kabar::classify {

// A loaded, immutable set of models. Implementations must be thread-safe:
// one instance serves every request concurrently through its const methods.
class Classifier {
 public:
  virtual ~Classifier() = default;

  // Labels one text (title and body together; the body may span many
  // paragraphs). `top_k_topics` caps the number of topics; 0 means the
  // classifier's default. Labels carry the identities of the models used.
  // An empty or whitespace-only text gets language "und" and no topics.
  // Errors: INVALID_ARGUMENT when title or body is not valid UTF-8 or
  // `top_k_topics` is negative; INTERNAL when the model fails.
  virtual absl::StatusOr<v1::Labels> Classify(absl::string_view title,
                                              absl::string_view body,
                                              int top_k_topics) const = 0;

  // Describes the loaded models: the language model, then the topic model.
  virtual std::vector<v1::ModelInfo> Models() const = 0;
};

}  // namespace kabar::classify

#endif  // KABAR_SERVICES_CLASSIFY_CLASSIFIER_H_
