// Copyright kabar authors.
#include "clients/cli/commands.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "clients/cpp/security_flags.h"
#include "absl/time/clock.h"
#include "services/common/status_macros.h"
#include "services/common/text.h"

namespace kabar::cli {
namespace {

constexpr size_t kMaxClassifyTextBytes = size_t{8} << 20;

// The first line of a flag's help is indented this far in usage texts.
constexpr char kFlagIndent[] = "      ";

const std::vector<const char*>& FilterFlags() {
  static const auto* const flags =
      new std::vector<const char*>{"language",
                                   "topic",
                                   "source",
                                   "published_after",
                                   "published_before",
                                   "ingested_after",
                                   "ingested_before",
                                   "min_language_confidence",
                                   "min_topic_confidence"};
  return *flags;
}

std::vector<const char*> Concat(std::vector<const char*> a,
                                const std::vector<const char*>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// "--name=DEFAULT\n      help" for one defined flag.
std::string DescribeFlag(const char* name) {
  const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
  if (flag == nullptr) return absl::StrCat("  --", name, "\n");
  std::string default_value = flag->DefaultValue();
  if (default_value.empty()) default_value = "\"\"";
  return absl::StrCat("  --", name, " (default: ", default_value, ")\n",
                      kFlagIndent, flag->Help(), "\n");
}

// Prints `status` as the failure of command `name` and returns 1.
int Fail(absl::string_view name, const absl::Status& status,
         std::ostream& err) {
  err << "kabar " << name << ": " << status.ToString() << "\n";
  return 1;
}

int UsageError(absl::string_view name, absl::string_view message,
               std::ostream& err) {
  err << "kabar " << name << ": " << message << " (see kabar " << name
      << " --help)\n";
  return kUsageExitCode;
}

client::ClientOptions ClientFor(const std::string& address,
                                const ServiceOptions& services) {
  client::ClientOptions options;
  options.address = address;
  options.timeout = services.timeout;
  options.security = services.security;
  options.request_id = services.request_id;
  options.max_message_bytes = services.max_message_bytes;
  return options;
}

absl::Status SetTime(absl::string_view flag, const std::string& text,
                     google::protobuf::Timestamp* out) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<google::protobuf::Timestamp> time = ParseTimestamp(text);
  if (!time.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", flag, ": ", time.status().message()));
  }
  *out = *std::move(time);
  return absl::OkStatus();
}

absl::Status CheckConfidence(absl::string_view flag, double value) {
  if (value >= 0 && value <= 1) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--", flag, " must be in [0, 1], got ", value));
}

}  // namespace

const std::vector<const char*>& GlobalFlags() {
  static const auto* const flags = new std::vector<const char*>(
      Concat({"ingest", "store", "classifier", "timeout", "request_id",
              "max_message_bytes"},
             client::ClientSecurityFlagNames()));
  return *flags;
}

const std::vector<CommandSpec>& Commands() {
  static const auto* const commands = new std::vector<CommandSpec>{
      {"ingest",
       "[FILE...|-]",
       "Send articles to the ingest service.",
       "Reads articles and streams them to the ingest service (--ingest).\n"
       "Inputs: \"-\" (standard input, the default) and files ending in\n"
       ".jsonl, .ndjson or .json are JSON Lines, one article per line:\n"
       "  {\"id\": \"...\", \"url\": \"...\", \"source\": \"...\", "
       "\"title\": \"...\",\n"
       "   \"body\": \"...\", \"published_at\": "
       "\"2024-05-01T08:00:00+07:00\",\n"
       "   \"metadata\": {\"author\": \"...\"}}\n"
       "Only \"body\" (or its alias \"text\") is required; unknown fields "
       "are\nignored with a warning. Any other file is one plain-text "
       "article: its\nfirst line is the title, the rest the body.\n\n"
       "Bad lines are reported as FILE:LINE: reason and skipped; the server's\n"
       "rejections as FILE:LINE: rejected: reason. A summary line ends the "
       "run.\n\n"
       "Exit status: 0 when every article was accepted or a duplicate, 1 "
       "when\nany was rejected, 2 when the stream failed (articles without "
       "an ack\nwere not stored; resending them is safe). The summary gives "
       "the median\nand 99th-percentile time from sending an article to its "
       "ack.",
       {"window", "max_line_bytes", "progress", "reconnects", "max_rate"}},
      {"query", "", "List or search stored articles.",
       "Lists articles from the store (--store) matching every filter "
       "given.\nTimes are RFC 3339 (2024-05-01T08:00:00Z) or dates "
       "(2024-05-01);\nranges are [after, before). --text searches title "
       "and body: every word\nmust occur (\"quoted words\" as a phrase), "
       "best matches first, each with a\nsnippet marking the matched words "
       "[like this]. --sort orders by\nrelevance (needs --text), published "
       "or ingested time, newest first.\n--format=jsonl prints one JSON "
       "object per article with full ids; the\ntable shortens ids and "
       "titles.",
       Concat(FilterFlags(), {"text", "sort", "limit", "format"})},
      {"get",
       "ID",
       "Show one stored article, body included.",
       "Prints the article with this id: every field, the labels and the "
       "body.\n--format=json prints one JSON object.",
       {"format"}},
      {"stats", "", "Count stored articles by language, topic, source or day.",
       "Counts the articles matching the filters (and --text), in total and "
       "by\nlanguage and by top topic; with --by, by that one of language, "
       "topic,\nsource, day (published, UTC) or ingested_day instead "
       "(days oldest first,\nthe rest most frequent first). "
       "--format=jsonl with --by prints one\n{\"BY\": ..., \"count\": N} "
       "object per line.",
       Concat(FilterFlags(), {"text", "by", "format"})},
      {"watch", "", "Print articles as they are stored.",
       "Streams the articles the store (--store) stores from now on that "
       "match\nthe filters, one line each (or one JSON object per line "
       "with\n--format=jsonl: {\"cursor\": ..., \"article\": {...}}). "
       "Every article comes\nwith a cursor, and the starting cursor is "
       "printed on standard error:\n--cursor=C resumes right after C, "
       "with nothing missed or repeated. When\nthe stream breaks (the store "
       "restarted) it reconnects by itself from its\nlast cursor, up to "
       "--reconnects times in a row. Runs until interrupted,\nor until "
       "--exit_after articles were printed.",
       Concat(FilterFlags(), {"cursor", "reconnects", "exit_after", "format"})},
      {"classify",
       "[TEXT...|-]",
       "Label a text without storing it.",
       "Asks the classifier (--classifier) for the language and topics of "
       "TEXT,\nor of standard input when TEXT is \"-\" or missing. Nothing "
       "is stored.",
       {"title", "top_k", "format"}},
      {"health",
       "[ADDR|ingest|store|classifier...]",
       "Check that services are serving.",
       "Runs the standard grpc.health.v1 check against each target: an "
       "address,\nor ingest/store/classifier for the configured ones (all "
       "three when none\nis given). Exit status 0 when every target is "
       "SERVING, else 1.",
       {"service"}},
      {"models",
       "",
       "Show the classifier's loaded models.",
       "Lists the models the classifier (--classifier) has loaded: role, "
       "file,\nSHA-256, label count, size and load time. With --reload, "
       "first has it\nreload its model files (as SIGHUP does) and lists the "
       "models now loaded;\na failed reload keeps the old models and exits "
       "1. Behind a load balancer\nthis reaches one replica: give each "
       "replica's address to reload them all.",
       {"format", "reload"}},
      {"backfill", "", "Re-label stored articles after a model change.",
       "Asks the classifier (--classifier) which models it has loaded, pages "
       "through\nthe store (--store) and re-classifies every article whose "
       "labels came from\nanother language or topic model, writing the new "
       "labels back. An update\napplies only if the article still has the "
       "labels it was read with, so\nconcurrent backfills never overwrite "
       "newer labels (such articles count as\nskipped). Filters narrow "
       "which articles are considered, as in kabar query;\n--dry_run only "
       "counts the stale articles. Safe to interrupt and rerun: a\nsecond "
       "run updates only what is still stale.\n\nExit status: 0 when the "
       "run completed, 1 when a call failed.",
       Concat(FilterFlags(), {"dry_run", "top_k", "progress"})},
  };
  return *commands;
}

const CommandSpec* FindCommand(absl::string_view name) {
  for (const CommandSpec& command : Commands()) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

std::string MainUsage() {
  std::string out =
      "kabar: command-line client for the kabar news ingestion and "
      "classification\nservices.\n\nusage: kabar COMMAND [ARGS...] "
      "[FLAGS...]\n\ncommands:\n";
  size_t width = 0;
  for (const CommandSpec& command : Commands()) {
    width = std::max(width, std::strlen(command.name));
  }
  for (const CommandSpec& command : Commands()) {
    absl::StrAppend(&out, "  ", command.name,
                    std::string(width - std::strlen(command.name) + 2, ' '),
                    command.summary, "\n");
  }
  absl::StrAppend(&out, "\nglobal flags:\n");
  for (const char* flag : GlobalFlags())
    absl::StrAppend(&out, DescribeFlag(flag));
  absl::StrAppend(&out,
                  "\nEvery flag can also be set from the environment as "
                  "KABAR_<FLAG>, e.g.\nKABAR_STORE=store:7703. Run "
                  "\"kabar COMMAND --help\" for a command's flags.\n");
  return out;
}

std::string CommandUsage(const CommandSpec& command) {
  std::string out = absl::StrCat("usage: kabar ", command.name);
  if (*command.arguments != '\0') absl::StrAppend(&out, " ", command.arguments);
  absl::StrAppend(&out, " [FLAGS...]\n\n", command.summary, "\n\n",
                  command.details, "\n");
  if (!command.flags.empty()) {
    absl::StrAppend(&out, "\nflags:\n");
    for (const char* flag : command.flags) {
      absl::StrAppend(&out, DescribeFlag(flag));
    }
  }
  absl::StrAppend(&out, "\nglobal flags:\n");
  for (const char* flag : GlobalFlags())
    absl::StrAppend(&out, DescribeFlag(flag));
  return out;
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "-h" || arg == "-help" || arg == "--help" ||
        arg == "--helpshort" || arg == "-helpshort") {
      return true;
    }
  }
  return false;
}

