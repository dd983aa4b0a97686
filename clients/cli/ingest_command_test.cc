// Copyright kabar authors.
#include "clients/cli/ingest_command.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kabar::cli {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

// Plays the ingest service: acks every article by `decide`, holding acks
// back until `hold` articles are unacknowledged (or the client half-closes)
// and then releasing them newest first, so acks come out of order and the
// client's window is really tested. Can also fail the stream after
// `fail_after_writes` articles.
class FakeIngestStream final : public IngestStream {
 public:
  using Decide = std::function<v1::IngestAck(const v1::IngestStreamRequest&)>;

  FakeIngestStream(Decide decide, size_t hold, int fail_after_writes = -1)
      : decide_(std::move(decide)),
        hold_(hold),
        fail_after_writes_(fail_after_writes) {}

  bool Write(const v1::IngestStreamRequest& request) override {
    absl::MutexLock lock(&mu_);
    if (failed_) return false;
    if (fail_after_writes_ >= 0 && writes_ >= fail_after_writes_) {
      failed_ = true;
      return false;
    }
    ++writes_;
    requests_.push_back(request);
    pending_.push_back(decide_(request));
    max_unread_ = std::max(max_unread_, writes_ - reads_);
    if (pending_.size() >= hold_) Release();
    return true;
  }

  bool WritesDone() override {
    absl::MutexLock lock(&mu_);
    writes_done_ = true;
    Release();
    return !failed_;
  }

  bool Read(v1::IngestAck* ack) override {
    absl::MutexLock lock(&mu_);
    const auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !released_.empty() || writes_done_ || failed_;
    };
    mu_.Await(absl::Condition(&ready));
    if (released_.empty()) return false;
    ++reads_;
    *ack = released_.front();
    released_.pop_front();
    return true;
  }

  absl::Status Finish() override {
    absl::MutexLock lock(&mu_);
    if (failed_) {
      return absl::UnavailableError(
          "ingest at 127.0.0.1:7701: store at 127.0.0.1:7703 unreachable");
    }
    return absl::OkStatus();
  }

  // Most articles written but not yet read back as acks, at any time.
  int max_unread() const {
    absl::MutexLock lock(&mu_);
    return max_unread_;
  }
  std::vector<v1::IngestStreamRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  void Release() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (failed_) return;
    while (!pending_.empty()) {
      released_.push_back(pending_.back());
      pending_.pop_back();
    }
  }

  const Decide decide_;
  const size_t hold_;
  const int fail_after_writes_;
  mutable absl::Mutex mu_;
  int writes_ ABSL_GUARDED_BY(mu_) = 0;
  bool writes_done_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  int reads_ ABSL_GUARDED_BY(mu_) = 0;
  int max_unread_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<v1::IngestStreamRequest> requests_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::IngestAck> pending_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::IngestAck> released_ ABSL_GUARDED_BY(mu_);
};

// Accepts everything except bodies starting with "dup" (duplicates) and
// "bad" (rejected).
v1::IngestAck Decide(const v1::IngestStreamRequest& request) {
  v1::IngestAck ack;
  ack.set_sequence(request.sequence());
  const std::string& body = request.article().body();
  if (body.rfind("dup", 0) == 0) {
    ack.set_status(v1::ACK_STATUS_DUPLICATE);
  } else if (body.rfind("bad", 0) == 0) {
    ack.set_status(v1::ACK_STATUS_REJECTED);
    ack.set_reason("body is too short");
  } else {
    ack.set_status(v1::ACK_STATUS_ACCEPTED);
  }
  return ack;
}

class IngestCommandTest : public ::testing::Test {
 protected:
  // Writes `contents` to a fresh file named `name` and returns its path.
  std::string WriteFile(const std::string& name, const std::string& contents) {
    const std::string path = absl::StrCat(
        ::testing::TempDir(), "/ingest_command_test_", getpid(), "_", name);
    std::ofstream(path, std::ios::binary) << contents;
    paths_.push_back(path);
    return path;
  }

  void TearDown() override {
    for (const std::string& path : paths_) ::unlink(path.c_str());
  }

