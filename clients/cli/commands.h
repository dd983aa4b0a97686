// Copyright kabar authors.
// The `kabar` subcommands: what each one is called, its help text, and its
// implementation on top of the kabar_client library. main.cc owns the
// flags and turns them into the option structs below; everything here is
// callable from tests. Each Run* function prints results to `out`, problems
// to `err`, and returns the process exit status.
#ifndef KABAR_CLIENTS_CLI_COMMANDS_H_
#define KABAR_CLIENTS_CLI_COMMANDS_H_

#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "clients/cli/backfill_command.h"
#include "clients/cli/ingest_command.h"
#include "clients/cli/output_format.h"
#include "clients/cpp/clients.h"
#include "kabar/v1/store_service.pb.h"

namespace kabar::cli {

// Exit status for a command line that makes no sense (unknown command or
// flag, bad flag value, missing argument).
inline constexpr int kUsageExitCode = 2;

// A subcommand's name and help. `flags` lists the flags it reads besides
// the global ones (kGlobalFlags); any other kabar flag is refused.
struct CommandSpec {
  const char* name;
  const char* arguments;  // e.g. "[FILE...|-]"
  const char* summary;    // One line, for `kabar --help`.
  const char* details;    // Paragraphs, for `kabar NAME --help`.
  std::vector<const char*> flags;
};

// Flags every subcommand accepts.
const std::vector<const char*>& GlobalFlags();

// All subcommands, in help order.
const std::vector<CommandSpec>& Commands();

// The subcommand called `name`, or null.
const CommandSpec* FindCommand(absl::string_view name);

// `kabar --help`: usage and the list of subcommands.
std::string MainUsage();

// `kabar NAME --help`: usage, details, and the command's flags with their
// help text and defaults (looked up by name among the defined flags).
std::string CommandUsage(const CommandSpec& command);

// Whether `args` (everything after the subcommand name) asks for help.
bool WantsHelp(const std::vector<std::string>& args);

// INVALID_ARGUMENT naming the first flag in `args` that is a kabar flag but
// not one `command` uses, so "kabar get --limit 5" fails loudly instead of
// silently ignoring --limit. Unknown flags are left to the flag parser.
absl::Status CheckFlagsApply(const CommandSpec& command,
                             const std::vector<std::string>& args);

// Where the services are and how long a unary call may take.
struct ServiceOptions {
  std::string ingest_address = client::kDefaultIngestAddress;
  std::string store_address = client::kDefaultStoreAddress;
  std::string classifier_address = client::kDefaultClassifierAddress;
  absl::Duration timeout = absl::Seconds(30);
  // TLS and bearer token for every service.
  client::ClientSecurity security;
  // Largest gRPC message sent or received.
  int max_message_bytes = 64 << 20;
  // Sent as x-request-id on every call, so the services' logs about this
  // command can be found.
  std::string request_id;
};

// Filter flags, as typed. Empty strings and zero confidences do not filter.
struct FilterOptions {
  std::string language;
  std::string topic;
  std::string source;
  // RFC 3339 times or YYYY-MM-DD dates; ranges are [after, before).
  std::string published_after;
  std::string published_before;
  std::string ingested_after;
  std::string ingested_before;
  double min_language_confidence = 0;
  double min_topic_confidence = 0;
};

// The filter for the store. INVALID_ARGUMENT naming the flag when a time
// does not parse or a confidence is outside [0, 1].
absl::StatusOr<v1::ArticleFilter> BuildFilter(const FilterOptions& options);

// `kabar ingest [FILE...|-]`. No inputs means standard input. Exit status:
// 0 when nothing was rejected, 1 when something was, 2 when the stream
// failed.
int RunIngestCommand(const ServiceOptions& services,
                     const std::vector<std::string>& inputs,
                     const IngestOptions& options, std::ostream& err);

struct QueryOptions {
  FilterOptions filter;
  // Full-text query (ArticleFilter.text); "" = none.
  std::string text;
  // "", "relevance", "published" or "ingested" (see ParseSort).
  std::string sort;
  // Most articles to print; 0 or less means all.
  int64_t limit = 20;
  OutputFormat format = OutputFormat::kTable;
  // Width the table's rows are fitted to (titles are shortened).
  size_t line_width = 120;
};

// Columns of the terminal on standard output; else $COLUMNS; else 120.
size_t StdoutLineWidth();

// --sort: "" (relevance with --text, else ingested), "relevance",
// "published" or "ingested". INVALID_ARGUMENT otherwise.
absl::StatusOr<v1::QuerySort> ParseSort(absl::string_view text);

// --by of `kabar stats`: "language", "topic", "source", "day" (published
// day) or "ingested_day"; "" = by language and topic. INVALID_ARGUMENT
// otherwise.
absl::StatusOr<v1::CountDimension> ParseCountDimension(absl::string_view text);

// `kabar query`: in the order of `sort`, paging through QueryArticles until
// `limit`. JSON prints one object per line (StoredArticleToJson, plus
// snippet and relevance with --text); the table shows each snippet under
// its row.
int RunQueryCommand(const ServiceOptions& services, const QueryOptions& options,
                    std::ostream& out, std::ostream& err);

// `kabar get ID`: the whole article, body included.
int RunGetCommand(const ServiceOptions& services, const std::string& id,
                  OutputFormat format, std::ostream& out, std::ostream& err);

// `kabar stats`: the total and counts by language and by topic, or with
// `by` (see ParseCountDimension) counts by that one dimension. `text` is a
// full-text condition as in `kabar query --text`.
int RunStatsCommand(const ServiceOptions& services, const FilterOptions& filter,
                    const std::string& text, const std::string& by,
                    OutputFormat format, std::ostream& out, std::ostream& err);

struct WatchOptions {
  FilterOptions filter;
  // Where to start: "" = now, else a cursor printed by an earlier watch.
  std::string cursor;
  OutputFormat format = OutputFormat::kTable;
  size_t line_width = 120;
  // Times in a row to reconnect after the stream fails with UNAVAILABLE or
  // CANCELLED (e.g. the store restarted); reset by every message received.
  int max_reconnects = 10;
  // Pause before reconnecting.
  absl::Duration reconnect_delay = absl::Milliseconds(500);
  // Stop after printing this many articles; 0 = run until interrupted.
  int64_t exit_after = 0;
};

// `kabar watch`: prints articles as the store stores them, with the cursor
// of each (`table`: one line each; `jsonl`: {"cursor", "article"}), and the
// starting cursor on `err`. Reconnects by itself, resuming from the last
// cursor. Exit status 0 after exit_after articles, 1 when the stream failed
// for good, 2 for bad flags.
int RunWatchCommand(const ServiceOptions& services, const WatchOptions& options,
                    std::ostream& out, std::ostream& err);

struct ClassifyOptions {
  std::string title;
  std::string text;
  // Topics to return; 0 means the service default.
  int top_k = 0;
  OutputFormat format = OutputFormat::kTable;
};

// The text to classify from `kabar classify` arguments: the arguments
// joined by spaces, or all of `stdin_fd` when there are none or the only one
// is "-" (at most 8 MiB). INVALID_ARGUMENT when it is empty or not UTF-8.
absl::StatusOr<std::string> ClassifyTextFromArguments(
    const std::vector<std::string>& args, int stdin_fd);

// `kabar classify [TEXT|-]`: asks the classifier directly; stores nothing.
int RunClassifyCommand(const ServiceOptions& services,
                       const ClassifyOptions& options, std::ostream& out,
                       std::ostream& err);

// `kabar health [ADDR|ingest|store|classifier...]`: the standard gRPC
// health check of each target ("ingest", "store" and "classifier" stand for
// their configured addresses; no target means all three). Exit status 0
// when every target is SERVING, else 1.
int RunHealthCommand(const ServiceOptions& services,
                     const std::vector<std::string>& targets,
                     const std::string& service, std::ostream& out,
                     std::ostream& err);

// `kabar models`: the classifier's loaded models.
int RunModelsCommand(const ServiceOptions& services, OutputFormat format,
                     std::ostream& out, std::ostream& err);

// `kabar models --reload`: has the classifier reload its model files
// (ReloadModels) and prints the models now loaded. Exit status 1 when the
// reload failed (the old models keep serving).
int RunReloadModelsCommand(const ServiceOptions& services, OutputFormat format,
                           std::ostream& out, std::ostream& err);

// `kabar backfill`: re-labels the stored articles matching `filter` whose
// labels came from models other than the classifier's current ones (see
// backfill_command.h); `options.filter` is replaced by `filter`. Progress
// goes to `err`, the summary line to `out`. Exit status 0 when the run
// completed (articles someone else relabeled meanwhile are skipped, not
// failures), 1 when a call failed, 2 for a bad filter.
int RunBackfillCommand(const ServiceOptions& services,
                       const FilterOptions& filter, BackfillOptions options,
                       std::ostream& out, std::ostream& err);

}  // namespace kabar::cli

#endif  // KABAR_CLIENTS_CLI_COMMANDS_H_
