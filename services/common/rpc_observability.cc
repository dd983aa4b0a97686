// Copyright kabar authors.
#include "services/common/rpc_observability.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "services/common/logging.h"
#include "services/common/metrics.h"

namespace kabar::common {
namespace {

using grpc::experimental::InterceptionHookPoints;

class RpcObservabilityInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit RpcObservabilityInterceptor(grpc::experimental::ServerRpcInfo* info)
      : start_(absl::Now()) {
    // "/kabar.v1.StoreService/PutArticles" -> service, method.
    absl::string_view full = info->method() != nullptr ? info->method() : "";
    if (!full.empty() && full.front() == '/') full.remove_prefix(1);
    const size_t slash = full.find('/');
    service_ = std::string(full.substr(0, slash));
    method_ = slash == absl::string_view::npos ? "" : std::string(full.substr(slash + 1));
  }

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            InterceptionHookPoints::POST_RECV_INITIAL_METADATA)) {
      const auto* metadata = methods->GetRecvInitialMetadata();
      if (metadata != nullptr) {
        auto it = metadata->find(kRequestIdMetadataKey);
        if (it != metadata->end()) {
          request_id_ = SanitizeRequestId(absl::string_view(it->second.data(), it->second.size()));
        }
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus());
    }
    methods->Proceed();
  }

 private:
  void Record(const grpc::Status& status) {
    const absl::Duration elapsed = absl::Now() - start_;
    const std::string code =
        absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()));
    Metrics()
        .GetCounter("grpc_server_handled_total",
                    "gRPC calls finished, by service, method and status code.",
                    {{"grpc_service", service_}, {"grpc_method", method_}, {"grpc_code", code}})
        .Increment();
    Metrics()
        .GetHistogram("grpc_server_handling_seconds",
                      "Time from a gRPC call's start to its status, by service, method and "
                      "status code.",
                      LatencyBuckets(),
                      {{"grpc_service", service_}, {"grpc_method", method_}, {"grpc_code", code}})
        .Observe(absl::ToDoubleSeconds(elapsed));
    // Health checks come every few seconds from probes and peers; they
    // would drown the lines about requests.
    if (LogEnabled(LogLevel::kDebug) && service_ != "grpc.health.v1.Health") {
      ScopedRequestId scope(request_id_);
      LogDebug("rpc finished",
               {{"method", absl::StrCat(service_, "/", method_)},
                {"code", code},
                {"ms", absl::StrFormat("%.3f", absl::ToDoubleMilliseconds(elapsed))}});
    }
  }

  const absl::Time start_;
  std::string service_;
  std::string method_;
  std::string request_id_;
};

class RpcObservabilityInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcObservabilityInterceptor(info);
  }
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcObservabilityInterceptorFactory() {
  return std::make_unique<RpcObservabilityInterceptorFactory>();
}

std::string RequestIdOf(const grpc::ServerContextBase& context) {
  const auto& metadata = context.client_metadata();
  auto it = metadata.find(kRequestIdMetadataKey);
  if (it == metadata.end()) return "";
  return SanitizeRequestId(absl::string_view(it->second.data(), it->second.size()));
}

}  // namespace kabar::common