  // Runs RunIngest against `stream` (which must outlive the call).
  IngestSummary Run(const std::vector<std::string>& inputs,
                    FakeIngestStream* stream, IngestOptions options = {}) {
    int opened = 0;
    const IngestStreamFactory open = [&]() -> std::unique_ptr<IngestStream> {
      ++opened;
      return std::make_unique<Borrowed>(stream);
    };
    IngestSummary summary = RunIngest(inputs, open, options, &messages_);
    EXPECT_LE(opened, 1);
    return summary;
  }

  std::string messages() const { return messages_.str(); }

 private:
  // Lets the test keep the fake after RunIngest drops its stream.
  class Borrowed final : public IngestStream {
   public:
    explicit Borrowed(FakeIngestStream* stream) : stream_(stream) {}
    bool Write(const v1::IngestStreamRequest& r) override {
      return stream_->Write(r);
    }
    bool WritesDone() override { return stream_->WritesDone(); }
    bool Read(v1::IngestAck* ack) override { return stream_->Read(ack); }
    absl::Status Finish() override { return stream_->Finish(); }

   private:
    FakeIngestStream* const stream_;
  };

  std::vector<std::string> paths_;
  std::ostringstream messages_;
};

TEST_F(IngestCommandTest, SendsValidLinesAndReportsBadOnesByFileAndLine) {
  const std::string path = WriteFile("mixed.jsonl",
                                     "\xEF\xBB\xBF{\"body\": \"one\"}\r\n"
                                     "\n"
                                     "{\"body\": 5}\r\n"
                                     "not json\n"
                                     "{\"title\": \"no body\"}\n"
                                     "{\"body\": \"two\", \"extra\": 1}\n"
                                     "{\"body\": \"three\", \"other\": 2}\n");
  FakeIngestStream stream(Decide, 1);
  const IngestSummary summary = Run({path}, &stream);

  EXPECT_EQ(summary.sent, 3);
  EXPECT_EQ(summary.accepted, 3);
  EXPECT_EQ(summary.rejected, 3);
  EXPECT_EQ(summary.ExitCode(), 1);
  EXPECT_THAT(
      messages(),
      AllOf(HasSubstr(path + ":3: \"body\" must be a string, got number"),
            HasSubstr(path + ":4: malformed JSON"),
            HasSubstr(path + ":5: missing \"body\""),
            HasSubstr(path + ":6: warning: ignoring unknown fields extra"),
            Not(HasSubstr("other")),
            HasSubstr("sent 3, accepted 3, duplicate 0, rejected 3 in ")));
  std::vector<std::string> bodies;
  for (const auto& request : stream.requests()) {
    bodies.push_back(request.article().body());
  }
  EXPECT_THAT(bodies, ::testing::ElementsAre("one", "two", "three"));
}

TEST_F(IngestCommandTest, MapsOutOfOrderAcksBackToTheirLines) {
  std::string contents;
  for (int i = 1; i <= 10; ++i) {
    const char* body = i == 4 ? "bad one" : i == 7 ? "dup" : "fine";
    absl::StrAppend(&contents, "{\"body\": \"", body, "\"}\n");
  }
  const std::string path = WriteFile("acks.jsonl", contents);
  FakeIngestStream stream(Decide, 5);  // Released in reverse, five at a time.
  const IngestSummary summary = Run({path}, &stream);

  EXPECT_EQ(summary.sent, 10);
  EXPECT_EQ(summary.accepted, 8);
  EXPECT_EQ(summary.duplicate, 1);
  EXPECT_EQ(summary.rejected, 1);
  EXPECT_EQ(summary.unacknowledged, 0);
  EXPECT_THAT(messages(), HasSubstr(path + ":4: rejected: body is too short"));
  EXPECT_EQ(summary.ExitCode(), 1);
}

TEST_F(IngestCommandTest, NeverHasMoreThanTheWindowInFlight) {
  std::string contents;
  for (int i = 0; i < 200; ++i) contents += "{\"body\": \"b\"}\n";
  const std::string path = WriteFile("window.jsonl", contents);
  // The fake acks nothing until 8 are pending: with a window of 8 the run
  // goes through; a client ignoring the window would pile up more.
  FakeIngestStream stream(Decide, 8);
  IngestOptions options;
  options.window = 8;
  const IngestSummary summary = Run({path}, &stream, options);
  EXPECT_EQ(summary.accepted, 200);
  EXPECT_LE(stream.max_unread(), 8);
  EXPECT_EQ(summary.ExitCode(), 0);
}

