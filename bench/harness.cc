// Copyright kabar authors.
// Row A calls fastText directly, so this file includes it: it is the
// baseline the issue measures kabar against.
#include "bench/harness.h"

#include <fasttext/fasttext.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "bench/process_stats.h"
#include "clients/cpp/clients.h"
#include "services/classify/fasttext_classifier.h"
#include "services/classify/language_codes.h"
#include "services/common/text.h"
#include "tests/util/service_process.h"

namespace kabar::bench {
namespace {

constexpr char kClassifierServiceName[] = "kabar.v1.ClassifierService";
// What FastTextClassifier asks of the models with default options: the
// language, three runners-up and one more (which makes up for codes merged
// into one) at any probability, and three topics at 0.2 or more.
const int kLanguagePredictions =
    2 + classify::FastTextClassifier::Options().max_language_alternatives;
constexpr int kTopicPredictions = 3;
constexpr float kTopicThreshold = 0.2f;
const float kMinGuessProbability = static_cast<float>(
    classify::FastTextClassifier::Options().min_alternative_confidence);

int Threads(const HarnessOptions& options) {
  return options.threads > 0
             ? options.threads
             : std::max(1u, std::thread::hardware_concurrency());
}

// Runs work(i) for i in [0, count) on `threads` threads pulling indices
// from a shared counter; returns the wall time in seconds.
double RunParallel(int threads, int64_t count,
                   const std::function<void(int64_t)>& work) {
  std::atomic<int64_t> next{0};
  const absl::Time start = absl::Now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (int64_t i; (i = next.fetch_add(1)) < count;) work(i);
    });
  }
  for (std::thread& thread : pool) thread.join();
  return absl::ToDoubleSeconds(absl::Now() - start);
}

// The timed phase shared by the in-process rows: warm up, then classify
// the corpus `passes` times, recording answers from the first pass. The
// same threads do all of it, as a server's workers would, so per-thread
// state (FastPredictor's token caches) survives the warm-up.
// `classify(article, answer)` must be thread-safe.
RowResult TimeInProcess(
    const std::vector<Article>& articles, const HarnessOptions& options,
    const std::function<void(const Article&, Answer*)>& classify) {
  RowResult result;
  const int threads = Threads(options);
  const int64_t n = static_cast<int64_t>(articles.size());
  const int64_t warmup = std::min<int64_t>(options.warmup_articles, n);
  std::vector<Answer> discard(n);
  result.answers.resize(n);

  // Phase 0 warms up; phases 1..passes are timed.
  struct Phase {
    int64_t count = 0;
    std::vector<Answer>* answers = nullptr;
    std::atomic<int64_t> next{0};
    absl::Notification start;
    std::unique_ptr<absl::BlockingCounter> done;
  };
  std::vector<Phase> phases(1 + options.passes);
  for (size_t p = 0; p < phases.size(); ++p) {
    phases[p].count = p == 0 ? warmup : n;
    phases[p].answers = p == 1 ? &result.answers : &discard;
    phases[p].done = std::make_unique<absl::BlockingCounter>(threads);
  }
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (Phase& phase : phases) {
        phase.start.WaitForNotification();
        for (int64_t i; (i = phase.next.fetch_add(1)) < phase.count;) {
          classify(articles[i], &(*phase.answers)[i]);
        }
        phase.done->DecrementCount();
      }
    });
  }
  phases[0].start.Notify();
  phases[0].done->Wait();
  const double cpu_start = SelfCpuSeconds();
  const absl::Time start = absl::Now();
  for (size_t p = 1; p < phases.size(); ++p) {
    phases[p].start.Notify();
    phases[p].done->Wait();
  }
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  result.cpu_seconds = SelfCpuSeconds() - cpu_start;
  for (std::thread& thread : pool) thread.join();
  result.articles = n * options.passes;
  result.bytes = static_cast<int64_t>(TextBytes(articles)) * options.passes;
  result.peak_rss_bytes = PeakRssBytes();
  return result;
}

