// Copyright kabar authors.
#include "clients/cpp/clients.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/common/status_util.h"

namespace kabar::client {
namespace {

// A context carrying the request id; with a deadline unless `timeout` is
// infinite (streams).
std::unique_ptr<grpc::ClientContext> NewContext(const ClientOptions& options,
                                                absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  if (timeout != absl::InfiniteDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
  const std::string& request_id =
      options.request_id.empty() ? common::CurrentRequestId() : options.request_id;
  if (!request_id.empty()) {
    context->AddMetadata(common::kRequestIdMetadataKey, request_id);
  }
  return context;
}

// Runs one unary call with the options' deadline and converts its status.
template <typename Response, typename Call>
absl::StatusOr<Response> Unary(const ClientOptions& options,
                               const std::string& peer, Call call) {
  std::unique_ptr<grpc::ClientContext> context = NewContext(options, options.timeout);
  Response response;
  const grpc::Status status = call(context.get(), &response);
  if (!status.ok()) return common::FromGrpcStatus(status, peer);
  return response;
}

}  // namespace

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
  return grpc::CreateCustomChannel(options.address,
                                   grpc::InsecureChannelCredentials(), arguments);
}

absl::Status CheckHealth(const std::string& address, const std::string& service,
                         absl::Duration timeout) {
  ClientOptions options;
  options.address = address;
  options.timeout = timeout;
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
    return absl::UnavailableError(absl::StrCat(
        options_.address, " is not answering health checks: ", status.error_message()));
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

bool IngestStreamCall::Write(const v1::IngestStreamRequest& request) {
  return stream_->Write(request);
}

bool IngestStreamCall::WritesDone() { return stream_->WritesDone(); }

bool IngestStreamCall::Read(v1::IngestAck* ack) { return stream_->Read(ack); }

absl::Status IngestStreamCall::Finish() {
  return common::FromGrpcStatus(stream_->Finish(), peer_);
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
  return std::make_unique<IngestStreamCall>(std::move(context), std::move(stream),
                                            peer_);
}

}  // namespace kabar::client
