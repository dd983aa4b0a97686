// Copyright kabar authors.
#include "clients/cli/ingest_command.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>
#include <unordered_map>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "clients/cli/article_input.h"

namespace kabar::cli {
namespace {

class WrappedStreamCall final : public IngestStream {
 public:
  explicit WrappedStreamCall(std::unique_ptr<client::IngestStreamCall> call)
      : call_(std::move(call)) {}

  bool Write(const v1::IngestStreamRequest& request) override {
    return call_->Write(request);
  }
  bool WritesDone() override { return call_->WritesDone(); }
  bool Read(v1::IngestAck* ack) override { return call_->Read(ack); }
  absl::Status Finish() override { return call_->Finish(); }

 private:
  const std::unique_ptr<client::IngestStreamCall> call_;
};

// Serializes everything written to the messages stream, so that a message
// first erases the progress line and the progress line is redrawn after.
class Console final {
 public:
  explicit Console(std::ostream* out) : out_(out) {}

  // Prints one line.
  void Message(absl::string_view line) {
    absl::MutexLock lock(&mu_);
    EraseProgressLocked();
    *out_ << line << "\n";
    out_->flush();
  }

  // Replaces the progress line with `line`.
  void Progress(absl::string_view line) {
    absl::MutexLock lock(&mu_);
    *out_ << "\r" << line << "\x1b[K";
    out_->flush();
    progress_shown_ = true;
  }

  void EraseProgress() {
    absl::MutexLock lock(&mu_);
    EraseProgressLocked();
  }

 private:
  void EraseProgressLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (!progress_shown_) return;
    *out_ << "\r\x1b[K";
    progress_shown_ = false;
  }

  absl::Mutex mu_;
  std::ostream* const out_;
  bool progress_shown_ ABSL_GUARDED_BY(mu_) = false;
};

// Reads from a file descriptor, retrying on EINTR.
LineReader::ReadFunction ReadFromFd(int fd) {
  return [fd](char* buffer, size_t size) -> int64_t {
    while (true) {
      const ssize_t got = ::read(fd, buffer, size);
      if (got >= 0 || errno != EINTR) return got;
    }
  };
}

// A file opened for reading, closed on destruction unless it is stdin.
class InputFile final {
 public:
  // Opens `path` ("-" = `stdin_fd`). On failure, error() says why.
  InputFile(const std::string& path, int stdin_fd) {
    if (path == "-") {
      fd_ = stdin_fd;
      return;
    }
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) {
      error_ = std::strerror(errno);
      return;
    }
    owned_ = true;
    struct stat info;
    if (::fstat(fd_, &info) == 0 && S_ISDIR(info.st_mode)) {
      error_ = "is a directory";
    }
  }
  ~InputFile() {
    if (owned_) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string error_;
};

// One run of RunIngest().
class IngestRun final {
 public:
  IngestRun(const IngestStreamFactory& open_stream,
            const IngestOptions& options, std::ostream* messages)
      : open_stream_(open_stream),
        options_(options),
        window_(options.window < 1 ? 1 : static_cast<size_t>(options.window)),
        console_(messages) {}

  IngestSummary Run(const std::vector<std::string>& inputs);

 private:
  // Whether to go on reading input: false once the stream failed for good.
  bool Sending() const {
    absl::MutexLock lock(&mu_);
    return !write_failed_;
  }

  void IngestJsonLines(const std::string& path);
  void IngestTextFile(const std::string& path);

  // Counts one input rejected here and says why.
  void Reject(absl::string_view origin, absl::string_view reason);

  // Sends one article, waiting for room in the window. False when the
  // stream is broken.
  bool Send(v1::Article article, std::string origin);

  // Reader thread: takes acks until the stream ends.
  void ReadAcks();
  // Progress thread: redraws the progress line until the run is done.
  void ShowProgress();
  std::string ProgressLine() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Closes the stream and collects its final status into summary_,
  // reconnecting to resend what is still unacknowledged if it failed.
  void FinishStream();