absl::Status CheckFlagsApply(const CommandSpec& command,
                             const std::vector<std::string>& args) {
  const auto applies = [&](absl::string_view name) {
    for (const auto* list : {&command.flags, &GlobalFlags()}) {
      for (const char* flag : *list) {
        if (name == flag) return true;
      }
    }
    return false;
  };
  for (const std::string& arg : args) {
    if (arg == "--") break;
    absl::string_view name = arg;
    if (!absl::ConsumePrefix(&name, "-")) continue;
    absl::ConsumePrefix(&name, "-");
    name = name.substr(0, name.find('='));
    if (name.empty()) continue;
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr && absl::ConsumePrefix(&name, "no")) {
      flag = absl::FindCommandLineFlag(name);  // --noprogress
    }
    // Unknown flags and Abseil's own (--flagfile...) are the parser's job.
    if (flag == nullptr || absl::StrContains(flag->Filename(), "absl/")) {
      continue;
    }
    if (!applies(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--", name, " does not apply to \"kabar ", command.name, "\""));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ArticleFilter> BuildFilter(const FilterOptions& options) {
  v1::ArticleFilter filter;
  filter.set_language(options.language);
  filter.set_topic(options.topic);
  filter.set_source(options.source);
  KABAR_RETURN_IF_ERROR(SetTime("published_after", options.published_after,
                                filter.mutable_published_after()));
  KABAR_RETURN_IF_ERROR(SetTime("published_before", options.published_before,
                                filter.mutable_published_before()));
  KABAR_RETURN_IF_ERROR(SetTime("ingested_after", options.ingested_after,
                                filter.mutable_ingested_after()));
  KABAR_RETURN_IF_ERROR(SetTime("ingested_before", options.ingested_before,
                                filter.mutable_ingested_before()));
  KABAR_RETURN_IF_ERROR(CheckConfidence("min_language_confidence",
                                        options.min_language_confidence));
  KABAR_RETURN_IF_ERROR(
      CheckConfidence("min_topic_confidence", options.min_topic_confidence));
  filter.set_min_language_confidence(
      static_cast<float>(options.min_language_confidence));
  filter.set_min_topic_confidence(
      static_cast<float>(options.min_topic_confidence));
  // An unset time field means "no bound"; drop the empty messages that
  // mutable_*() created so they do not read as the epoch.
  if (options.published_after.empty()) filter.clear_published_after();
  if (options.published_before.empty()) filter.clear_published_before();
  if (options.ingested_after.empty()) filter.clear_ingested_after();
  if (options.ingested_before.empty()) filter.clear_ingested_before();
  return filter;
}

int RunIngestCommand(const ServiceOptions& services,
                     const std::vector<std::string>& inputs,
                     const IngestOptions& options, std::ostream& err) {
  const client::IngestClient client(
      ClientFor(services.ingest_address, services));
  const IngestStreamFactory open_stream = [&client]() {
    return WrapIngestStreamCall(client.OpenStream());
  };
  const std::vector<std::string> default_inputs = {"-"};
  if (inputs.empty() && ::isatty(options.stdin_fd)) {
    err << "kabar ingest: reading JSON Lines from the terminal; end with "
           "Ctrl-D\n";
  }
  const IngestSummary summary = RunIngest(
      inputs.empty() ? default_inputs : inputs, open_stream, options, &err);
  return summary.ExitCode();
}

size_t StdoutLineWidth() {
  struct winsize size;
  if (::isatty(STDOUT_FILENO) &&
      ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
    return size.ws_col;
  }
  size_t columns = 0;
  const char* env = std::getenv("COLUMNS");
  if (env != nullptr && absl::SimpleAtoi(env, &columns) && columns > 0) {
    return columns;
  }
  return 120;
}

int RunQueryCommand(const ServiceOptions& services, const QueryOptions& options,
                    std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::ArticleFilter> filter = BuildFilter(options.filter);
  if (!filter.ok()) return UsageError("query", filter.status().message(), err);
  filter->set_text(options.text);
  const absl::StatusOr<v1::QuerySort> sort = ParseSort(options.sort);
  if (!sort.ok()) return UsageError("query", sort.status().message(), err);
  if (*sort == v1::QUERY_SORT_RELEVANCE && options.text.empty()) {
    return UsageError("query", "--sort=relevance needs --text", err);
  }
  const client::StoreClient store(ClientFor(services.store_address, services));

  constexpr int64_t kMaxPageSize = 1000;
  const bool unlimited = options.limit <= 0;
  int64_t remaining = options.limit;
  v1::QueryArticlesRequest request;
  *request.mutable_filter() = *std::move(filter);
  request.set_sort(*sort);
  std::vector<v1::StoredArticle> table_rows;
  std::vector<v1::TextMatch> table_matches;
  int64_t printed = 0;
  do {
    request.set_page_size(static_cast<int32_t>(
        unlimited ? kMaxPageSize : std::min(remaining, kMaxPageSize)));
    absl::StatusOr<v1::QueryArticlesResponse> page =
        store.QueryArticles(request);
    if (!page.ok()) return Fail("query", page.status(), err);
    const bool has_matches =
        page->matches_size() == page->articles_size() && !options.text.empty();
    for (int i = 0; i < page->articles_size(); ++i) {
      if (!unlimited && remaining <= 0) break;
      --remaining;
      ++printed;
      v1::StoredArticle& article = *page->mutable_articles(i);
      const v1::TextMatch match =
          has_matches ? page->matches(i) : v1::TextMatch();
      if (options.format == OutputFormat::kJson) {
        out << DumpJson(has_matches ? SearchResultToJson(article, match)
                                    : StoredArticleToJson(article, false))
            << "\n";
      } else {
        table_rows.push_back(std::move(article));
        table_matches.push_back(match);
      }
    }
    out.flush();
    request.set_page_token(page->next_page_token());
  } while (!request.page_token().empty() && (unlimited || remaining > 0));

  if (options.format == OutputFormat::kTable) {
    if (table_rows.empty()) {
      err << "no matching articles\n";
    } else {
      out << (options.text.empty()
                  ? ArticlesTable(table_rows, options.line_width)
                  : SearchResultsTable(table_rows, table_matches,
                                       options.line_width));
    }
  }
  return 0;
}

absl::StatusOr<v1::QuerySort> ParseSort(absl::string_view text) {
  if (text.empty()) return v1::QUERY_SORT_UNSPECIFIED;
  if (text == "relevance") return v1::QUERY_SORT_RELEVANCE;
  if (text == "published") return v1::QUERY_SORT_PUBLISHED;
  if (text == "ingested") return v1::QUERY_SORT_INGESTED;
  return absl::InvalidArgumentError(
      absl::StrCat("--sort must be relevance, published or ingested, got \"",
                   absl::CHexEscape(text), "\""));
}

absl::StatusOr<v1::CountDimension> ParseCountDimension(absl::string_view text) {
  if (text.empty()) return v1::COUNT_DIMENSION_UNSPECIFIED;
  if (text == "language") return v1::COUNT_DIMENSION_LANGUAGE;
  if (text == "topic") return v1::COUNT_DIMENSION_TOPIC;
  if (text == "source") return v1::COUNT_DIMENSION_SOURCE;
  if (text == "day") return v1::COUNT_DIMENSION_PUBLISHED_DAY;
  if (text == "ingested_day") return v1::COUNT_DIMENSION_INGESTED_DAY;
  return absl::InvalidArgumentError(absl::StrCat(
      "--by must be language, topic, source, day or ingested_day, got \"",
      absl::CHexEscape(text), "\""));
}

int RunWatchCommand(const ServiceOptions& services, const WatchOptions& options,
                    std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::ArticleFilter> filter = BuildFilter(options.filter);
  if (!filter.ok()) return UsageError("watch", filter.status().message(), err);
  if (options.exit_after < 0 || options.max_reconnects < 0) {
    return UsageError("watch", "--exit_after and --reconnects must be >= 0",
                      err);
  }
  const client::StoreClient store(ClientFor(services.store_address, services));
  v1::WatchArticlesRequest request;
  *request.mutable_filter() = *std::move(filter);
  request.set_cursor(options.cursor);
  int64_t printed = 0;
  int failures = 0;
  bool announced = false;
  while (true) {
    const std::unique_ptr<client::WatchCall> call =
        store.WatchArticles(request);
    v1::WatchArticlesResponse message;
    while (call->Read(&message)) {
      failures = 0;
      request.set_cursor(message.cursor());
      if (!message.has_article()) {
        if (!announced) {
          err << "kabar watch: watching from cursor " << message.cursor()
              << " (resume with --cursor=" << message.cursor() << ")\n";
          announced = true;
        }
        continue;
      }
      if (options.format == OutputFormat::kJson) {
        out << DumpJson(WatchMessageToJson(message)) << "\n";
      } else {
        out << WatchLine(message, options.line_width) << "\n";
      }
      out.flush();
      if (options.exit_after > 0 && ++printed >= options.exit_after) {
        call->Cancel();
        while (call->Read(&message)) {
        }
        call->Finish().IgnoreError();
        return 0;
      }
    }
    const absl::Status status = call->Finish();
    const bool retryable = status.code() == absl::StatusCode::kUnavailable ||
                           status.code() == absl::StatusCode::kCancelled;
    if (!retryable || failures >= options.max_reconnects) {
      return Fail("watch", status, err);
    }
    ++failures;
    err << "kabar watch: " << status.message() << "; reconnecting"
        << (request.cursor().empty()
                ? std::string()
                : absl::StrCat(" from cursor ", request.cursor()))
        << " (" << failures << "/" << options.max_reconnects << ")\n";
    absl::SleepFor(options.reconnect_delay);
  }
}

int RunGetCommand(const ServiceOptions& services, const std::string& id,
                  OutputFormat format, std::ostream& out, std::ostream& err) {
  const client::StoreClient store(ClientFor(services.store_address, services));
  absl::StatusOr<v1::StoredArticle> article = store.GetArticle(id);
  if (!article.ok()) return Fail("get", article.status(), err);
  if (format == OutputFormat::kJson) {
    out << DumpJson(StoredArticleToJson(*article, true), 2) << "\n";
  } else {
    out << ArticleDetails(*article);
  }
  return 0;
}

int RunStatsCommand(const ServiceOptions& services,
                    const FilterOptions& filter_options,
                    const std::string& text, const std::string& by,
                    OutputFormat format, std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::ArticleFilter> filter = BuildFilter(filter_options);
  if (!filter.ok()) return UsageError("stats", filter.status().message(), err);
  filter->set_text(text);
  const absl::StatusOr<v1::CountDimension> dimension = ParseCountDimension(by);
  if (!dimension.ok()) {
    return UsageError("stats", dimension.status().message(), err);
  }
  const client::StoreClient store(ClientFor(services.store_address, services));
  v1::CountArticlesRequest request;
  *request.mutable_filter() = *std::move(filter);
  request.set_group_by(*dimension);
  absl::StatusOr<v1::CountArticlesResponse> counts =
      store.CountArticles(request);
  if (!counts.ok()) return Fail("stats", counts.status(), err);
  if (*dimension != v1::COUNT_DIMENSION_UNSPECIFIED) {
    if (format == OutputFormat::kJson) {
      for (const v1::LabelCount& group : counts->groups()) {
        out << DumpJson(GroupCountToJson(group, by)) << "\n";
      }
    } else {
      out << GroupCountsDetails(*counts, by);
    }
    return 0;
  }
  if (format == OutputFormat::kJson) {
    out << DumpJson(CountsToJson(*counts), 2) << "\n";
  } else {
    out << CountsDetails(*counts);
  }
  return 0;
}

absl::StatusOr<std::string> ClassifyTextFromArguments(
    const std::vector<std::string>& args, int stdin_fd) {
  std::string text;
  if (args.empty() || (args.size() == 1 && args[0] == "-")) {
    char buffer[64 << 10];
    while (text.size() <= kMaxClassifyTextBytes) {
      const ssize_t got = ::read(stdin_fd, buffer, sizeof(buffer));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("cannot read standard input: ", std::strerror(errno)));
      }
      if (got == 0) break;
      text.append(buffer, static_cast<size_t>(got));
    }
    if (text.size() > kMaxClassifyTextBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "standard input is over ", kMaxClassifyTextBytes, " bytes"));
    }
  } else {
    text = absl::StrJoin(args, " ");
  }
  if (absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError("no text to classify");
  }
  KABAR_RETURN_IF_ERROR(common::ValidateUtf8(text));
  return text;
}

