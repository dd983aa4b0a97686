// Copyright kabar authors.
// `kabar backfill`: brings stored labels up to date after a model swap. It
// asks the classifier which models it has loaded (GetModels), pages through
// the store (QueryArticles, newest ingested first), picks the articles whose
// labels record another language or topic model, re-classifies them in
// batches (ClassifyBatch with title and body) and writes the new labels back
// with UpdateLabels. Each update expects the models the article had when it
// was read (compare-and-set), so a backfill racing another one, or an
// article relabeled meanwhile, is SKIPPED rather than overwritten. Paging
// stays exact while updating because UpdateLabels keeps each article's
// place in query order.
//
// The service calls go through BackfillServices, so tests can run the whole
// loop against fakes; RunBackfillCommand (commands.h) binds them to the
// kabar_client classes.
#ifndef KABAR_CLIENTS_CLI_BACKFILL_COMMAND_H_
#define KABAR_CLIENTS_CLI_BACKFILL_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/repeated_ptr_field.h"
#include "kabar/v1/article.pb.h"
#include "kabar/v1/classify_service.pb.h"
#include "kabar/v1/store_service.pb.h"

namespace kabar::cli {

// The models labels should come from: what the classifier has loaded now.
struct BackfillTarget {
  v1::ModelIdentity language_model;
  v1::ModelIdentity topic_model;
};

// The target from a GetModels answer (roles "language" and "topic").
// FAILED_PRECONDITION when either role is missing or has no SHA-256.
absl::StatusOr<BackfillTarget> TargetFromModels(
    const v1::GetModelsResponse& models);

// Whether `labels` came from a model other than the target's: the topic or
// the language model's SHA-256 differs (an article labeled without model
// identities counts as stale).
bool NeedsBackfill(const v1::Labels& labels, const BackfillTarget& target);

// How the stale articles of one page are split into ClassifyBatch calls.
struct BatchLimits {
  // Texts per call; the classifier refuses more than 1024. Values below 1
  // count as 1.
  int max_texts = 100;
  // Title plus body bytes per call, so one call stays well under the gRPC
  // message limit (64 MiB) and the classifier's time per call stays short.
  // An article larger than this on its own is a batch by itself.
  size_t max_bytes = size_t{8} << 20;
};

// The indices into `articles` that need a backfill, in order, grouped into
// batches within `limits`. Empty when nothing on the page is stale.
std::vector<std::vector<int>> PlanBackfillBatches(
    const google::protobuf::RepeatedPtrField<v1::StoredArticle>& articles,
    const BackfillTarget& target, const BatchLimits& limits);

// The service calls a backfill makes. Production binds them to
// client::ClassifyClient and client::StoreClient; errors should name the
// peer, as those clients' do.
struct BackfillServices {
  std::function<absl::StatusOr<v1::GetModelsResponse>()> get_models;
  std::function<absl::StatusOr<v1::QueryArticlesResponse>(
      const v1::QueryArticlesRequest&)>
      query_articles;
  std::function<absl::StatusOr<v1::ClassifyBatchResponse>(
      const v1::ClassifyBatchRequest&)>
      classify_batch;
  std::function<absl::StatusOr<v1::UpdateLabelsResponse>(
      const v1::UpdateLabelsRequest&)>
      update_labels;
};

struct BackfillOptions {
  // Only articles matching it are considered (as `kabar query` filters).
  v1::ArticleFilter filter;
  // Count the stale articles without classifying or writing anything.
  bool dry_run = false;
  // Articles per QueryArticles page. Larger pages mean fewer calls but more
  // memory (each page holds whole articles).
  int page_size = 500;
  BatchLimits batch;
  // Topics to ask the classifier for per article; 0 means its default.
  // Match what ingest asks for (kabar-ingest --top_k_topics, default 3).
  int top_k_topics = 0;
  // Keep a progress line updated on `messages` (only sensible on a
  // terminal), redrawn at most this often.
  bool show_progress = false;
  absl::Duration progress_interval = absl::Milliseconds(250);
};

// What a run did.
struct BackfillSummary {
  // The models the run brought labels to.
  BackfillTarget target;
  // Articles read from the store.
  int64_t scanned = 0;
  // Of those, labeled by other models (in a dry run: would be updated).
  int64_t stale = 0;
  // UpdateLabels outcomes.
  int64_t updated = 0;
  // Relabeled by someone else since this run read them.
  int64_t skipped = 0;
  // Gone since this run read them.
  int64_t not_found = 0;
  // Updated with labels from a model other than the target: the classifier
  // was reloaded during the run, or replicas behind one address disagree.
  // Running the backfill again brings them to the then-current model.
  int64_t other_model = 0;
  bool dry_run = false;
  // Not OK when a call failed; the counts say how far the run got.
  absl::Status status;
  absl::Duration elapsed;

  // 0 when the run completed, 1 when it failed.
  int ExitCode() const;
  // "scanned N, stale S, updated U, skipped K, not found F in X.Ys (R
  // articles/s)"; a dry run says "would update S" instead.
  std::string ToString() const;
};

// Runs a backfill: GetModels once, then page by page, classify and update
// in batches. Stops at the first failed call, with the error in `status`.
// Writes the progress line (if asked for) to `messages`; the caller prints
// the summary.
BackfillSummary RunBackfill(const BackfillServices& services,
                            const BackfillOptions& options,
                            std::ostream* messages);

}  // namespace kabar::cli

#endif  // KABAR_CLIENTS_CLI_BACKFILL_COMMAND_H_