  // Writer thread: waits for the reader, ends the current stream (after
  // half-closing it when `half_close`) and returns its final status.
  absl::Status EndStream(bool half_close);
  // Writer thread, after a stream ended with `status`: when the failure is
  // one a new stream may not have (UNAVAILABLE, ...), opens one with
  // backoff and resends every unacknowledged article, in order. False when
  // giving up; the failure is then in summary_.
  bool Resume(absl::Status status);
  // Opens a stream and starts its reader. False when it could not.
  bool OpenStream();

  const IngestStreamFactory& open_stream_;
  const IngestOptions& options_;
  const size_t window_;
  Console console_;
  const absl::Time start_ = absl::Now();

  // Opened by Send() on first use; only the writer thread touches it until
  // the reader thread starts.
  std::unique_ptr<IngestStream> stream_;
  std::thread reader_;
  std::thread progress_;

  mutable absl::Mutex mu_;
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 0;
  // Each article awaiting its ack, by sequence: where it came from
  // ("FILE:LINE") and the request, kept to resend it on a new stream.
  struct InFlight {
    std::string origin;
    v1::IngestStreamRequest request;
    absl::Time sent_at;
  };
  std::map<uint64_t, InFlight> in_flight_ ABSL_GUARDED_BY(mu_);
  int reconnects_ = 0;  // writer thread only
  int64_t paced_ = 0;   // writer thread only: articles paced by max_rate
  IngestSummary summary_ ABSL_GUARDED_BY(mu_);
  // Where the writer stopped because the stream broke.
  std::string stopped_at_ ABSL_GUARDED_BY(mu_);
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool stream_ended_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

IngestSummary IngestRun::Run(const std::vector<std::string>& inputs) {
  if (options_.show_progress) {
    progress_ = std::thread(&IngestRun::ShowProgress, this);
  }
  for (const std::string& path : inputs) {
    if (!Sending()) break;
    if (InputKindForPath(path) == InputKind::kJsonLines) {
      IngestJsonLines(path);
    } else {
      IngestTextFile(path);
    }
  }
  FinishStream();

  {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }
  if (progress_.joinable()) progress_.join();
  console_.EraseProgress();

  absl::MutexLock lock(&mu_);
  summary_.elapsed = absl::Now() - start_;
  summary_.unacknowledged = static_cast<int64_t>(in_flight_.size());
  if (summary_.stream_status.ok() && summary_.unacknowledged > 0) {
    summary_.stream_status = absl::DataLossError(
        "the stream ended before every article was acknowledged");
  }
  if (!summary_.stream_status.ok()) {
    console_.Message(absl::StrCat("error: stream failed: ",
                                  summary_.stream_status.ToString()));
    if (!stopped_at_.empty()) {
      console_.Message(absl::StrCat("stopped sending at ", stopped_at_));
    }
    if (summary_.unacknowledged > 0) {
      console_.Message(absl::StrCat(
          "articles sent but not acknowledged: ", summary_.unacknowledged,
          " (they were not stored; resending them is safe)"));
    }
  }
  console_.Message(summary_.ToString());
  return summary_;
}

void IngestRun::IngestJsonLines(const std::string& path) {
  const std::string name = path == "-" ? "<stdin>" : path;
  InputFile file(path, options_.stdin_fd);
  if (!file.ok()) {
    Reject(name, file.error());
    return;
  }
  // Look at the first block before anything is sent: a binary file gets one
  // clear rejection instead of one per "line". One read, so input from a
  // pipe is not held back waiting for a full block.
  const LineReader::ReadFunction read = ReadFromFd(file.fd());
  std::string head(kBinarySniffBytes, '\0');
  const int64_t got = read(head.data(), head.size());
  if (got < 0) {
    Reject(name, absl::StrCat("read error: ", std::strerror(errno)));
    return;
  }
  head.resize(static_cast<size_t>(got));
  if (const std::string binary = BinaryReason(head); !binary.empty()) {
    Reject(name, absl::StrCat("binary file (", binary, "), not JSON Lines"));
    return;
  }
  size_t head_offset = 0;
  LineReader reader(
      [&](char* buffer, size_t size) -> int64_t {
        if (head_offset == head.size()) return read(buffer, size);
        const size_t n = std::min(size, head.size() - head_offset);
        std::copy_n(head.data() + head_offset, n, buffer);
        head_offset += n;
        return static_cast<int64_t>(n);
      },
      options_.max_line_bytes);
  bool warned_unknown_fields = false;
  std::vector<std::string> unknown_fields;
  std::string line;
  while (Sending()) {
    const LineReader::Result result = reader.Next(&line);
    if (result == LineReader::Result::kEnd) return;
    if (result == LineReader::Result::kError) {
      Reject(name, absl::StrCat("read error after line ", reader.line_number(),
                                ": ", std::strerror(errno)));
      return;
    }
    const std::string origin = absl::StrCat(name, ":", reader.line_number());
    if (result == LineReader::Result::kTooLong) {
      Reject(origin, absl::StrCat("line is ", reader.line_bytes(),
                                  " bytes, over --max_line_bytes=",
                                  options_.max_line_bytes));
      continue;
    }
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    unknown_fields.clear();
    absl::StatusOr<v1::Article> article =
        ParseArticleJson(line, &unknown_fields);
    if (!article.ok()) {
      Reject(origin, article.status().message());
      continue;
    }
    if (!unknown_fields.empty() && !warned_unknown_fields) {
      warned_unknown_fields = true;
      console_.Message(absl::StrCat(
          origin, ": warning: ignoring unknown fields ",
          // Names come from the input: escape them so a crafted key cannot
          // put control sequences or line breaks on the terminal.
          absl::StrJoin(unknown_fields, ", ",
                        [](std::string* out, const std::string& name) {
                          out->append(absl::Utf8SafeCHexEscape(name));
                        }),
          " (reported once per file)"));
    }
    if (!Send(*std::move(article), origin)) return;
  }
}

void IngestRun::IngestTextFile(const std::string& path) {
  InputFile file(path, options_.stdin_fd);
  if (!file.ok()) {
    Reject(path, file.error());
    return;
  }
  // Read at most one byte more than allowed, to tell "too large".
  std::string contents;
  const LineReader::ReadFunction read = ReadFromFd(file.fd());
  char buffer[64 << 10];
  while (contents.size() <= options_.max_line_bytes) {
    const int64_t got = read(buffer, sizeof(buffer));
    if (got < 0) {
      Reject(path, absl::StrCat("read error: ", std::strerror(errno)));
      return;
    }
    if (got == 0) break;
    contents.append(buffer, static_cast<size_t>(got));
  }
  if (contents.size() > options_.max_line_bytes) {
    Reject(path, absl::StrCat("file is over --max_line_bytes=",
                              options_.max_line_bytes, " bytes"));
    return;
  }
  absl::StatusOr<v1::Article> article = ParseTextFileArticle(contents);
  if (!article.ok()) {
    Reject(path, article.status().message());
    return;
  }
  Send(*std::move(article), path);
}

void IngestRun::Reject(absl::string_view origin, absl::string_view reason) {
  {
    absl::MutexLock lock(&mu_);
    ++summary_.rejected;
  }
  console_.Message(absl::StrCat(origin, ": ", reason));
}

bool IngestRun::OpenStream() {
  stream_ = open_stream_();
  if (stream_ == nullptr) return false;
  {
    absl::MutexLock lock(&mu_);
    stream_ended_ = false;
  }
  reader_ = std::thread(&IngestRun::ReadAcks, this);
  return true;
}

absl::Status IngestRun::EndStream(bool half_close) {
  if (half_close) stream_->WritesDone();
  reader_.join();
  absl::Status status = stream_->Finish();
  stream_.reset();
  return status;
}

namespace {

// Failures a new stream may not have: the server restarted, is shutting
// down, or is out of room for now.
bool IsRetryable(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kCancelled:
    case absl::StatusCode::kResourceExhausted:
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kDeadlineExceeded:
      return true;
    default:
      return false;
  }
}

}  // namespace

bool IngestRun::Resume(absl::Status status) {
  absl::Duration backoff = options_.reconnect_backoff;
  while (true) {
    if (!IsRetryable(status) || reconnects_ >= options_.max_reconnects) {
      absl::MutexLock lock(&mu_);
      if (summary_.stream_status.ok()) summary_.stream_status = status;
      write_failed_ = true;
      return false;
    }
    ++reconnects_;
    std::vector<v1::IngestStreamRequest> unacked;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [sequence, in_flight] : in_flight_) {
        unacked.push_back(in_flight.request);
      }
    }
    console_.Message(absl::StrCat("stream failed (", status.ToString(),
                                  "); reconnecting in ", absl::FormatDuration(backoff),
                                  " to resend ", unacked.size(),
                                  " unacknowledged articles (attempt ", reconnects_,
                                  " of ", options_.max_reconnects, ")"));
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
    if (!OpenStream()) {
      status = absl::UnavailableError("could not open a stream");
      continue;
    }
    bool resent = true;
    for (const v1::IngestStreamRequest& request : unacked) {
      if (!stream_->Write(request)) {
        resent = false;
        break;
      }
    }
    if (resent) return true;
    status = EndStream(/*half_close=*/false);
  }
}