TEST_F(IngestCommandTest, PacesArticlesAtTheMaximumRate) {
  std::string contents;
  for (int i = 0; i < 21; ++i) contents += "{\"body\": \"b\"}\n";
  const std::string path = WriteFile("paced.jsonl", contents);
  FakeIngestStream stream(Decide, 1);
  IngestOptions options;
  options.max_rate = 100;  // 21 articles: the last leaves 200 ms after the first.
  const absl::Time start = absl::Now();
  const IngestSummary summary = Run({path}, &stream, options);
  EXPECT_EQ(summary.accepted, 21);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(195));
  EXPECT_EQ(summary.ack_latency.count(), 21);
}

TEST_F(IngestCommandTest, ReadsPlainTextFilesAsOneArticleEach) {
  const std::string story = WriteFile("story.txt", "Title\r\nBody text.\r\n");
  const std::string binary =
      WriteFile("image.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  const std::string empty = WriteFile("empty.txt", "");
  FakeIngestStream stream(Decide, 1);
  const IngestSummary summary = Run({story, binary, empty}, &stream);

  EXPECT_EQ(summary.accepted, 1);
  EXPECT_EQ(summary.rejected, 2);
  ASSERT_EQ(stream.requests().size(), 1u);
  EXPECT_EQ(stream.requests()[0].article().title(), "Title");
  EXPECT_EQ(stream.requests()[0].article().body(), "Body text.");
  EXPECT_THAT(messages(), HasSubstr(binary + ": binary"));
  EXPECT_THAT(messages(), HasSubstr(empty + ": file is empty"));
}

TEST_F(IngestCommandTest, RejectsMissingFilesDirectoriesAndBinaryJsonLines) {
  const std::string binary = WriteFile(
      "binary.jsonl", std::string("\0\1\2\3\n{\"body\":\"x\"}\n", 18));
  FakeIngestStream stream(Decide, 1);
  const IngestSummary summary =
      Run({"/nonexistent/feed.jsonl", ::testing::TempDir(), binary}, &stream);
  EXPECT_EQ(summary.sent, 0);
  EXPECT_EQ(summary.rejected, 3);
  EXPECT_THAT(
      messages(),
      AllOf(HasSubstr("/nonexistent/feed.jsonl: No such file"),
            HasSubstr("is a directory"), HasSubstr(binary + ": binary file")));
  EXPECT_EQ(summary.ExitCode(), 1);
}

TEST_F(IngestCommandTest, JudgesTheFirstBlockOfJsonLinesAsAWholeForBinary) {
  // Binary after a plausible first line, and control bytes without any
  // NUL: both are binary, rejected once, and nothing of them is sent.
  std::string blob;
  for (int byte = 0; byte < 64; ++byte) blob.push_back(static_cast<char>(byte));
  const std::string late_nul = WriteFile("late_nul.jsonl", "{\"body\":\"x\"}\n" + blob);
  std::string controls;
  for (int i = 0; i < 200; ++i) controls += "\x01\x02\x03\x1b\x7f{}\n";
  const std::string no_nul = WriteFile("controls.jsonl", controls);
  // Latin-1 text is not binary: its lines get their own reasons.
  const std::string latin1 = WriteFile(
      "latin1.jsonl", "{\"body\": \"caf\xe9 cr\xe8me\"}\n{\"body\": \"ok\"}\n");
  FakeIngestStream stream(Decide, 1);
  const IngestSummary summary = Run({late_nul, no_nul, latin1}, &stream);
  EXPECT_EQ(summary.sent, 1);
  EXPECT_EQ(summary.rejected, 3);
  EXPECT_THAT(
      messages(),
      AllOf(HasSubstr(late_nul + ": binary file (28 of its first 77 bytes are control "
                                 "characters or invalid UTF-8), not JSON Lines"),
            HasSubstr(no_nul + ": binary file (1000 of its first 1600 bytes are control "
                               "characters or invalid UTF-8), not JSON Lines"),
            HasSubstr(latin1 + ":1: invalid UTF-8 at byte 13")));
}

TEST_F(IngestCommandTest, RejectsOverlongLinesAndKeepsGoing) {
  const std::string path =
      WriteFile("long.jsonl", "{\"body\": \"" + std::string(5000, 'x') +
                                  "\"}\n{\"body\": \"short\"}\n");
  FakeIngestStream stream(Decide, 1);
  IngestOptions options;
  options.max_line_bytes = 1000;
  const IngestSummary summary = Run({path}, &stream, options);
  EXPECT_EQ(summary.accepted, 1);
  EXPECT_EQ(summary.rejected, 1);
  EXPECT_THAT(
      messages(),
      HasSubstr(path + ":1: line is 5012 bytes, over --max_line_bytes=1000"));
}

TEST_F(IngestCommandTest, NeverOpensAStreamForInputWithoutArticles) {
  const std::string path = WriteFile("bad.jsonl", "nope\n\n");
  const IngestStreamFactory open = []() -> std::unique_ptr<IngestStream> {
    ADD_FAILURE() << "opened a stream";
    return nullptr;
  };
  std::ostringstream out;
  const IngestSummary summary = RunIngest({path}, open, {}, &out);
  EXPECT_TRUE(summary.stream_status.ok());
  EXPECT_EQ(summary.rejected, 1);
  EXPECT_EQ(summary.ExitCode(), 1);
}

TEST_F(IngestCommandTest, StreamFailureStopsAndCountsUnacknowledged) {
  std::string contents;
  for (int i = 0; i < 50; ++i) contents += "{\"body\": \"b\"}\n";
  const std::string path = WriteFile("fail.jsonl", contents);
  // Acks come in batches of 4; the stream breaks on the 11th write, so
  // articles 9 and 10 are sent but never acknowledged.
  FakeIngestStream stream(Decide, 4, /*fail_after_writes=*/10);
  IngestOptions options;
  options.max_reconnects = 0;
  const IngestSummary summary = Run({path}, &stream, options);

  EXPECT_EQ(summary.sent, 10);
  EXPECT_EQ(summary.accepted, 8);
  EXPECT_EQ(summary.unacknowledged, 2);
  EXPECT_EQ(summary.stream_status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(summary.ExitCode(), 2);
  EXPECT_THAT(messages(),
              AllOf(HasSubstr("error: stream failed: UNAVAILABLE: ingest at "
                              "127.0.0.1:7701"),
                    HasSubstr("stopped sending at " + path + ":11"),
                    HasSubstr("articles sent but not acknowledged: 2"),
                    HasSubstr("sent 10, accepted 8, duplicate 0, rejected 0")));
}

TEST_F(IngestCommandTest, ReadsStandardInputForDash) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const std::string input = "{\"body\": \"from stdin\"}\n{\"oops\n";
  ASSERT_EQ(::write(fds[1], input.data(), input.size()),
            static_cast<ssize_t>(input.size()));
  ::close(fds[1]);
  FakeIngestStream stream(Decide, 1);
  IngestOptions options;
  options.stdin_fd = fds[0];
  const IngestSummary summary = Run({"-"}, &stream, options);
  ::close(fds[0]);
  EXPECT_EQ(summary.accepted, 1);
  EXPECT_EQ(summary.rejected, 1);
  EXPECT_THAT(messages(), HasSubstr("<stdin>:2: malformed JSON"));
}

TEST_F(IngestCommandTest, ShowsProgressAndErasesItBeforeMessages) {
  std::string contents;
  for (int i = 0; i < 20; ++i) contents += "{\"body\": \"b\"}\n";
  const std::string path = WriteFile("progress.jsonl", contents);
  FakeIngestStream stream(Decide, 1);
  IngestOptions options;
  options.show_progress = true;
  options.progress_interval = absl::Milliseconds(1);
  const IngestSummary summary = Run({path}, &stream, options);
  EXPECT_EQ(summary.ExitCode(), 0);
  // The summary is the last line and no progress line is left after it.
  EXPECT_THAT(messages(), ::testing::EndsWith(summary.ToString() + "\n"));
}

TEST(IngestSummaryTest, ExitCodesFollowTheWorstOutcome) {
  IngestSummary summary;
  EXPECT_EQ(summary.ExitCode(), 0);
  summary.duplicate = 3;
  EXPECT_EQ(summary.ExitCode(), 0);
  summary.rejected = 1;
  EXPECT_EQ(summary.ExitCode(), 1);
  summary.stream_status = absl::UnavailableError("down");
  EXPECT_EQ(summary.ExitCode(), 2);
}

TEST(IngestSummaryTest, PrintsTheSummaryLine) {
  IngestSummary summary;
  summary.sent = 100;
  summary.accepted = 90;
  summary.duplicate = 6;
  summary.rejected = 4;
  summary.elapsed = absl::Milliseconds(2500);
  EXPECT_EQ(summary.ToString(),
            "sent 100, accepted 90, duplicate 6, rejected 4 in 2.5s (40 "
            "articles/s)");
  for (int i = 1; i <= 100; ++i) summary.ack_latency.Add(absl::Milliseconds(i));
  // Quantiles are bucket bounds, up to 2% above the exact value.
  EXPECT_THAT(summary.ToString(),
              ::testing::ContainsRegex(
                  "; ack latency p50 5[01]\\.[0-9] ms, p99 (99|100|101)\\.[0-9] ms$"));
}

TEST(LatencyHistogramTest, QuantilesAreWithinTwoPercent) {
  LatencyHistogram histogram;
  EXPECT_EQ(histogram.Quantile(0.5), absl::ZeroDuration());
  for (int i = 1; i <= 1000; ++i) histogram.Add(absl::Microseconds(i * 100));
  EXPECT_EQ(histogram.count(), 1000);
  const double p50 = absl::ToDoubleMicroseconds(histogram.Quantile(0.5));
  const double p99 = absl::ToDoubleMicroseconds(histogram.Quantile(0.99));
  EXPECT_NEAR(p50, 50000, 50000 * 0.02);
  EXPECT_NEAR(p99, 99000, 99000 * 0.02);
  EXPECT_GE(histogram.Quantile(1.0), absl::Microseconds(100000));
}

}  // namespace
}  // namespace kabar::cli

