// Copyright kabar authors.
#include "clients/cli/backfill_command.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "services/common/status_macros.h"

namespace kabar::cli {
namespace {

// The progress line on a terminal: redrawn in place, erased at the end.
class ProgressLine {
 public:
  ProgressLine(std::ostream* out, const BackfillOptions& options)
      : out_(options.show_progress ? out : nullptr),
        interval_(options.progress_interval) {}
  ~ProgressLine() {
    if (shown_) *out_ << "\r\x1b[K" << std::flush;
  }
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Redraws the line unless it was drawn less than an interval ago.
  void Update(const BackfillSummary& summary, absl::Time start) {
    if (out_ == nullptr) return;
    const absl::Time now = absl::Now();
    if (shown_ && now - last_ < interval_) return;
    last_ = now;
    shown_ = true;
    const double seconds = absl::ToDoubleSeconds(now - start);
    *out_ << "\r"
          << absl::StrFormat(
                 "backfill: scanned %d, stale %d, updated %d, skipped %d, "
                 "%.0f articles/s",
                 summary.scanned, summary.stale, summary.updated,
                 summary.skipped, seconds > 0 ? summary.scanned / seconds : 0.0)
          << "\x1b[K" << std::flush;
  }

 private:
  std::ostream* const out_;
  const absl::Duration interval_;
  absl::Time last_;
  bool shown_ = false;
};

bool SameModel(const v1::ModelIdentity& a, const v1::ModelIdentity& b) {
  return a.sha256() == b.sha256();
}

// Re-classifies the articles `batch` names on `page` and writes their new
// labels, expecting the models they were read with. Moves their title and
// body out of `page`.
absl::Status BackfillBatch(const BackfillServices& services,
                           const BackfillOptions& options,
                           const std::vector<int>& batch,
                           v1::QueryArticlesResponse* page,
                           BackfillSummary* summary) {
  v1::ClassifyBatchRequest classify;
  classify.set_top_k_topics(options.top_k_topics);
  for (const int index : batch) {
    v1::Article* article = page->mutable_articles(index)->mutable_article();
    v1::TextToClassify* text = classify.add_texts();
    *text->mutable_title() = std::move(*article->mutable_title());
    *text->mutable_body() = std::move(*article->mutable_body());
  }
  KABAR_ASSIGN_OR_RETURN(v1::ClassifyBatchResponse labels,
                         services.classify_batch(classify));
  if (labels.labels_size() != classify.texts_size()) {
    return absl::InternalError(
        absl::StrCat("the classifier answered ", classify.texts_size(),
                     " texts with ", labels.labels_size(), " labels"));
  }

  v1::UpdateLabelsRequest request;
  for (size_t k = 0; k < batch.size(); ++k) {
    const v1::StoredArticle& stored = page->articles(batch[k]);
    v1::LabelUpdate* update = request.add_updates();
    update->set_id(stored.article().id());
    *update->mutable_labels() = std::move(*labels.mutable_labels(k));
    update->set_expected_topic_model_sha256(
        stored.labels().topic_model().sha256());
    update->set_expected_language_model_sha256(
        stored.labels().language_model().sha256());
  }
  KABAR_ASSIGN_OR_RETURN(const v1::UpdateLabelsResponse results,
                         services.update_labels(request));
  if (results.results_size() != request.updates_size()) {
    return absl::InternalError(
        absl::StrCat("the store answered ", request.updates_size(),
                     " updates with ", results.results_size(), " results"));
  }
  for (int k = 0; k < results.results_size(); ++k) {
    switch (results.results(k).outcome()) {
      case v1::UPDATE_OUTCOME_UPDATED: {
        ++summary->updated;
        const v1::Labels& written = request.updates(k).labels();
        if (!SameModel(written.topic_model(), summary->target.topic_model) ||
            !SameModel(written.language_model(),
                       summary->target.language_model)) {
          ++summary->other_model;
        }
        break;
      }
      case v1::UPDATE_OUTCOME_SKIPPED:
        ++summary->skipped;
        break;
      case v1::UPDATE_OUTCOME_NOT_FOUND:
        ++summary->not_found;
        break;
      default:
        return absl::InternalError(
            absl::StrCat("the store answered update ", k, " with outcome ",
                         v1::UpdateOutcome_Name(results.results(k).outcome())));
    }
  }
  return absl::OkStatus();
}

std::string ModelLabel(const v1::ModelIdentity& model) {
  return absl::StrCat(model.name().empty() ? "?" : model.name(), "@",
                      model.sha256().substr(0, 12));
}

}  // namespace

absl::StatusOr<BackfillTarget> TargetFromModels(
    const v1::GetModelsResponse& models) {
  BackfillTarget target;
  bool have_language = false;
  bool have_topic = false;
  for (const v1::ModelInfo& model : models.models()) {
    if (model.role() == "language") {
      target.language_model = model.identity();
      have_language = true;
    } else if (model.role() == "topic") {
      target.topic_model = model.identity();
      have_topic = true;
    }
  }
  if (!have_language || !have_topic || target.language_model.sha256().empty() ||
      target.topic_model.sha256().empty()) {
    return absl::FailedPreconditionError(
        "the classifier did not report both a language and a topic model "
        "with a SHA-256 (GetModels); cannot tell which labels are stale");
  }
  return target;
}

bool NeedsBackfill(const v1::Labels& labels, const BackfillTarget& target) {
  return !SameModel(labels.topic_model(), target.topic_model) ||
         !SameModel(labels.language_model(), target.language_model);
}

std::vector<std::vector<int>> PlanBackfillBatches(
    const google::protobuf::RepeatedPtrField<v1::StoredArticle>& articles,
    const BackfillTarget& target, const BatchLimits& limits) {
  const size_t max_texts = static_cast<size_t>(std::max(1, limits.max_texts));
  std::vector<std::vector<int>> batches;
  size_t batch_bytes = 0;
  for (int i = 0; i < articles.size(); ++i) {
    const v1::StoredArticle& stored = articles.Get(i);
    if (!NeedsBackfill(stored.labels(), target)) continue;
    const size_t bytes =
        stored.article().title().size() + stored.article().body().size();
    if (batches.empty() || batches.back().size() >= max_texts ||
        (!batches.back().empty() && batch_bytes + bytes > limits.max_bytes)) {
      batches.emplace_back();
      batch_bytes = 0;
    }
    batches.back().push_back(i);
    batch_bytes += bytes;
  }
  return batches;
}

int BackfillSummary::ExitCode() const { return status.ok() ? 0 : 1; }

std::string BackfillSummary::ToString() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  const double rate = seconds > 0 ? scanned / seconds : 0.0;
  std::string line =
      dry_run ? absl::StrFormat("dry run: scanned %d, would update %d", scanned,
                                stale)
              : absl::StrFormat(
                    "scanned %d, stale %d, updated %d, skipped %d, not found "
                    "%d",
                    scanned, stale, updated, skipped, not_found);
  absl::StrAppend(
      &line, absl::StrFormat(" in %.1fs (%.0f articles/s)", seconds, rate));
  if (!target.topic_model.sha256().empty()) {
    absl::StrAppend(&line, "; models: language ",
                    ModelLabel(target.language_model), ", topic ",
                    ModelLabel(target.topic_model));
  }
  if (other_model > 0) {
    absl::StrAppend(&line, "; ", other_model,
                    " got labels from other models (the classifier's models "
                    "changed during the run): run the backfill again");
  }
  return line;
}

