// Copyright kabar authors.
#include "clients/cpp/clients.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/common/security.h"
#include "services/common/status_macros.h"
#include "services/common/status_util.h"

namespace kabar::client {
namespace {

// A context carrying the bearer token, if any, and the request id; with a
// deadline unless `timeout` is infinite (streams).
std::unique_ptr<grpc::ClientContext> NewContext(const ClientOptions& options,
                                                absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  if (!options.security.token.empty()) {
    context->AddMetadata("authorization",
                         absl::StrCat("Bearer ", options.security.token));
  }
  const std::string& request_id =
      options.request_id.empty() ? common::CurrentRequestId() : options.request_id;
  if (!request_id.empty()) {
    context->AddMetadata(common::kRequestIdMetadataKey, request_id);
  }
  return context;
}

// The first line of `text` without surrounding whitespace.
std::string FirstLine(absl::string_view text) {
  return std::string(
      absl::StripAsciiWhitespace(text.substr(0, text.find('\n'))));
}

// FromGrpcStatus, plus a hint when the connection was closed during the
// handshake the way a TLS server closes a plaintext client, or a mutual-TLS
// server a client without a certificate.
absl::Status ClientStatus(const grpc::Status& status, const std::string& peer,
                          bool tls, bool client_cert) {
  absl::Status converted = common::FromGrpcStatus(status, peer);
  if (converted.code() != absl::StatusCode::kUnavailable ||
      !absl::StrContains(converted.message(), "Socket closed")) {
    return converted;
  }
  if (!tls) {
    return absl::UnavailableError(absl::StrCat(
        converted.message(),
        " (if the server uses TLS, connect with TLS: --tls_ca=CA_PEM)"));
  }
  if (!client_cert) {
    return absl::UnavailableError(
        absl::StrCat(converted.message(),
                     " (if the server requires client certificates, pass "
                     "--tls_client_cert and --tls_client_key)"));
  }
  return converted;
}

absl::Status ClientStatus(const grpc::Status& status, const std::string& peer,
                          const ClientSecurity& security) {
  return ClientStatus(status, peer, security.tls,
                      !security.client_cert_pem.empty());
}

// Runs one unary call with the options' deadline and converts its status.
template <typename Response, typename Call>
absl::StatusOr<Response> Unary(const ClientOptions& options,
                               const std::string& peer, Call call) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(options, options.timeout);
  Response response;
  const grpc::Status status = call(context.get(), &response);
  if (!status.ok()) return ClientStatus(status, peer, options.security);
  return response;
}

}  // namespace

absl::StatusOr<ClientSecurity> LoadClientSecurity(
    const ClientSecurityFiles& files) {
  ClientSecurity security;
  if (files.tls_client_cert_file.empty() != files.tls_client_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_client_cert and --tls_client_key go together");
  }
  if (!files.token.empty() && !files.token_file.empty()) {
    return absl::InvalidArgumentError("give --token or --token_file, not both");
  }
  if (!files.tls_ca_file.empty()) {
    KABAR_ASSIGN_OR_RETURN(
        security.root_certs_pem,
        common::ReadSecurityFile(files.tls_ca_file, "--tls_ca file"));
  }
  if (!files.tls_client_cert_file.empty()) {
    KABAR_ASSIGN_OR_RETURN(security.client_cert_pem,
                           common::ReadSecurityFile(files.tls_client_cert_file,
                                                    "--tls_client_cert file"));
    KABAR_ASSIGN_OR_RETURN(security.client_key_pem,
                           common::ReadSecurityFile(files.tls_client_key_file,
                                                    "--tls_client_key file"));
  }
  security.tls =
      !files.tls_ca_file.empty() || !files.tls_client_cert_file.empty();
  security.server_name = files.tls_server_name;
  security.token = files.token;
  if (!files.token_file.empty()) {
    KABAR_ASSIGN_OR_RETURN(
        const std::string text,
        common::ReadSecurityFile(files.token_file, "--token_file"));
    security.token = FirstLine(text);
    if (security.token.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--token_file: ", files.token_file, " is empty"));
    }
  }
  // gRPC metadata values are visible ASCII; anything else cannot be sent.
  for (const char c : security.token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          "the bearer token may hold only visible ASCII characters (no "
          "spaces or control characters)");
    }
  }
  return security;
}