bool IngestRun::Send(v1::Article article, std::string origin) {
  if (stream_ == nullptr && !OpenStream()) {
    absl::MutexLock lock(&mu_);
    summary_.stream_status = absl::InternalError("could not open a stream");
    write_failed_ = true;
    return false;
  }

  v1::IngestStreamRequest request;
  *request.mutable_article() = std::move(article);
  if (options_.max_rate > 0) {
    // Article k leaves at start + k / rate: an even pace that catches up
    // after a stall instead of drifting.
    const absl::Time due =
        start_ + absl::Seconds(static_cast<double>(paced_++) / options_.max_rate);
    absl::SleepFor(due - absl::Now());
  }
  while (true) {
    bool ended = false;
    {
      absl::MutexLock lock(&mu_);
      const auto has_room = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return in_flight_.size() < window_ || stream_ended_;
      };
      mu_.Await(absl::Condition(&has_room));
      ended = stream_ended_;
      if (!ended) {
        request.set_sequence(++next_sequence_);
        in_flight_.emplace(request.sequence(), InFlight{origin, request, absl::Now()});
        // Counted before the write: the ack may be read before Write()
        // returns.
        ++summary_.sent;
      }
    }
    if (ended) {
      // The stream broke while we waited for room: start a new one.
      if (Resume(EndStream(/*half_close=*/false))) continue;
      absl::MutexLock lock(&mu_);
      stopped_at_ = std::move(origin);
      return false;
    }
    if (stream_->Write(request)) return true;
    // The article is in flight: Resume resends it with the others.
    if (Resume(EndStream(/*half_close=*/false))) return true;
    // Giving up: this one never left.
    absl::MutexLock lock(&mu_);
    in_flight_.erase(request.sequence());
    --summary_.sent;
    stopped_at_ = std::move(origin);
    return false;
  }
}