BackfillSummary RunBackfill(const BackfillServices& services,
                            const BackfillOptions& options,
                            std::ostream* messages) {
  BackfillSummary summary;
  summary.dry_run = options.dry_run;
  const absl::Time start = absl::Now();
  {
    ProgressLine progress(messages, options);
    summary.status = [&]() -> absl::Status {
      KABAR_ASSIGN_OR_RETURN(const v1::GetModelsResponse models,
                             services.get_models());
      KABAR_ASSIGN_OR_RETURN(summary.target, TargetFromModels(models));
      v1::QueryArticlesRequest request;
      *request.mutable_filter() = options.filter;
      request.set_page_size(options.page_size);
      do {
        KABAR_ASSIGN_OR_RETURN(v1::QueryArticlesResponse page,
                               services.query_articles(request));
        summary.scanned += page.articles_size();
        const std::vector<std::vector<int>> batches =
            PlanBackfillBatches(page.articles(), summary.target, options.batch);
        for (const std::vector<int>& batch : batches) {
          summary.stale += static_cast<int64_t>(batch.size());
        }
        progress.Update(summary, start);
        if (!options.dry_run) {
          for (const std::vector<int>& batch : batches) {
            KABAR_RETURN_IF_ERROR(
                BackfillBatch(services, options, batch, &page, &summary));
            progress.Update(summary, start);
          }
        }
        request.set_page_token(page.next_page_token());
      } while (!request.page_token().empty());
      return absl::OkStatus();
    }();
  }
  summary.elapsed = absl::Now() - start;
  return summary;
}

}  // namespace kabar::cli