// Result files from forked rows: one header line, then one line per answer.
std::string Serialize(const RowResult& r) {
  std::string out = absl::StrCat(
      r.articles, "\t", r.bytes, "\t", absl::StrFormat("%.9g", r.wall_seconds),
      "\t", absl::StrFormat("%.9g", r.cpu_seconds), "\t", r.peak_rss_bytes,
      "\t", r.baseline_rss_bytes, "\n");
  for (const Answer& a : r.answers) {
    absl::StrAppend(&out, a.language, "\t",
                    absl::StrFormat("%.9g", a.language_probability), "\t",
                    a.topic, "\t", absl::StrFormat("%.9g", a.topic_probability),
                    "\n");
  }
  return out;
}

absl::StatusOr<RowResult> Deserialize(const std::string& text) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.empty()) return absl::InternalError("empty row result");
  RowResult r;
  std::vector<absl::string_view> head = absl::StrSplit(lines[0], '\t');
  if (head.size() != 6 || !absl::SimpleAtoi(head[0], &r.articles) ||
      !absl::SimpleAtoi(head[1], &r.bytes) ||
      !absl::SimpleAtod(head[2], &r.wall_seconds) ||
      !absl::SimpleAtod(head[3], &r.cpu_seconds) ||
      !absl::SimpleAtoi(head[4], &r.peak_rss_bytes) ||
      !absl::SimpleAtoi(head[5], &r.baseline_rss_bytes)) {
    return absl::InternalError("malformed row result");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<std::string> f = absl::StrSplit(lines[i], '\t');
    Answer a;
    if (f.size() != 4 || !absl::SimpleAtof(f[1], &a.language_probability) ||
        !absl::SimpleAtof(f[3], &a.topic_probability)) {
      return absl::InternalError("malformed answer");
    }
    a.language = f[0];
    a.topic = f[2];
    r.answers.push_back(std::move(a));
  }
  return r;
}

// Runs `row` in a forked child and returns what it returned. The child
// inherits the corpus; its resident size at the start is the baseline.
absl::StatusOr<RowResult> RunForked(
    const std::function<absl::StatusOr<RowResult>()>& row) {
  char path[] = "/tmp/kabar-bench-row-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return absl::InternalError("mkstemp failed");
  close(fd);
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int64_t baseline = RssBytes();
    absl::StatusOr<RowResult> result = row();
    std::ofstream out(path, std::ios::trunc);
    if (result.ok()) {
      result->baseline_rss_bytes = baseline;
      out << Serialize(*result);
    } else {
      out << "error\n" << result.status().ToString();
    }
    out.close();
    std::_Exit(result.ok() && out ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::ifstream in(path);
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  std::filesystem::remove(path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat("row failed: ", text));
  }
  return Deserialize(text);
}

std::string StripLabel(const std::string& label) {
  return std::string(absl::StripPrefix(label, "__label__"));
}

}  // namespace

absl::StatusOr<RowResult> RunFastTextRow(const std::vector<Article>& articles,
                                         const HarnessOptions& options) {
  absl::StatusOr<RowResult> result =
      RunForked([&]() -> absl::StatusOr<RowResult> {
        fasttext::FastText language;
        fasttext::FastText topic;
        try {
          language.loadModel(options.language_model);
          topic.loadModel(options.topic_model);
        } catch (const std::exception& e) {
          return absl::InvalidArgumentError(
              absl::StrCat("cannot load models: ", e.what()));
        }
        const classify::LanguageCodes& codes = classify::LanguageCodes::Default();
        // What a caller of fastText has to do with an article: the same input
        // preparation as kabar's (one line; the topic model's normalization),
        // then predictLine on each model.
        return TimeInProcess(
            articles, options, [&](const Article& article, Answer* answer) {
              std::vector<std::pair<fasttext::real, std::string>> predictions;
              std::string line =
                  common::FlattenForLanguageModel(article.title, article.body);
              if (line.empty()) return;
              std::string topic_line = common::NormalizeForTopicModel(line);
              line.push_back('\n');
              std::istringstream language_in(line);
              language.predictLine(language_in, predictions,
                                   kLanguagePredictions, 0.0f);
              // The classifier names no language below
              // min_alternative_confidence (not even as a guess), so neither
              // does this row.
              // kabar reports codes from its one table (lid.176's "no" is
              // "nb"; "arz" and "ar" are both "ar", their probabilities
              // added), so this row maps fastText's labels the same way.
              std::string best;
              float best_probability = -1;
              for (size_t i = 0; i < predictions.size(); ++i) {
                const std::string code = codes.Map(StripLabel(predictions[i].second));
                float probability = 0;
                bool seen_before = false;
                for (size_t j = 0; j < predictions.size(); ++j) {
                  if (codes.Map(StripLabel(predictions[j].second)) != code) continue;
                  if (j < i) seen_before = true;
                  probability += predictions[j].first;
                }
                if (!seen_before && probability > best_probability) {
                  best = code;
                  best_probability = probability;
                }
              }
              if (!best.empty()) {
                if (best_probability >= kMinGuessProbability) answer->language = best;
                answer->language_probability = best_probability;
              }
              topic_line.push_back('\n');
              std::istringstream topic_in(topic_line);
              topic.predictLine(topic_in, predictions, kTopicPredictions,
                                kTopicThreshold);
              if (!predictions.empty()) {
                answer->topic = StripLabel(predictions[0].second);
                answer->topic_probability = predictions[0].first;
              }
            });
      });
  if (result.ok()) {
    result->row = "A";
    result->description = "fastText predictLine, both models, in process";
  }
  return result;
}