std::shared_ptr<grpc::Channel> MakeChannel(const ClientOptions& options) {
  grpc::ChannelArguments arguments;
  arguments.SetMaxReceiveMessageSize(options.max_message_bytes);
  arguments.SetMaxSendMessageSize(options.max_message_bytes);
  // With a name that resolves to several replicas (a scaled compose service,
  // a headless Kubernetes service), spread calls over all of them.
  arguments.SetLoadBalancingPolicyName("round_robin");
  // Keepalive, so a replica that vanished without closing its connections
  // (host or container gone, network cut) is noticed within about 40 s while
  // calls are in flight: its connection is closed, round_robin stops picking
  // it, and the caller's retry of UNAVAILABLE lands on a live replica. No
  // pings on idle channels (servers refuse frequent ones, and an idle
  // connection costs nothing); a replica killed outright resets its
  // connections and is noticed at once anyway.
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30 * 1000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10 * 1000);
  arguments.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  // After an outage, try to reconnect at least every 5 s (gRPC's default
  // backoff grows to 2 minutes), so a peer that is back is used soon.
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5 * 1000);
  const ClientSecurity& security = options.security;
  if (!security.tls) {
    return grpc::CreateCustomChannel(
        options.address, grpc::InsecureChannelCredentials(), arguments);
  }
  if (!security.server_name.empty()) {
    arguments.SetSslTargetNameOverride(security.server_name);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = security.root_certs_pem;
  ssl.pem_cert_chain = security.client_cert_pem;
  ssl.pem_private_key = security.client_key_pem;
  return grpc::CreateCustomChannel(options.address, grpc::SslCredentials(ssl),
                                   arguments);
}

absl::Status CheckHealth(const std::string& address, const std::string& service,
                         absl::Duration timeout) {
  ClientOptions options;
  options.address = address;
  options.timeout = timeout;
  return CheckHealth(options, service);
}

absl::Status CheckHealth(const ClientOptions& options,
                         const std::string& service) {
  return HealthClient(options).Check(service);
}

HealthClient::HealthClient(const ClientOptions& options)
    : options_(options), stub_(grpc::health::v1::Health::NewStub(MakeChannel(options))) {}

absl::Status HealthClient::Check(const std::string& service) const {
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  std::unique_ptr<grpc::ClientContext> context = NewContext(options_, options_.timeout);
  const grpc::Status status = stub_->Check(context.get(), request, &response);
  if (!status.ok()) {
    return absl::UnavailableError(
        absl::StrCat(options_.address, " is not answering health checks: ",
                     ClientStatus(status, "", options_.security).message()));
  }
  if (response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
    return absl::UnavailableError(absl::StrCat(options_.address, " is not serving"));
  }
  return absl::OkStatus();
}

ClassifyClient::ClassifyClient(const ClientOptions& options)
    : options_(options),
      peer_(absl::StrCat("classifier at ", options.address)),
      stub_(v1::ClassifierService::NewStub(MakeChannel(options))) {}

absl::StatusOr<v1::ClassifyBatchResponse> ClassifyClient::ClassifyBatch(
    const v1::ClassifyBatchRequest& request) const {
  return Unary<v1::ClassifyBatchResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->ClassifyBatch(context, request, response);
      });
}

absl::StatusOr<v1::GetModelsResponse> ClassifyClient::GetModels() const {
  return Unary<v1::GetModelsResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->GetModels(context, v1::GetModelsRequest(), response);
      });
}

