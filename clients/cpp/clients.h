// Copyright kabar authors.
// The kabar C++ client library: one small class per service, each owning a
// stub on a shared channel. Every call carries a deadline and returns
// absl::Status / absl::StatusOr; errors name the peer ("store at
// 127.0.0.1:7703: ..."). Used by the `kabar` CLI, by the ingest service to
// reach classify and store, and by tests. All classes are thread-safe.
#ifndef KABAR_CLIENTS_CPP_CLIENTS_H_
#define KABAR_CLIENTS_CPP_CLIENTS_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "kabar/v1/classify_service.grpc.pb.h"
#include "kabar/v1/ingest_service.grpc.pb.h"
#include "kabar/v1/store_service.grpc.pb.h"

namespace kabar::client {

// Default service addresses; they match the services' --listen defaults.
inline constexpr char kDefaultIngestAddress[] = "127.0.0.1:7701";
inline constexpr char kDefaultClassifierAddress[] = "127.0.0.1:7702";
inline constexpr char kDefaultStoreAddress[] = "127.0.0.1:7703";

// How a client proves who it is and checks who it talks to. The default is
// plaintext with no token.
struct ClientSecurity {
  // Speak TLS. With empty root_certs_pem the system's roots verify the
  // server.
  bool tls = false;
  std::string root_certs_pem;
  // PEM certificate chain and key presented for mutual TLS; both or none.
  std::string client_cert_pem;
  std::string client_key_pem;
  // Expect this name in the server certificate instead of the target's
  // host (e.g. when dialing an IP address the certificate does not list).
  std::string server_name;
  // Sent as "authorization: Bearer TOKEN" with every call; empty = none.
  std::string token;
};

// Where ClientSecurity comes from: file paths and a token, as given on a
// command line. All optional.
struct ClientSecurityFiles {
  std::string tls_ca_file;           // Root CA(s) of the servers; turns TLS on.
  std::string tls_client_cert_file;  // Mutual TLS: this client's certificate
  std::string tls_client_key_file;   //   and its key.
  std::string tls_server_name;
  std::string token;
  std::string token_file;  // First line is the token; not with `token`.
};

// Reads the files. INVALID_ARGUMENT (naming the flag) when a client
// certificate comes without its key or the other way round, when both a
// token and a token file are given, when the token file is empty, or when
// the token holds anything but visible ASCII;
// NOT_FOUND when a file cannot be read.
absl::StatusOr<ClientSecurity> LoadClientSecurity(
    const ClientSecurityFiles& files);

struct ClientOptions {
  // gRPC target: HOST:PORT or any gRPC name ("dns:///store:7703").
  std::string address;
  // Deadline of each unary call.
  absl::Duration timeout = absl::Seconds(30);
  // Largest message sent or received.
  int max_message_bytes = 64 << 20;
  // TLS, client certificate and bearer token.
  ClientSecurity security;
  // Sent as x-request-id metadata on every call, so the services' log lines
  // about the call carry it. "" = the calling thread's current request id
  // (common::ScopedRequestId), if any.
  std::string request_id = "";
};

// A channel to `options.address`. Connection happens lazily on first call.
std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options);

// Asks the standard grpc.health.v1 service at `address` for `service` ("" =
// the whole server). OK when SERVING; UNAVAILABLE (naming the address) when
// unreachable or not serving.
absl::Status CheckHealth(const std::string& address, const std::string& service,
                         absl::Duration timeout);
// The same over `options`' channel (TLS, client certificate) and deadline.
absl::Status CheckHealth(const ClientOptions& options,
                         const std::string& service);

// Asks one server's grpc.health.v1 service, on a channel kept open between
// checks (for a service that watches its peers).
class HealthClient final {
 public:
  explicit HealthClient(const ClientOptions& options);
  // As CheckHealth, with the options' timeout.
  absl::Status Check(const std::string& service) const;

 private:
  const ClientOptions options_;
  const std::unique_ptr<grpc::health::v1::Health::Stub> stub_;
};

class ClassifyClient final {
 public:
  explicit ClassifyClient(const ClientOptions& options);

  absl::StatusOr<v1::ClassifyBatchResponse> ClassifyBatch(
      const v1::ClassifyBatchRequest& request) const;
  absl::StatusOr<v1::GetModelsResponse> GetModels() const;
  // Asks the classifier to reload its models from their files and returns
  // the models now loaded. FAILED_PRECONDITION (naming the file) when a
  // model does not load; the old models then keep serving. Behind a load
  // balancer this reloads one replica: dial each replica's own address (or
  // send them SIGHUP) to reload them all.
  absl::StatusOr<v1::ReloadModelsResponse> ReloadModels() const;