namespace {

// kabar-classify's --kabar_language_model for `options` (empty turns the
// service's default model off).
std::string KabarLanguageModelFlag(const HarnessOptions& options) {
  return "--kabar_language_model=" +
         (options.kabar_language_model.empty()
              ? std::string()
              : std::filesystem::absolute(options.kabar_language_model)
                    .string());
}

}  // namespace

absl::StatusOr<RowResult> RunClassifierRow(const std::vector<Article>& articles,
                                           const HarnessOptions& options,
                                           bool fasttext_engine) {
  absl::StatusOr<RowResult> result =
      RunForked([&]() -> absl::StatusOr<RowResult> {
        classify::FastTextClassifier::Options classifier_options;
        classifier_options.language_model_path = options.language_model;
        classifier_options.topic_model_path = options.topic_model;
        classifier_options.kabar_language_model_path =
            options.kabar_language_model;
        classifier_options.fast_predictor = options.fast_predictor;
        classifier_options.engine =
            fasttext_engine
                ? classify::FastTextClassifier::Options::Engine::kFastText
                : classify::FastTextClassifier::Options::Engine::kFast;
        absl::StatusOr<std::unique_ptr<classify::FastTextClassifier>>
            classifier =
                classify::FastTextClassifier::Create(classifier_options);
        if (!classifier.ok()) return classifier.status();
        if (!fasttext_engine && (!(*classifier)->language_uses_fast_engine() ||
                                 !(*classifier)->topic_uses_fast_engine())) {
          std::fprintf(stderr,
                       "kabar-bench: warning: a model fell back to fastText's "
                       "engine in row B\n");
        }
        return TimeInProcess(
            articles, options, [&](const Article& article, Answer* answer) {
              absl::StatusOr<v1::Labels> labels =
                  (*classifier)->Classify(article.title, article.body, 0);
              if (!labels.ok()) return;
              const v1::LanguageLabel& language = labels->language();
              if (language.code() != classify::kUndeterminedLanguage) {
                answer->language = language.code();
              } else if (language.alternatives_size() > 0) {
                answer->language = language.alternatives(0).label();
              }
              answer->language_probability = language.confidence();
              if (labels->topics_size() > 0) {
                answer->topic = labels->topics(0).label();
                answer->topic_probability = labels->topics(0).confidence();
              }
            });
      });
  if (result.ok()) {
    result->row = fasttext_engine ? "A2" : "B";
    result->description =
        fasttext_engine
            ? "kabar FastTextClassifier, fastText engine, in process"
            : "kabar FastTextClassifier, fast engine, in process";
  }
  return result;
}