namespace kabar::cli {
namespace {

TEST(IngestReconnectTest, ResendsUnacknowledgedArticlesOnANewStream) {
  std::string contents;
  for (int i = 0; i < 50; ++i) contents += absl::StrCat("{\"body\": \"b", i, "\"}\n");
  const std::string path =
      absl::StrCat(::testing::TempDir(), "/ingest_reconnect_", getpid(), ".jsonl");
  std::ofstream(path, std::ios::binary) << contents;
  // The first stream breaks on its 11th write with 2 articles unacked; the
  // second takes everything.
  FakeIngestStream first(Decide, 4, /*fail_after_writes=*/10);
  FakeIngestStream second(Decide, 4);
  int opened = 0;
  class Borrowed final : public IngestStream {
   public:
    explicit Borrowed(FakeIngestStream* stream) : stream_(stream) {}
    bool Write(const v1::IngestStreamRequest& r) override { return stream_->Write(r); }
    bool WritesDone() override { return stream_->WritesDone(); }
    bool Read(v1::IngestAck* ack) override { return stream_->Read(ack); }
    absl::Status Finish() override { return stream_->Finish(); }

   private:
    FakeIngestStream* const stream_;
  };
  const IngestStreamFactory open = [&]() -> std::unique_ptr<IngestStream> {
    return std::make_unique<Borrowed>(++opened == 1 ? &first : &second);
  };
  IngestOptions options;
  options.reconnect_backoff = absl::Milliseconds(1);
  std::ostringstream messages;
  const IngestSummary summary = RunIngest({path}, open, options, &messages);
  ::unlink(path.c_str());

  EXPECT_EQ(opened, 2);
  EXPECT_TRUE(summary.stream_status.ok()) << summary.stream_status;
  EXPECT_EQ(summary.sent, 50);
  EXPECT_EQ(summary.accepted, 50);
  EXPECT_EQ(summary.unacknowledged, 0);
  EXPECT_EQ(summary.ExitCode(), 0);
  EXPECT_THAT(messages.str(), HasSubstr("to resend 3 unacknowledged articles"));
  // Every article reached the second stream exactly once, in order: the
  // two sent unacked and the one whose write failed first, then the rest.
  const std::vector<v1::IngestStreamRequest> resent = second.requests();
  ASSERT_EQ(resent.size(), 42u);
  EXPECT_EQ(resent.front().article().body(), "b8");
  EXPECT_EQ(resent.back().article().body(), "b49");
}

}  // namespace
}  // namespace kabar::cli