  // "classifier at ADDRESS", used in error messages.
  const std::string& peer() const { return peer_; }

 private:
  const ClientOptions options_;
  const std::string peer_;
  const std::unique_ptr<v1::ClassifierService::Stub> stub_;
};

// One open WatchArticles call. Read() may be called from one thread while
// another calls Cancel().
class WatchCall final {
 public:
  WatchCall(
      std::unique_ptr<grpc::ClientContext> context,
      std::unique_ptr<grpc::ClientReader<v1::WatchArticlesResponse>> stream,
      std::string peer)
      : context_(std::move(context)),
        stream_(std::move(stream)),
        peer_(std::move(peer)) {}

  // Next message; false at the end of the stream (Finish() tells why).
  bool Read(v1::WatchArticlesResponse* message);
  // The call's final status. REQUIRES: Read() returned false.
  absl::Status Finish();
  // Ends the call; a blocked Read() returns false.
  void Cancel();

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<v1::WatchArticlesResponse>> stream_;
  const std::string peer_;
};

class StoreClient final {
 public:
  explicit StoreClient(const ClientOptions& options);

  absl::StatusOr<v1::PutArticlesResponse> PutArticles(
      const v1::PutArticlesRequest& request) const;
  // NOT_FOUND when no article has this id.
  absl::StatusOr<v1::StoredArticle> GetArticle(const std::string& id) const;
  absl::StatusOr<v1::QueryArticlesResponse> QueryArticles(
      const v1::QueryArticlesRequest& request) const;
  absl::StatusOr<v1::CountArticlesResponse> CountArticles(
      const v1::CountArticlesRequest& request) const;
  // Replaces stored articles' labels; one result per update, same order
  // (UPDATED, NOT_FOUND, or SKIPPED when an expected model did not match).
  absl::StatusOr<v1::UpdateLabelsResponse> UpdateLabels(
      const v1::UpdateLabelsRequest& request) const;
  // Opens a watch. It has no deadline: it runs until cancelled, or until
  // the store ends it (then Finish() says why; UNAVAILABLE or CANCELLED
  // from a restarting store are worth a reconnect from the last cursor).
  std::unique_ptr<WatchCall> WatchArticles(
      const v1::WatchArticlesRequest& request) const;

  const std::string& peer() const { return peer_; }

 private:
  const ClientOptions options_;
  const std::string peer_;
  const std::unique_ptr<v1::StoreService::Stub> stub_;
};

// One open IngestStream call. Write() and Read() may be used from two
// different threads at once (one writer, one reader).
class IngestStreamCall final {
 public:
  IngestStreamCall(
      std::unique_ptr<grpc::ClientContext> context,
      std::unique_ptr<
          grpc::ClientReaderWriter<v1::IngestStreamRequest, v1::IngestAck>>
          stream,
      std::string peer, const ClientSecurity& security = {})
      : context_(std::move(context)),
        stream_(std::move(stream)),
        peer_(std::move(peer)),
        tls_(security.tls),
        client_cert_(!security.client_cert_pem.empty()) {}

  // False when the stream is broken; Finish() then tells why.
  bool Write(const v1::IngestStreamRequest& request);
  // Half-closes: no more articles. Acks keep coming.
  bool WritesDone();
  // Next ack; false at the end of the stream.
  bool Read(v1::IngestAck* ack);
  // The call's final status. REQUIRES: Read() returned false.
  absl::Status Finish();
  // Aborts the call.
  void Cancel();

 private:
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::IngestStreamRequest, v1::IngestAck>>
      stream_;
  const std::string peer_;
  const bool tls_;
  const bool client_cert_;
};

class IngestClient final {
 public:
  explicit IngestClient(const ClientOptions& options);

  absl::StatusOr<v1::IngestAck> IngestArticle(const v1::Article& article) const;

  // Opens a stream. It has no deadline: it lives as long as the client sends.
  std::unique_ptr<IngestStreamCall> OpenStream() const;

  const std::string& peer() const { return peer_; }

 private:
  const ClientOptions options_;
  const std::string peer_;
  const std::unique_ptr<v1::IngestService::Stub> stub_;
};

}  // namespace kabar::client

#endif  // KABAR_CLIENTS_CPP_CLIENTS_H_