absl::StatusOr<RowResult> RunServiceRow(const std::vector<Article>& articles,
                                        const HarnessOptions& options) {
  const int threads = Threads(options);
  const int client_threads =
      options.client_threads > 0 ? options.client_threads : threads;
  const std::string work_dir = testing::MakeTempDir("bench");
  const std::string binary = options.classify_binary.empty()
                                 ? testing::BinaryPath("kabar-classify")
                                 : options.classify_binary;
  absl::StatusOr<std::unique_ptr<testing::ServiceProcess>> service =
      testing::ServiceProcess::Start(
          binary,
          {"--language_model=" +
               std::filesystem::absolute(options.language_model).string(),
           "--topic_model=" +
               std::filesystem::absolute(options.topic_model).string(),
           KabarLanguageModelFlag(options),
           absl::StrCat("--threads=", threads)},
          work_dir, kClassifierServiceName);
  if (!service.ok()) return service.status();

  client::ClientOptions client_options;
  client_options.address = (*service)->address();
  client_options.timeout = absl::Seconds(120);
  const client::ClassifyClient client(client_options);
  const int64_t n = static_cast<int64_t>(articles.size());
  const int64_t batch = std::max(1, options.batch_size);
  absl::Status failure;
  absl::Mutex failure_mu;

  // Sends articles [begin, end) as one batch; answers go to `answers`
  // (indexed from 0 = articles[0]) when not null.
  const auto send = [&](int64_t begin, int64_t end,
                        std::vector<Answer>* answers) {
    v1::ClassifyBatchRequest request;
    for (int64_t i = begin; i < end; ++i) {
      v1::TextToClassify* text = request.add_texts();
      text->set_title(articles[i].title);
      text->set_body(articles[i].body);
    }
    absl::StatusOr<v1::ClassifyBatchResponse> response =
        client.ClassifyBatch(request);
    if (!response.ok()) {
      absl::MutexLock lock(&failure_mu);
      failure = response.status();
      return;
    }
    if (answers == nullptr) return;
    for (int64_t i = begin; i < end; ++i) {
      const v1::Labels& labels = response->labels(static_cast<int>(i - begin));
      Answer& answer = (*answers)[i];
      const v1::LanguageLabel& language = labels.language();
      if (language.code() != classify::kUndeterminedLanguage) {
        answer.language = language.code();
      } else if (language.alternatives_size() > 0) {
        answer.language = language.alternatives(0).label();
      }
      answer.language_probability = language.confidence();
      if (labels.topics_size() > 0) {
        answer.topic = labels.topics(0).label();
        answer.topic_probability = labels.topics(0).confidence();
      }
    }
  };
  const auto run = [&](int64_t count, std::vector<Answer>* answers) {
    const int64_t batches = (count + batch - 1) / batch;
    return RunParallel(client_threads, batches, [&](int64_t b) {
      send(b * batch, std::min(count, (b + 1) * batch), answers);
    });
  };

  run(std::min<int64_t>(options.warmup_articles, n), nullptr);
  RowResult result;
  result.row = "C";
  result.description =
      absl::StrCat("kabar-classify over gRPC, ", client_threads,
                   " client threads, batches of ", batch);
  result.answers.resize(n);
  const pid_t pid = (*service)->pid();
  const double service_cpu_start = ProcessCpuSeconds(pid);
  const double client_cpu_start = SelfCpuSeconds();
  for (int pass = 0; pass < options.passes; ++pass) {
    result.wall_seconds += run(n, pass == 0 ? &result.answers : nullptr);
  }
  result.cpu_seconds = ProcessCpuSeconds(pid) - service_cpu_start;
  result.client_cpu_seconds = SelfCpuSeconds() - client_cpu_start;
  result.peak_rss_bytes = PeakRssBytes(pid);
  result.articles = n * options.passes;
  result.bytes = static_cast<int64_t>(TextBytes(articles)) * options.passes;
  (void)(*service)->Stop();
  std::filesystem::remove_all(work_dir);
  if (!failure.ok()) return failure;
  return result;
}

