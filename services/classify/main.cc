// Copyright kabar authors.
// kabar-classify: labels texts with language and topics over gRPC.
//
//   kabar-classify [--listen=127.0.0.1:7702] [--port_file=PATH]
//       [--language_model=models/lid.176.ftz] [--topic_model=models/topic.ftz]
//       [--kabar_language_model=models/language.ftz]
//       [--min_language_confidence=0.4] [--lid_trust_confidence=0.5]
//       [--kabar_override_confidence=0.999] [--min_topic_confidence=0.2]
//       [--top_k_topics=3] [--threads=0] [--shutdown_grace=10s]
//       [--tls_cert=PEM --tls_key=PEM [--tls_client_ca=PEM]]
//       [--auth_tokens_file=PATH]
//
// Relative model paths are looked up in the working directory, then in the
// binary's directory and its parents, then in /usr/share/kabar. Every flag
// can also come from KABAR_<FLAG> (e.g. KABAR_TOPIC_MODEL). SIGHUP reloads
// the models (a failed reload keeps the old ones); SIGTERM/SIGINT stop.
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "services/classify/classify_service.h"
#include "services/classify/fasttext_classifier.h"
#include "services/classify/language_rule.h"
#include "services/classify/model_paths.h"
#include "services/classify/model_registry.h"
#include "services/common/flags.h"
#include "services/common/security_flags.h"
#include "services/common/server_flags.h"
#include "services/common/server_runner.h"
#include "services/common/status_macros.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:7702", "HOST:PORT; port 0 picks one");
ABSL_FLAG(std::string, port_file, "", "write the bound port here once serving");
ABSL_FLAG(std::string, language_model, "models/lid.176.ftz", "language model");
ABSL_FLAG(std::string, topic_model, "models/topic.ftz", "topic model");
ABSL_FLAG(std::string, kabar_language_model, "models/language.ftz",
          "kabar's own language model; empty: lid.176 alone");
ABSL_FLAG(int, kabar_language_max_bytes,
          kabar::classify::FastTextClassifier::Options()
              .kabar_language_max_bytes,
          "bytes of text kabar's language model reads; 0 = all");
ABSL_FLAG(double, min_language_confidence, 0.4, "below it, language is und");
ABSL_FLAG(double, lid_trust_confidence,
          kabar::classify::LanguageRuleOptions().lid_trust_confidence,
          "lid.176 keeps a disagreement from this confidence on...");
ABSL_FLAG(double, kabar_override_confidence,
          kabar::classify::LanguageRuleOptions().kabar_override_confidence,
          "...unless kabar's language model is at least this sure");
ABSL_FLAG(double, min_topic_confidence, 0.2, "topics below it are dropped");
ABSL_FLAG(int, top_k_topics, 3, "topics per text unless a request says");
ABSL_FLAG(int, threads, 0, "classification threads; 0 = one per core");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "how long in-flight calls may finish on shutdown");

namespace kabar::classify {
namespace {

absl::Status Run() {
  const ModelSearchPath search = DefaultModelSearchPath();
  FastTextClassifier::Options options;
  KABAR_ASSIGN_OR_RETURN(
      options.language_model_path,
      ResolveModelPath(absl::GetFlag(FLAGS_language_model), search));
  KABAR_ASSIGN_OR_RETURN(
      options.topic_model_path,
      ResolveModelPath(absl::GetFlag(FLAGS_topic_model), search));
  if (const std::string kabar_language =
          absl::GetFlag(FLAGS_kabar_language_model);
      !kabar_language.empty()) {
    KABAR_ASSIGN_OR_RETURN(options.kabar_language_model_path,
                           ResolveModelPath(kabar_language, search));
  }
  options.min_language_confidence =
      absl::GetFlag(FLAGS_min_language_confidence);
  options.lid_trust_confidence = absl::GetFlag(FLAGS_lid_trust_confidence);
  options.kabar_language_max_bytes =
      absl::GetFlag(FLAGS_kabar_language_max_bytes);
  options.kabar_override_confidence =
      absl::GetFlag(FLAGS_kabar_override_confidence);
  options.min_topic_confidence = absl::GetFlag(FLAGS_min_topic_confidence);
  options.top_k_topics = absl::GetFlag(FLAGS_top_k_topics);
  KABAR_ASSIGN_OR_RETURN(
      std::unique_ptr<ModelRegistry> registry,
      ModelRegistry::Create(
          [options]() -> absl::StatusOr<std::unique_ptr<const Classifier>> {
            return FastTextClassifier::Create(options);
          }));

  ClassifierServiceImpl::Options service_options;
  service_options.num_threads = absl::GetFlag(FLAGS_threads);
  ClassifierServiceImpl service(registry.get(), service_options);
  common::ServerOptions server_options;
  KABAR_RETURN_IF_ERROR(common::ApplyServerFlags(&server_options));
  server_options.listen = absl::GetFlag(FLAGS_listen);
  server_options.port_file = absl::GetFlag(FLAGS_port_file);
  server_options.health_service_name = kClassifierServiceName;
  server_options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  server_options.security = common::ServerSecurityFromFlags();
  KABAR_ASSIGN_OR_RETURN(
      std::unique_ptr<common::ServerRunner> runner,
      common::ServerRunner::Start(server_options, {&service}));
  runner->WaitForTermination([&] { (void)registry->Reload(); });
  return absl::OkStatus();
}

}  // namespace
}  // namespace kabar::classify

int main(int argc, char** argv) {
  kabar::common::ParseFlags(argc, argv, "kabar-classify: see --help for flags");
  const absl::Status status = kabar::classify::Run();
  if (status.ok()) return 0;
  std::fprintf(stderr, "kabar-classify: %s\n", status.ToString().c_str());
  return 1;
}