void IngestRun::ReadAcks() {
  v1::IngestAck ack;
  while (stream_->Read(&ack)) {
    std::string message;
    {
      absl::MutexLock lock(&mu_);
      const auto it = in_flight_.find(ack.sequence());
      if (it == in_flight_.end()) {
        message = absl::StrCat("warning: ack for unknown sequence ",
                               ack.sequence(), " ignored");
      } else {
        summary_.ack_latency.Add(absl::Now() - it->second.sent_at);
        switch (ack.status()) {
          case v1::ACK_STATUS_ACCEPTED:
            ++summary_.accepted;
            break;
          case v1::ACK_STATUS_DUPLICATE:
            ++summary_.duplicate;
            break;
          default:
            ++summary_.rejected;
            message = absl::StrCat(
                it->second.origin, ": rejected: ",
                ack.reason().empty()
                    ? absl::StrCat("(no reason given; ack status ",
                                   static_cast<int>(ack.status()), ")")
                    : ack.reason());
            break;
        }
        in_flight_.erase(it);
      }
    }
    if (!message.empty()) console_.Message(message);
  }
  absl::MutexLock lock(&mu_);
  stream_ended_ = true;
}

void IngestRun::FinishStream() {
  while (stream_ != nullptr) {
    absl::Status status = EndStream(/*half_close=*/true);
    bool unacked = false;
    {
      absl::MutexLock lock(&mu_);
      unacked = !in_flight_.empty();
      if (!unacked || status.ok()) {
        if (summary_.stream_status.ok()) summary_.stream_status = std::move(status);
        return;
      }
    }
    if (!Resume(std::move(status))) return;
  }
}