absl::StatusOr<RowResult> RunEndToEndRow(const std::vector<Article>& articles,
                                         const HarnessOptions& options,
                                         const EndToEndOptions& end_to_end) {
  const std::string work_dir = testing::MakeTempDir("bench-e2e");
  const auto cleanup = [&] { std::filesystem::remove_all(work_dir); };
  const std::string corpus = work_dir + "/corpus.jsonl";
  if (absl::Status s = WriteJsonLines(articles, corpus); !s.ok()) {
    cleanup();
    return s;
  }
  const int threads = Threads(options);
  const auto start = [&](const std::string& binary,
                         const std::vector<std::string>& args,
                         const std::string& service) {
    return testing::ServiceProcess::Start(testing::BinaryPath(binary), args,
                                          work_dir, service);
  };
  absl::StatusOr<std::unique_ptr<testing::ServiceProcess>> store =
      start("kabar-store",
            {"--db=" + (end_to_end.store_db.empty() ? work_dir + "/kabar.db"
                                                    : end_to_end.store_db)},
            "kabar.v1.StoreService");
  absl::StatusOr<std::unique_ptr<testing::ServiceProcess>> classify =
      start("kabar-classify",
            {"--language_model=" +
                 std::filesystem::absolute(options.language_model).string(),
             "--topic_model=" +
                 std::filesystem::absolute(options.topic_model).string(),
             KabarLanguageModelFlag(options),
             absl::StrCat("--threads=", threads)},
            kClassifierServiceName);
  if (!store.ok() || !classify.ok()) {
    cleanup();
    return !store.ok() ? store.status() : classify.status();
  }
  absl::StatusOr<std::unique_ptr<testing::ServiceProcess>> ingest = start(
      "kabar-ingest",
      {"--classifier=" + (*classify)->address(),
       "--store=" + (*store)->address(), "--spool_dir=" + work_dir + "/spool"},
      "kabar.v1.IngestService");
  if (!ingest.ok()) {
    cleanup();
    return ingest.status();
  }

  // Warm classify up as the other rows are (its caches, its pages).
  {
    client::ClientOptions client_options;
    client_options.address = (*classify)->address();
    const client::ClassifyClient client(client_options);
    const int64_t warmup =
        std::min<int64_t>(options.warmup_articles, articles.size());
    for (int64_t begin = 0; begin < warmup; begin += 64) {
      v1::ClassifyBatchRequest request;
      for (int64_t i = begin; i < std::min<int64_t>(warmup, begin + 64); ++i) {
        v1::TextToClassify* text = request.add_texts();
        text->set_title(articles[i].title);
        text->set_body(articles[i].body);
      }
      (void)client.ClassifyBatch(request);
    }
  }

  const std::vector<const testing::ServiceProcess*> services = {
      store->get(), classify->get(), ingest->get()};
  const auto services_cpu = [&] {
    double total = 0;
    for (const testing::ServiceProcess* service : services) {
      total += ProcessCpuSeconds(service->pid());
    }
    return total;
  };
  const auto children_cpu = [] {
    rusage usage{};
    getrusage(RUSAGE_CHILDREN, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 +
           usage.ru_stime.tv_sec + usage.ru_stime.tv_usec * 1e-6;
  };
  std::vector<double> cpu_start_each;
  for (const testing::ServiceProcess* service : services) {
    cpu_start_each.push_back(ProcessCpuSeconds(service->pid()));
  }
  const double cpu_start = services_cpu();
  const double client_start = children_cpu();
  const absl::Time begin = absl::Now();
  std::string output;
  absl::StatusOr<int> code = testing::RunCommand(
      {testing::BinaryPath("kabar"), "ingest", "--ingest=" + (*ingest)->address(),
       absl::StrCat("--max_rate=", end_to_end.max_rate), corpus},
      &output);
  RowResult result;
  result.wall_seconds = absl::ToDoubleSeconds(absl::Now() - begin);
  result.cpu_seconds = services_cpu() - cpu_start;
  result.client_cpu_seconds = children_cpu() - client_start;
  // Where the CPU went, per 1,000 articles: the place to look first when D
  // falls behind B.
  std::string cpu_split = "CPU s / 1k articles:";
  const char* const names[] = {"store", "classify", "ingest"};
  const double per_k = 1000.0 / std::max<size_t>(1, articles.size());
  for (size_t i = 0; i < services.size(); ++i) {
    absl::StrAppend(&cpu_split, " ", names[i], " ",
                    absl::StrFormat("%.3f", (ProcessCpuSeconds(services[i]->pid()) -
                                             cpu_start_each[i]) * per_k),
                    ",");
  }
  absl::StrAppend(&cpu_split, " client ",
                  absl::StrFormat("%.3f", result.client_cpu_seconds * per_k));
  result.peak_rss_bytes = 0;
  for (const testing::ServiceProcess* service : services) {
    result.peak_rss_bytes += PeakRssBytes(service->pid());
  }
  for (auto* service : {&*ingest, &*classify, &*store}) {
    (void)(*service)->Stop();
  }
  cleanup();
  if (!code.ok()) return code.status();
  if (*code != 0) {
    return absl::InternalError(absl::StrCat("kabar ingest exited with ", *code,
                                            ": ", output.substr(0, 2000)));
  }
  result.row = end_to_end.row;
  result.description = absl::StrCat(
      "end to end: kabar ingest -> ingest -> classify -> store (",
      end_to_end.store_db.empty() ? "SQLite" : "PostgreSQL", "), all acknowledged",
      end_to_end.max_rate > 0
          ? absl::StrFormat(", paced at %.0f articles/s", end_to_end.max_rate)
          : "");
  result.articles = static_cast<int64_t>(articles.size());
  result.bytes = static_cast<int64_t>(TextBytes(articles));
  // The CLI's summary line, e.g. "sent 800, accepted 800, ...".
  std::vector<absl::string_view> lines =
      absl::StrSplit(output, '\n', absl::SkipEmpty());
  if (!lines.empty()) result.note = std::string(lines.back());
  absl::StrAppend(&result.note, result.note.empty() ? "" : "; ", cpu_split);
  return result;
}

Agreement Compare(const RowResult& reference, const RowResult& row) {
  Agreement agreement;
  const size_t n = std::min(reference.answers.size(), row.answers.size());
  if (n == 0) return agreement;
  size_t language = 0, topic = 0;
  for (size_t i = 0; i < n; ++i) {
    const Answer& a = reference.answers[i];
    const Answer& b = row.answers[i];
    if ((a.language != b.language || a.topic != b.topic) &&
        agreement.examples.size() < 3) {
      agreement.examples.push_back(
          absl::StrCat("#", i, ": ", a.language, "/", a.topic, " (",
                       absl::StrFormat("%.3f/%.3f", a.language_probability,
                                       a.topic_probability),
                       ") vs ", b.language, "/", b.topic, " (",
                       absl::StrFormat("%.3f/%.3f", b.language_probability,
                                       b.topic_probability),
                       ")"));
    }
    if (a.language == b.language) {
      ++language;
      agreement.max_probability_diff = std::max<double>(
          agreement.max_probability_diff,
          std::abs(a.language_probability - b.language_probability));
    }
    if (a.topic == b.topic) {
      ++topic;
      agreement.max_probability_diff =
          std::max<double>(agreement.max_probability_diff,
                           std::abs(a.topic_probability - b.topic_probability));
    }
  }
  agreement.language = static_cast<double>(language) / n;
  agreement.topic = static_cast<double>(topic) / n;
  return agreement;
}

std::string FormatTable(const std::vector<RowResult>& rows) {
  double baseline = 0;
  double baseline_cpu = 0;
  for (const RowResult& row : rows) {
    if (row.row == "A") {
      baseline = row.articles_per_second();
      baseline_cpu = row.cpu_seconds / row.articles;
    }
  }
  std::string out =
      "| Row | What | articles/s | MB/s | CPU s / 1k articles | peak RSS MB "
      "| × A | × A by CPU |\n|---|---|---:|---:|---:|---:|---:|---:|\n";
  for (const RowResult& row : rows) {
    const double rate = row.articles_per_second();
    const double cpu_per_article = row.cpu_seconds / row.articles;
    std::string cpu = absl::StrFormat("%.3f", 1000 * cpu_per_article);
    if (row.client_cpu_seconds >= 0) {
      absl::StrAppend(
          &cpu, absl::StrFormat(" (+%.3f client)",
                                1000 * row.client_cpu_seconds / row.articles));
    }
    std::string rss = absl::StrFormat("%.0f", row.peak_rss_bytes / 1048576.0);
    if (row.baseline_rss_bytes > 0) {
      absl::StrAppend(&rss,
                      absl::StrFormat(" (%.0f inherited)",
                                      row.baseline_rss_bytes / 1048576.0));
    }
    absl::StrAppend(
        &out,
        absl::StrFormat(
            "| %s | %s | %.0f | %.2f | %s | %s | %s | %s |\n", row.row,
            row.description, rate, row.bytes / 1e6 / row.wall_seconds, cpu, rss,
            baseline > 0 ? absl::StrFormat("%.2f", rate / baseline) : "n/a",
            baseline_cpu > 0
                ? absl::StrFormat("%.2f", baseline_cpu / cpu_per_article)
                : "n/a"));
  }
  return out;
}

}  // namespace kabar::bench
