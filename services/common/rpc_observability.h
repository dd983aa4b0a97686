// Copyright kabar authors.
// What every kabar gRPC server records about each call: a server
// interceptor counts finished calls and their latency per service, method
// and status code (grpc_server_handled_total, grpc_server_handling_seconds
// in Metrics()) and logs each one at debug level with its request id.
#ifndef KABAR_SERVICES_COMMON_RPC_OBSERVABILITY_H_
#define KABAR_SERVICES_COMMON_RPC_OBSERVABILITY_H_

#include <memory>
#include <string>

#include <grpcpp/server_context.h>
#include <grpcpp/support/server_interceptor.h>

namespace kabar::common {

// The interceptor factory ServerRunner installs.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeRpcObservabilityInterceptorFactory();

// The caller's x-request-id metadata, sanitized; "" when absent or unusable.
std::string RequestIdOf(const grpc::ServerContextBase& context);

}  // namespace kabar::common

#endif  // KABAR_SERVICES_COMMON_RPC_OBSERVABILITY_H_