void IngestRun::ShowProgress() {
  while (true) {
    std::string line;
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&done_),
                               options_.progress_interval)) {
        return;
      }
      line = ProgressLine();
    }
    console_.Progress(line);
  }
}

std::string IngestRun::ProgressLine() const {
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start_);
  return absl::StrFormat(
      "%d sent, %d accepted, %d duplicate, %d rejected, %d in flight "
      "(%.0f articles/s)",
      summary_.sent, summary_.accepted, summary_.duplicate, summary_.rejected,
      in_flight_.size(), seconds > 0 ? summary_.sent / seconds : 0.0);
}

}  // namespace

std::unique_ptr<IngestStream> WrapIngestStreamCall(
    std::unique_ptr<client::IngestStreamCall> call) {
  return std::make_unique<WrappedStreamCall>(std::move(call));
}

int IngestSummary::ExitCode() const {
  if (!stream_status.ok() || unacknowledged > 0) return 2;
  return rejected > 0 ? 1 : 0;
}

std::string IngestSummary::ToString() const {
  const double seconds = absl::ToDoubleSeconds(elapsed);
  std::string line = absl::StrFormat(
      "sent %d, accepted %d, duplicate %d, rejected %d in %.1fs (%.0f "
      "articles/s)",
      sent, accepted, duplicate, rejected, seconds,
      seconds > 0 ? sent / seconds : 0.0);
  if (ack_latency.count() > 0) {
    absl::StrAppendFormat(&line, "; ack latency p50 %.1f ms, p99 %.1f ms",
                          absl::ToDoubleMilliseconds(ack_latency.Quantile(0.5)),
                          absl::ToDoubleMilliseconds(ack_latency.Quantile(0.99)));
  }
  return line;
}

namespace {
// Bucket i holds latencies up to kFirstBucket * kGrowth^i.
constexpr double kFirstBucketMicros = 1;
constexpr double kGrowth = 1.02;
}  // namespace

void LatencyHistogram::Add(absl::Duration latency) {
  const double micros = std::max(absl::ToDoubleMicroseconds(latency), kFirstBucketMicros);
  const size_t bucket = static_cast<size_t>(
      std::ceil(std::log(micros / kFirstBucketMicros) / std::log(kGrowth)));
  if (bucket >= buckets_.size()) buckets_.resize(bucket + 1, 0);
  ++buckets_[bucket];
  ++count_;
}

absl::Duration LatencyHistogram::Quantile(double fraction) const {
  if (count_ == 0) return absl::ZeroDuration();
  const double wanted = std::clamp(fraction, 0.0, 1.0) * static_cast<double>(count_);
  int64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (static_cast<double>(seen) >= wanted && seen > 0) {
      return absl::Microseconds(kFirstBucketMicros * std::pow(kGrowth, static_cast<double>(i)));
    }
  }
  return absl::Microseconds(kFirstBucketMicros *
                            std::pow(kGrowth, static_cast<double>(buckets_.size() - 1)));
}

IngestSummary RunIngest(const std::vector<std::string>& inputs,
                        const IngestStreamFactory& open_stream,
                        const IngestOptions& options, std::ostream* messages) {
  IngestRun run(open_stream, options, messages);
  return run.Run(inputs);
}

}  // namespace kabar::cli