absl::StatusOr<v1::ReloadModelsResponse> ClassifyClient::ReloadModels() const {
  return Unary<v1::ReloadModelsResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->ReloadModels(context, v1::ReloadModelsRequest(),
                                   response);
      });
}

StoreClient::StoreClient(const ClientOptions& options)
    : options_(options),
      peer_(absl::StrCat("store at ", options.address)),
      stub_(v1::StoreService::NewStub(MakeChannel(options))) {}

absl::StatusOr<v1::PutArticlesResponse> StoreClient::PutArticles(
    const v1::PutArticlesRequest& request) const {
  return Unary<v1::PutArticlesResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->PutArticles(context, request, response);
      });
}

absl::StatusOr<v1::StoredArticle> StoreClient::GetArticle(
    const std::string& id) const {
  v1::GetArticleRequest request;
  request.set_id(id);
  absl::StatusOr<v1::GetArticleResponse> response =
      Unary<v1::GetArticleResponse>(
          options_, peer_, [&](grpc::ClientContext* context, auto* out) {
            return stub_->GetArticle(context, request, out);
          });
  if (!response.ok()) return response.status();
  return std::move(*response->mutable_article());
}

absl::StatusOr<v1::QueryArticlesResponse> StoreClient::QueryArticles(
    const v1::QueryArticlesRequest& request) const {
  return Unary<v1::QueryArticlesResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->QueryArticles(context, request, response);
      });
}

absl::StatusOr<v1::CountArticlesResponse> StoreClient::CountArticles(
    const v1::CountArticlesRequest& request) const {
  return Unary<v1::CountArticlesResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->CountArticles(context, request, response);
      });
}

absl::StatusOr<v1::UpdateLabelsResponse> StoreClient::UpdateLabels(
    const v1::UpdateLabelsRequest& request) const {
  return Unary<v1::UpdateLabelsResponse>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->UpdateLabels(context, request, response);
      });
}

bool WatchCall::Read(v1::WatchArticlesResponse* message) {
  return stream_->Read(message);
}

absl::Status WatchCall::Finish() {
  return common::FromGrpcStatus(stream_->Finish(), peer_);
}

void WatchCall::Cancel() { context_->TryCancel(); }

std::unique_ptr<WatchCall> StoreClient::WatchArticles(
    const v1::WatchArticlesRequest& request) const {
  auto context = NewContext(options_, absl::InfiniteDuration());
  auto stream = stub_->WatchArticles(context.get(), request);
  return std::make_unique<WatchCall>(std::move(context), std::move(stream),
                                     peer_);
}

bool IngestStreamCall::Write(const v1::IngestStreamRequest& request) {
  return stream_->Write(request);
}

bool IngestStreamCall::WritesDone() { return stream_->WritesDone(); }

bool IngestStreamCall::Read(v1::IngestAck* ack) { return stream_->Read(ack); }

absl::Status IngestStreamCall::Finish() {
  return ClientStatus(stream_->Finish(), peer_, tls_, client_cert_);
}

void IngestStreamCall::Cancel() { context_->TryCancel(); }

IngestClient::IngestClient(const ClientOptions& options)
    : options_(options),
      peer_(absl::StrCat("ingest at ", options.address)),
      stub_(v1::IngestService::NewStub(MakeChannel(options))) {}

absl::StatusOr<v1::IngestAck> IngestClient::IngestArticle(
    const v1::Article& article) const {
  v1::IngestArticleRequest request;
  *request.mutable_article() = article;
  return Unary<v1::IngestAck>(
      options_, peer_, [&](grpc::ClientContext* context, auto* response) {
        return stub_->IngestArticle(context, request, response);
      });
}

std::unique_ptr<IngestStreamCall> IngestClient::OpenStream() const {
  auto context = NewContext(options_, absl::InfiniteDuration());
  auto stream = stub_->IngestStream(context.get());
  return std::make_unique<IngestStreamCall>(
      std::move(context), std::move(stream), peer_, options_.security);
}

}  // namespace kabar::client
