// Copyright kabar authors.
// `kabar ingest`: reads articles from JSON Lines and plain-text files and
// streams them to the ingest service over one IngestStream call, keeping a
// bounded window of articles in flight. A writer (the calling thread) parses
// and sends; a reader thread takes the acks, which may come in any order,
// and maps each back to its FILE:LINE through the request's sequence
// number. Bad input lines are reported and skipped; the rest still go.
#ifndef KABAR_CLIENTS_CLI_INGEST_COMMAND_H_
#define KABAR_CLIENTS_CLI_INGEST_COMMAND_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "clients/cpp/clients.h"
#include "kabar/v1/ingest_service.pb.h"

namespace kabar::cli {

// The calls `kabar ingest` makes on an open IngestStream. An interface so
// tests can play the server; production wraps client::IngestStreamCall.
// Write()/WritesDone() are called from one thread and Read() from another,
// concurrently; Finish() once after Read() returned false.
class IngestStream {
 public:
  virtual ~IngestStream() = default;

  // False when the stream is broken; nothing more can be sent.
  virtual bool Write(const v1::IngestStreamRequest& request) = 0;
  // Half-closes the stream: no more articles will come.
  virtual bool WritesDone() = 0;
  // The next ack; false at the end of the stream.
  virtual bool Read(v1::IngestAck* ack) = 0;
  // The call's final status.
  virtual absl::Status Finish() = 0;
};

// Adapts an open stream from client::IngestClient::OpenStream().
std::unique_ptr<IngestStream> WrapIngestStreamCall(
    std::unique_ptr<client::IngestStreamCall> call);

// Opens a new stream. Called first when there is a valid article to send,
// so a run over nothing but bad input never needs the server, and again to
// reconnect after a stream failed.
using IngestStreamFactory = std::function<std::unique_ptr<IngestStream>()>;

struct IngestOptions {
  // Most articles sent but not yet acknowledged. A larger window keeps the
  // server's batches full over a slow link; a smaller one bounds what must
  // be resent after a failure. Values below 1 count as 1.
  int window = 256;
  // Longest JSON line, and largest plain-text file, that is read; larger
  // ones are rejected without being held in memory.
  size_t max_line_bytes = size_t{8} << 20;
  // Keep a progress line (rate and counts) updated on `messages`. Only
  // sensible when it is a terminal.
  bool show_progress = false;
  // After a stream fails with UNAVAILABLE (or another failure a new stream
  // may not have), reconnect and resend the unacknowledged articles, up to
  // this many times per run, waiting `reconnect_backoff` (doubling, at most
  // 5 s) before each. Resending is safe: the service dedups by id.
  int max_reconnects = 10;
  absl::Duration reconnect_backoff = absl::Milliseconds(500);
  // How often the progress line is redrawn.
  absl::Duration progress_interval = absl::Milliseconds(250);
  // File descriptor that input "-" reads.
  int stdin_fd = 0;
  // Most articles sent per second, evenly paced; 0 = as fast as acks allow.
  // For load tests and for sharing a slow service politely.
  double max_rate = 0;
};

// Time from writing an article to reading its ack, in log-spaced buckets
// (2% wide), so a long run keeps constant memory and quantiles stay within
// 2% of the exact value.
class LatencyHistogram {
 public:
  void Add(absl::Duration latency);
  int64_t count() const { return count_; }
  // The smallest recorded latency bound covering `fraction` (0..1) of the
  // samples; zero when empty.
  absl::Duration Quantile(double fraction) const;

 private:
  std::vector<int64_t> buckets_;
  int64_t count_ = 0;
};

// What a run did.
struct IngestSummary {
  // Articles written to the stream.
  int64_t sent = 0;
  // Acks by status.
  int64_t accepted = 0;
  int64_t duplicate = 0;
  // Inputs rejected here (bad lines, unreadable or binary files) plus
  // articles the server acked as REJECTED.
  int64_t rejected = 0;
  // Sent articles that never got an ack. They were not stored.
  int64_t unacknowledged = 0;
  // Not OK when the stream failed or ended with articles unacknowledged.
  absl::Status stream_status;
  absl::Duration elapsed;
  // Write-to-ack latency of every acked article.
  LatencyHistogram ack_latency;

  // 2 when the stream failed, else 1 when anything was rejected, else 0.
  int ExitCode() const;
  // "sent N, accepted A, duplicate D, rejected R in X.Ys (Z articles/s)",
  // then "; ack latency p50 P ms, p99 Q ms" when anything was acked.
  std::string ToString() const;
};

// Ingests `inputs` in order: "-" is standard input (JSON Lines); files
// named *.jsonl, *.ndjson or *.json are JSON Lines; any other file is one
// plain-text article (see article_input.h). Writes one line per problem to
// `messages` ("FILE:LINE: reason", "FILE:LINE: rejected: reason" for the
// server's rejections), the progress line if asked for, and always a final
// summary line. Stops sending when the stream fails and reports the error,
// which names the peer, and how many articles were left unacknowledged.
IngestSummary RunIngest(const std::vector<std::string>& inputs,
                        const IngestStreamFactory& open_stream,
                        const IngestOptions& options, std::ostream* messages);

}  // namespace kabar::cli

#endif  // KABAR_CLIENTS_CLI_INGEST_COMMAND_H_
