// Copyright kabar authors.
// kabar: the command-line client of the kabar services.
//
//   kabar ingest [FILE...|-] [--window=256] [--max_line_bytes=8388608]
//       [--reconnects=10] [--max_rate=0]
//   kabar query [filters] [--text=...] [--sort=relevance|published|ingested]
//       [--limit=20] [--format=table|jsonl]
//   kabar get ID [--format=table|json]
//   kabar stats [filters] [--text=...]
//       [--by=language|topic|source|day|ingested_day] [--format=table|json]
//   kabar watch [filters] [--cursor=C] [--reconnects=10] [--exit_after=N]
//       [--format=table|jsonl]
//   kabar classify [TEXT...|-] [--title=...] [--top_k=N] [--format=...]
//   kabar health [ADDR|ingest|store|classifier...] [--service=NAME]
//   kabar models [--reload] [--format=table|json]
//   kabar backfill [filters] [--dry_run] [--top_k=N] [--progress]
//
// Filters: --language --topic --source --published_after --published_before
// --ingested_after --ingested_before --min_language_confidence
// --min_topic_confidence. Global: --ingest --store --classifier --timeout
// --request_id --max_message_bytes, and for secured services --tls_ca
// --tls_client_cert --tls_client_key --tls_server_name --token (or
// KABAR_TOKEN) --token_file.
// Every flag may come from the environment as KABAR_<FLAG>. `kabar --help`
// and `kabar COMMAND --help` describe the rest.
#include <unistd.h>

#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "clients/cli/commands.h"
#include "clients/cpp/security_flags.h"
#include "services/common/flags.h"
#include "services/common/logging.h"

ABSL_FLAG(std::string, ingest, kabar::client::kDefaultIngestAddress,
          "Address of the ingest service.");
ABSL_FLAG(std::string, store, kabar::client::kDefaultStoreAddress,
          "Address of the store service.");
ABSL_FLAG(std::string, classifier, kabar::client::kDefaultClassifierAddress,
          "Address of the classify service.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(30),
          "Deadline of each unary call, e.g. 5s.");