int RunClassifyCommand(const ServiceOptions& services,
                       const ClassifyOptions& options, std::ostream& out,
                       std::ostream& err) {
  const client::ClassifyClient classifier(
      ClientFor(services.classifier_address, services));
  v1::ClassifyBatchRequest request;
  v1::TextToClassify* text = request.add_texts();
  text->set_title(options.title);
  text->set_body(options.text);
  request.set_top_k_topics(options.top_k);
  absl::StatusOr<v1::ClassifyBatchResponse> response =
      classifier.ClassifyBatch(request);
  if (!response.ok()) return Fail("classify", response.status(), err);
  if (response->labels_size() != 1) {
    return Fail("classify",
                absl::InternalError(absl::StrCat(
                    classifier.peer(), " answered with ",
                    response->labels_size(), " labels for 1 text")),
                err);
  }
  if (options.format == OutputFormat::kJson) {
    out << DumpJson(LabelsToJson(response->labels(0)), 2) << "\n";
  } else {
    out << LabelsDetails(response->labels(0));
  }
  return 0;
}

int RunHealthCommand(const ServiceOptions& services,
                     const std::vector<std::string>& targets,
                     const std::string& service, std::ostream& out,
                     std::ostream& err) {
  std::vector<std::string> addresses;
  const std::vector<std::string> all = {"ingest", "store", "classifier"};
  for (const std::string& target : targets.empty() ? all : targets) {
    if (target == "ingest") {
      addresses.push_back(services.ingest_address);
    } else if (target == "store") {
      addresses.push_back(services.store_address);
    } else if (target == "classifier" || target == "classify") {
      addresses.push_back(services.classifier_address);
    } else {
      addresses.push_back(target);
    }
  }
  int exit_code = 0;
  for (const std::string& address : addresses) {
    const absl::Status status =
        client::CheckHealth(ClientFor(address, services), service);
    if (status.ok()) {
      out << address << ": SERVING\n";
    } else {
      err << "kabar health: " << status.message() << "\n";
      exit_code = 1;
    }
  }
  return exit_code;
}

