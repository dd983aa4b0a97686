// Copyright kabar authors.
#include "services/ingest/ingest_service.h"

#include <deque>
#include <functional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/common/logging.h"
#include "services/common/rpc_observability.h"
#include "services/common/status_util.h"

namespace kabar::ingest {
namespace {

// One IngestStream call. Reads articles while fewer than the window are in
// flight, writes acks in the order the ingester reports them (one write
// outstanding at a time), and finishes once the client is done (or the
// pipeline failed) and every submitted article has been answered: the
// ingester's callbacks hold `this`, so it must not finish earlier.
//
// gRPC calls (StartRead/StartWrite/Finish) are made outside mu_; decisions
// about them are taken under it.
class IngestStreamReactor final
    : public grpc::ServerBidiReactor<v1::IngestStreamRequest, v1::IngestAck> {
 public:
  IngestStreamReactor(Ingester* ingester, int window, std::string request_id,
                      std::function<void()> on_done)
      : ingester_(ingester),
        window_(window),
        request_id_(std::move(request_id)),
        on_done_(std::move(on_done)) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    bool submit = false;
    {
      absl::MutexLock lock(&mu_);
      if (!ok || failed_ || finished_) {
        reads_done_ = true;  // the client is done, or the stream is ending
      } else {
        ++in_flight_;
        submit = true;
      }
    }
    if (submit) {
      ingester_->Submit(request_.sequence(), std::move(*request_.mutable_article()),
                        [this](absl::StatusOr<v1::IngestAck> ack) {
                          OnAck(std::move(ack));
                        },
                        request_id_);
      request_.Clear();
    }
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      if (submit) read_paused_ = true;  // DecideLocked resumes it if it may
      actions = DecideLocked();
    }
    Run(actions);
  }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      outbox_.pop_front();
      if (!ok) write_failed_ = true;  // the client went away
      actions = DecideLocked();
    }
    Run(actions);
  }

  void OnDone() override {
    if (on_done_) on_done_();
    delete this;
  }

 private:
  // What to do once mu_ is released.
  struct Actions {
    bool start_read = false;
    const v1::IngestAck* write = nullptr;
    bool finish = false;
    grpc::Status status;
  };

  void OnAck(absl::StatusOr<v1::IngestAck> ack) {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      --in_flight_;
      if (!ack.ok()) {
        if (!failed_) status_ = ack.status();
        failed_ = true;
      } else if (!write_failed_) {
        outbox_.push_back(*std::move(ack));
      }
      actions = DecideLocked();
    }
    Run(actions);
  }

  Actions DecideLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    Actions actions;
    if (finished_) return actions;
    if (read_paused_ && !failed_ && in_flight_ < window_) {
      read_paused_ = false;
      actions.start_read = true;
    }
    if (failed_ && read_paused_) {
      read_paused_ = false;
      reads_done_ = true;
    }
    if (!writing_ && !write_failed_ && !outbox_.empty()) {
      writing_ = true;
      actions.write = &outbox_.front();  // deque keeps it in place
    }
    const bool answered_all =
        in_flight_ == 0 && !writing_ && (outbox_.empty() || write_failed_);
    // After a failure, stop waiting for the client: a pending read ends
    // with the Finish.
    const bool input_over = reads_done_ || failed_;
    if (answered_all && input_over) {
      finished_ = true;
      actions.start_read = false;
      actions.finish = true;
      actions.status = write_failed_
                           ? grpc::Status(grpc::StatusCode::CANCELLED,
                                          "client stopped reading acks")
                           : common::ToGrpcStatus(status_);
    }
    return actions;
  }

  void Run(const Actions& actions) {
    if (actions.start_read) StartRead(&request_);
    if (actions.write != nullptr) StartWrite(actions.write);
    if (actions.finish) Finish(actions.status);
  }

  Ingester* const ingester_;
  const int window_;
  const std::string request_id_;
  const std::function<void()> on_done_;
  // Only touched by the read path, which has one operation at a time.
  v1::IngestStreamRequest request_;

  absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  bool reads_done_ ABSL_GUARDED_BY(mu_) = false;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::IngestAck> outbox_ ABSL_GUARDED_BY(mu_);
};

// A stream refused before it began.
class RefusedStreamReactor final
    : public grpc::ServerBidiReactor<v1::IngestStreamRequest, v1::IngestAck> {
 public:
  explicit RefusedStreamReactor(const grpc::Status& status) { Finish(status); }
  void OnDone() override { delete this; }
};

}  // namespace

std::string IngestServiceImpl::ClientOf(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  // "unix:/path" and other peers without a port are one client each.
  if (colon == std::string::npos || colon + 1 == peer.size() ||
      peer.find_first_not_of("0123456789", colon + 1) != std::string::npos ||
      peer.find(':') == colon) {
    return peer;
  }
  return peer.substr(0, colon);
}

bool IngestServiceImpl::AcquireStream(const std::string& client) {
  absl::MutexLock lock(&mu_);
  int& open = open_streams_[client];
  if (options_.max_streams_per_client > 0 && open >= options_.max_streams_per_client) {
    if (open == 0) open_streams_.erase(client);
    return false;
  }
  ++open;
  return true;
}

void IngestServiceImpl::ReleaseStream(const std::string& client) {
  absl::MutexLock lock(&mu_);
  auto it = open_streams_.find(client);
  if (it != open_streams_.end() && --it->second <= 0) open_streams_.erase(it);
}

grpc::ServerBidiReactor<v1::IngestStreamRequest, v1::IngestAck>*
IngestServiceImpl::IngestStream(grpc::CallbackServerContext* context) {
  const std::string request_id = common::RequestIdOf(*context);
  const std::string client = ClientOf(context->peer());
  if (!AcquireStream(client)) {
    common::ScopedRequestId scope(request_id);
    common::LogWarning("stream refused: too many open streams",
                       {{"client", client},
                        {"limit", absl::StrCat(options_.max_streams_per_client)}});
    return new RefusedStreamReactor(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        absl::StrCat("too many concurrent IngestStream calls from ", client, " (limit ",
                     options_.max_streams_per_client,
                     ", --max_streams_per_client); finish one or send in one stream")));
  }
  return new IngestStreamReactor(ingester_, options_.max_in_flight_per_stream, request_id,
                                 [this, client] { ReleaseStream(client); });
}

grpc::ServerUnaryReactor* IngestServiceImpl::IngestArticle(
    grpc::CallbackServerContext* context, const v1::IngestArticleRequest* request,
    v1::IngestAck* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ingester_->Submit(0, request->article(),
                    [reactor, response](absl::StatusOr<v1::IngestAck> ack) {
                      if (!ack.ok()) {
                        reactor->Finish(common::ToGrpcStatus(ack.status()));
                        return;
                      }
                      *response = *std::move(ack);
                      reactor->Finish(grpc::Status::OK);
                    },
                    common::RequestIdOf(*context));
  return reactor;
}

}  // namespace kabar::ingest