ABSL_FLAG(std::string, request_id, "",
          "Request id sent as x-request-id metadata and logged by the services "
          "(default: a random one per command).");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest gRPC message sent or received (match the services' flag).");
ABSL_FLAG(int, window, 256, "Most articles sent and not yet acknowledged.");
ABSL_FLAG(double, max_rate, 0,
          "Most articles sent per second, evenly paced; 0 = no limit.");
ABSL_FLAG(int64_t, max_line_bytes, int64_t{8} << 20,
          "Longest JSON line, and largest text file, accepted.");
ABSL_FLAG(int, reconnects, 10,
          "Times to reconnect and resend unacknowledged articles after the "
          "stream fails (e.g. ingest restarted); 0 = never.");
ABSL_FLAG(bool, progress, true,
          "Show a progress line when standard error is a terminal.");
ABSL_FLAG(std::string, language, "", "Only articles in this language.");
ABSL_FLAG(std::string, topic, "", "Only articles with this top topic.");
ABSL_FLAG(std::string, source, "", "Only articles from this source.");
ABSL_FLAG(std::string, published_after, "",
          "Only articles published at or after this RFC 3339 time or date.");
ABSL_FLAG(std::string, published_before, "",
          "Only articles published before this RFC 3339 time or date.");
ABSL_FLAG(std::string, ingested_after, "",
          "Only articles ingested at or after this RFC 3339 time or date.");
ABSL_FLAG(std::string, ingested_before, "",
          "Only articles ingested before this RFC 3339 time or date.");
ABSL_FLAG(double, min_language_confidence, 0,
          "Minimum language confidence, in [0, 1].");
ABSL_FLAG(double, min_topic_confidence, 0,
          "Minimum top-topic confidence, in [0, 1].");
ABSL_FLAG(int64_t, limit, 20, "Most articles to list; 0 lists all.");
ABSL_FLAG(std::string, format, "table",
          "Output format: table, or json (jsonl: the same; lists print one "
          "object per line).");
ABSL_FLAG(std::string, title, "", "Headline classified with the text.");
ABSL_FLAG(int, top_k, 0, "Topics to return; 0 = the service default.");
ABSL_FLAG(std::string, service, "",
          "Service name to check; empty = the whole server.");
ABSL_FLAG(bool, reload, false,
          "Have the classifier reload its model files first.");
ABSL_FLAG(std::string, text, "",
          "Full-text query over title and body: all words must occur; "
          "\"quoted words\" as a phrase.");
ABSL_FLAG(std::string, sort, "",
          "Order: relevance (needs --text; the default with it), published "
          "or ingested (the default without), newest first.");
ABSL_FLAG(std::string, by, "",
          "Count by one of: language, topic, source, day (published, UTC), "
          "ingested_day. Default: by language and by topic.");
ABSL_FLAG(std::string, cursor, "",
          "Resume right after this cursor (printed by an earlier watch); "
          "empty = start now.");
ABSL_FLAG(int64_t, exit_after, 0,
          "Exit after printing this many articles; 0 = run until "
          "interrupted.");
ABSL_FLAG(bool, dry_run, false,
          "Only count the articles that would be re-labeled.");

namespace {

namespace cli = kabar::cli;

cli::FilterOptions FilterFromFlags() {
  cli::FilterOptions filter;
  filter.language = absl::GetFlag(FLAGS_language);
  filter.topic = absl::GetFlag(FLAGS_topic);
  filter.source = absl::GetFlag(FLAGS_source);
  filter.published_after = absl::GetFlag(FLAGS_published_after);
  filter.published_before = absl::GetFlag(FLAGS_published_before);
  filter.ingested_after = absl::GetFlag(FLAGS_ingested_after);
  filter.ingested_before = absl::GetFlag(FLAGS_ingested_before);
  filter.min_language_confidence = absl::GetFlag(FLAGS_min_language_confidence);
  filter.min_topic_confidence = absl::GetFlag(FLAGS_min_topic_confidence);
  return filter;
}

int Usage(const std::string& command, const std::string& message) {
  std::cerr << "kabar " << command << ": " << message << " (see kabar "
            << command << " --help)\n";
  return cli::kUsageExitCode;
}

// Runs `command` with its positional arguments, flags already parsed.
int Run(const std::string& command, const std::vector<std::string>& args) {
  cli::ServiceOptions services;
  services.ingest_address = absl::GetFlag(FLAGS_ingest);
  services.store_address = absl::GetFlag(FLAGS_store);
  services.classifier_address = absl::GetFlag(FLAGS_classifier);
  services.timeout = absl::GetFlag(FLAGS_timeout);
  absl::StatusOr<kabar::client::ClientSecurity> security =
      kabar::client::ClientSecurityFromFlags();
  if (!security.ok())
    return Usage(command, std::string(security.status().message()));
  services.security = *std::move(security);
  services.request_id = absl::GetFlag(FLAGS_request_id);
  services.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (services.max_message_bytes < 1024) {
    return Usage(command, "--max_message_bytes must be at least 1024");
  }
  if (services.request_id.empty()) {
    services.request_id = kabar::common::NewRequestId();
  } else if (kabar::common::SanitizeRequestId(services.request_id).empty()) {
    return Usage(command,
                 "--request_id must be 1 to 128 printable characters without spaces, "
                 "quotes or backslashes");
  }
  // Also for calls made without ServiceOptions (kabar health).
  kabar::common::ScopedRequestId request_scope(services.request_id);
  const absl::StatusOr<cli::OutputFormat> format =
      cli::ParseOutputFormat(absl::GetFlag(FLAGS_format));
  if (!format.ok())
    return Usage(command, std::string(format.status().message()));
  const auto no_arguments = [&]() { return args.empty(); };

  if (command == "ingest") {
    if (absl::GetFlag(FLAGS_window) < 1 ||
        absl::GetFlag(FLAGS_max_line_bytes) < 1) {
      return Usage(command, "--window and --max_line_bytes must be positive");
    }
    if (!(absl::GetFlag(FLAGS_max_rate) >= 0)) {
      return Usage(command, "--max_rate must be 0 (no limit) or positive");
    }
    cli::IngestOptions options;
    options.window = absl::GetFlag(FLAGS_window);
    options.max_rate = absl::GetFlag(FLAGS_max_rate);
    options.max_reconnects = absl::GetFlag(FLAGS_reconnects);
    options.max_line_bytes =
        static_cast<size_t>(absl::GetFlag(FLAGS_max_line_bytes));
    options.show_progress =
        absl::GetFlag(FLAGS_progress) && ::isatty(STDERR_FILENO);
    return cli::RunIngestCommand(services, args, options, std::cerr);
  }
  if (command == "query") {
    if (!no_arguments()) return Usage(command, "takes no arguments");
    cli::QueryOptions options;
    options.filter = FilterFromFlags();
    options.text = absl::GetFlag(FLAGS_text);
    options.sort = absl::GetFlag(FLAGS_sort);
    options.limit = absl::GetFlag(FLAGS_limit);
    options.format = *format;
    options.line_width = cli::StdoutLineWidth();
    return cli::RunQueryCommand(services, options, std::cout, std::cerr);
  }
  if (command == "get") {
    if (args.size() != 1) return Usage(command, "expects one article ID");
    return cli::RunGetCommand(services, args[0], *format, std::cout, std::cerr);
  }
  if (command == "stats") {
    if (!no_arguments()) return Usage(command, "takes no arguments");
    return cli::RunStatsCommand(
        services, FilterFromFlags(), absl::GetFlag(FLAGS_text),
        absl::GetFlag(FLAGS_by), *format, std::cout, std::cerr);
  }
  if (command == "watch") {
    if (!no_arguments()) return Usage(command, "takes no arguments");
    cli::WatchOptions options;
    options.filter = FilterFromFlags();
    options.cursor = absl::GetFlag(FLAGS_cursor);
    options.format = *format;
    options.line_width = cli::StdoutLineWidth();
    options.max_reconnects = absl::GetFlag(FLAGS_reconnects);
    options.exit_after = absl::GetFlag(FLAGS_exit_after);
    return cli::RunWatchCommand(services, options, std::cout, std::cerr);
  }
  if (command == "classify") {
    absl::StatusOr<std::string> text =
        cli::ClassifyTextFromArguments(args, STDIN_FILENO);
    if (!text.ok()) return Usage(command, std::string(text.status().message()));
    cli::ClassifyOptions options;
    options.title = absl::GetFlag(FLAGS_title);
    options.text = *std::move(text);
    options.top_k = absl::GetFlag(FLAGS_top_k);
    options.format = *format;
    return cli::RunClassifyCommand(services, options, std::cout, std::cerr);
  }
  if (command == "health") {
    return cli::RunHealthCommand(services, args, absl::GetFlag(FLAGS_service),
                                 std::cout, std::cerr);
  }
  if (command == "models") {
    if (!no_arguments()) return Usage(command, "takes no arguments");
    if (absl::GetFlag(FLAGS_reload)) {
      return cli::RunReloadModelsCommand(services, *format, std::cout,
                                         std::cerr);
    }
    return cli::RunModelsCommand(services, *format, std::cout, std::cerr);
  }
  if (command == "backfill") {
    if (!no_arguments()) return Usage(command, "takes no arguments");
    if (absl::GetFlag(FLAGS_top_k) < 0) {
      return Usage(command, "--top_k must not be negative");
    }
    cli::BackfillOptions options;
    options.dry_run = absl::GetFlag(FLAGS_dry_run);
    options.top_k_topics = absl::GetFlag(FLAGS_top_k);
    options.show_progress =
        absl::GetFlag(FLAGS_progress) && ::isatty(STDERR_FILENO);
    return cli::RunBackfillCommand(services, FilterFromFlags(), options,
                                   std::cout, std::cerr);
  }
  return Usage(command,
               "is not implemented");  // Commands() and Run() disagree.
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "";
  if (name == "--help" || name == "-h" || name == "help" || name == "-help") {
    std::cout << cli::MainUsage();
    return 0;
  }
  const cli::CommandSpec* command = cli::FindCommand(name);
  if (command == nullptr) {
    if (!name.empty())
      std::cerr << "kabar: unknown command \"" << name << "\"\n\n";
    std::cerr << cli::MainUsage();
    return cli::kUsageExitCode;
  }
  const std::vector<std::string> rest(argv + 2, argv + argc);
  if (cli::WantsHelp(rest)) {
    std::cout << cli::CommandUsage(*command);
    return 0;
  }
  if (const absl::Status status = cli::CheckFlagsApply(*command, rest);
      !status.ok()) {
    return Usage(name, std::string(status.message()));
  }
  // argv[1], the command name, stands in for the program name.
  const std::vector<char*> positional = kabar::common::ParseFlags(
      argc - 1, argv + 1, cli::CommandUsage(*command));
  return Run(
      name, std::vector<std::string>(positional.begin() + 1, positional.end()));
}