int RunModelsCommand(const ServiceOptions& services, OutputFormat format,
                     std::ostream& out, std::ostream& err) {
  const client::ClassifyClient classifier(
      ClientFor(services.classifier_address, services));
  absl::StatusOr<v1::GetModelsResponse> models = classifier.GetModels();
  if (!models.ok()) return Fail("models", models.status(), err);
  if (format == OutputFormat::kJson) {
    out << DumpJson(ModelsToJson(*models), 2) << "\n";
  } else if (models->models().empty()) {
    err << "no models loaded\n";
  } else {
    out << ModelsTable(*models);
  }
  return 0;
}

int RunReloadModelsCommand(const ServiceOptions& services, OutputFormat format,
                           std::ostream& out, std::ostream& err) {
  const client::ClassifyClient classifier(
      ClientFor(services.classifier_address, services));
  absl::StatusOr<v1::ReloadModelsResponse> reloaded = classifier.ReloadModels();
  if (!reloaded.ok()) return Fail("models", reloaded.status(), err);
  // The same description GetModels gives, printed the same way.
  v1::GetModelsResponse models;
  *models.mutable_models() = std::move(*reloaded->mutable_models());
  if (format == OutputFormat::kJson) {
    out << DumpJson(ModelsToJson(models), 2) << "\n";
  } else {
    err << "reloaded " << classifier.peer() << "\n";
    out << ModelsTable(models);
  }
  return 0;
}

int RunBackfillCommand(const ServiceOptions& services,
                       const FilterOptions& filter, BackfillOptions options,
                       std::ostream& out, std::ostream& err) {
  absl::StatusOr<v1::ArticleFilter> store_filter = BuildFilter(filter);
  if (!store_filter.ok()) {
    return UsageError("backfill", store_filter.status().message(), err);
  }
  options.filter = *std::move(store_filter);
  const client::ClassifyClient classifier(
      ClientFor(services.classifier_address, services));
  const client::StoreClient store(ClientFor(services.store_address, services));
  BackfillServices calls;
  calls.get_models = [&classifier]() { return classifier.GetModels(); };
  calls.query_articles = [&store](const v1::QueryArticlesRequest& request) {
    return store.QueryArticles(request);
  };
  calls.classify_batch =
      [&classifier](const v1::ClassifyBatchRequest& request) {
        return classifier.ClassifyBatch(request);
      };
  calls.update_labels = [&store](const v1::UpdateLabelsRequest& request) {
    return store.UpdateLabels(request);
  };
  const BackfillSummary summary = RunBackfill(calls, options, &err);
  out << summary.ToString() << "\n";
  if (!summary.status.ok()) Fail("backfill", summary.status, err);
  return summary.ExitCode();
}

}  // namespace kabar::cli
