// Copyright kabar authors.
// kabar-train: trains, quantizes and evaluates kabar's fastText topic model.
//
//   kabar-train train --input=[LANG=]PATH[@N][%B],... --output=model.ftz
//       [--dev=...|--validation_fraction=F] [--label_map=FILE]
//       [--text_fields=headline,text] [--label_field=category]
//       [--lang_field=lang] [--lang=NAME] [--epoch --lr --dim --word_ngrams
//       --minn --maxn --min_count --bucket --loss] [--autotune_seconds=N]
//       [--seed=1] [--threads=1] [--quantize [--cutoff --max_bytes --dsub]]
//   kabar-train quantize --model=X.bin --output=X.ftz [--input=... mapping
//       flags] [--cutoff=N] [--max_bytes=N] [--dsub=2] [--qnorm] [--qout]
//   kabar-train eval --model=X --input=[LANG=]PATH,... [mapping flags]
//       [--lang=NAME] [--format=text|json] [--output=FILE]
//   kabar-train split --input=FILE --output_first=A --output_second=B
//       [--fraction=0.5] [--seed=1] [--label_field=category]
//
// `kabar-train <command> --help` describes a command's flags. --input and
// --dev may be repeated or comma-separated. Every flag can also be set as
// KABAR_<FLAG> in the environment.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/common/flags.h"
#include "services/common/logging.h"
#include "tools/train/commands.h"

ABSL_FLAG(std::vector<std::string>, input, {},
          "Inputs, [LANG=]PATH[@REPEAT][%BALANCE]; TSV with a header, or "
          "JSON Lines "
          "(.jsonl/.ndjson/.json)");
ABSL_FLAG(std::vector<std::string>, dev, {}, "train: development inputs");
ABSL_FLAG(std::vector<std::string>, text_fields,
          std::vector<std::string>({"headline", "text"}),
          "Text columns/fields, joined as title + body; absent ones skipped");
ABSL_FLAG(std::string, label_field, "category", "Label column/field");
ABSL_FLAG(std::string, lang_field, "lang", "Language column/field, if any");
ABSL_FLAG(bool, label_from_lang, false,
          "Label each example with its language (language-ID models)");
ABSL_FLAG(std::string, lang, "", "Language of inputs without LANG= prefix");
ABSL_FLAG(std::string, label_map, "", "File of from<TAB>to label renames");
ABSL_FLAG(double, validation_fraction, 0, "train: hold-out share if no --dev");
ABSL_FLAG(std::string, output, "", "Output file");
ABSL_FLAG(std::string, model, "", "quantize/eval: model file");
ABSL_FLAG(bool, quantize, false, "train: write a quantized .ftz");
ABSL_FLAG(bool, shuffle, false,
          "train: shuffle the examples (seeded) before training");
ABSL_FLAG(int, epoch, 5, "Training epochs");
ABSL_FLAG(double, lr, 0.1, "Learning rate");
ABSL_FLAG(int, dim, 100, "Vector dimension");
ABSL_FLAG(int, word_ngrams, 1, "Longest word n-gram");
ABSL_FLAG(int, minn, 0, "Shortest character n-gram (0: none)");
ABSL_FLAG(int, maxn, 0, "Longest character n-gram (0: none)");
ABSL_FLAG(int, min_count, 1, "Minimum word count");
ABSL_FLAG(int, bucket, 2000000, "Hash buckets for n-grams");
ABSL_FLAG(std::string, loss, "softmax", "softmax, hs, ns or ova");
ABSL_FLAG(int, autotune_seconds, 0, "train: autotune budget (0: off)");
ABSL_FLAG(int, seed, 1, "Random seed (training, splits)");
ABSL_FLAG(int, threads, 1, "Training threads (1 is reproducible)");
ABSL_FLAG(int, verbose, 2, "fastText verbosity (0-2)");
ABSL_FLAG(int64_t, cutoff, 0, "Quantization: rows to keep (0: all/auto)");
ABSL_FLAG(int64_t, max_bytes, 0, "Quantization: size target (0: none)");
ABSL_FLAG(int, dsub, 2, "Quantization: subvector size");
ABSL_FLAG(bool, qnorm, true, "Quantization: quantize norms");
ABSL_FLAG(bool, qout, false, "Quantization: quantize the output matrix");
ABSL_FLAG(int, retrain_epoch, 0, "Quantization: retrain epochs (0: model's)");
ABSL_FLAG(double, retrain_lr, 0, "Quantization: retrain lr (0: model's)");
ABSL_FLAG(std::string, format, "text", "eval: text (Markdown) or json");
ABSL_FLAG(std::string, lid_model, "",
          "eval: evaluate kabar-classify's language with this lid.176 model");
ABSL_FLAG(std::string, topic_model, "models/topic.ftz",
          "eval with --lid_model: the classifier's topic model");
ABSL_FLAG(double, min_language_confidence,
          kabar::classify::FastTextClassifier::Options().min_language_confidence,
          "eval with --lid_model: as kabar-classify's flag");
ABSL_FLAG(double, lid_trust_confidence,
          kabar::classify::FastTextClassifier::Options().lid_trust_confidence,
          "eval with --lid_model: as kabar-classify's flag");
ABSL_FLAG(double, kabar_override_confidence,
          kabar::classify::FastTextClassifier::Options()
              .kabar_override_confidence,
          "eval with --lid_model: as kabar-classify's flag");
ABSL_FLAG(std::string, output_first, "", "split: first part");
ABSL_FLAG(std::string, output_second, "", "split: second part");
ABSL_FLAG(double, fraction, 0.5, "split: share of rows in the first part");

namespace {

constexpr char kUsage[] =
    "usage: kabar-train <train|quantize|eval|split> [flags]\n"
    "       kabar-train <command> --help\n";

constexpr char kDataHelp[] =
    "  --input=SPEC,...      [LANG=]PATH[@REPEAT][%BALANCE]; repeatable.\n"
    "                        TSV with a header row (RFC 4180 quoting), or\n"
    "                        JSON Lines for .jsonl/.ndjson/.json. @REPEAT\n"
    "                        oversamples the file; %BALANCE (0-1) repeats\n"
    "                        rare labels by (max_count/count)^BALANCE.\n"
    "  --text_fields=A,B     text columns joined as title + body, absent\n"
    "                        ones skipped (default headline,text)\n"
    "  --label_field=NAME    label column (default category)\n"
    "  --lang_field=NAME     language column, if present (default lang)\n"
    "  --lang=NAME           language of inputs without LANG= or column\n"
    "  --label_from_lang     the label is the language (column or LANG=),\n"
    "                        for language-ID models; --label_field unused\n"
    "  --label_map=FILE      lines from<TAB>to; '-' as target drops\n";

constexpr char kQuantizeHelp[] =
    "  --cutoff=N            keep the N largest-norm rows (0: all)\n"
    "  --max_bytes=N         pick the cutoff so the file fits in N bytes\n"
    "  --dsub=2 --qnorm=true --qout=false   product quantization settings\n"
    "  --retrain_epoch=N --retrain_lr=X     retraining after the cutoff\n"
    "                        (default: the model's own)\n";

std::string CommandHelp(const std::string& command) {
  if (command == "train") {
    return absl::StrCat(
        "kabar-train train: trains a supervised fastText model on text\n"
        "normalized exactly as the classify service does.\n\n",
        kDataHelp,
        "  --dev=SPEC,...        development inputs (same mapping)\n"
        "  --shuffle             shuffle the examples (seeded) first; needed\n"
        "                        when the inputs are sorted by label\n"
        "  --validation_fraction=F  hold out F of the training data instead\n"
        "  --output=PATH         the model (.bin, or .ftz with --quantize)\n"
        "  --epoch=5 --lr=0.1 --dim=100 --word_ngrams=1 --minn=0 --maxn=0\n"
        "  --min_count=1 --bucket=2000000 --loss=softmax  hyperparameters\n"
        "  --autotune_seconds=N  fastText autotune against the dev set;\n"
        "                        hyperparameters given explicitly stay fixed\n"
        "  --seed=1 --threads=1  (only 1 thread is bit-reproducible)\n"
        "  --verbose=2           fastText progress on stderr (0: quiet)\n"
        "  --quantize            quantize (retraining after a cutoff):\n",
        kQuantizeHelp);
  }
  if (command == "quantize") {
    return absl::StrCat(
        "kabar-train quantize: turns a .bin model into a small .ftz.\n\n"
        "  --model=X.bin --output=X.ftz\n"
        "  --input=SPEC,...      training data, to retrain after a cutoff\n"
        "                        (with the data flags below)\n",
        kQuantizeHelp, "  --threads=1 --verbose=2\n", kDataHelp);
  }
  if (command == "eval") {
    return absl::StrCat(
        "kabar-train eval: accuracy, macro-F1, per-label and per-language\n"
        "metrics and the confusion matrix of a model on labeled data.\n\n"
        "  --model=X             a .bin or .ftz model\n",
        kDataHelp,
        "  --lid_model=FILE      instead of --model alone, evaluate the\n"
        "                        language kabar-classify reports with FILE\n"
        "                        (lid.176) as its language model and --model,\n"
        "                        if given, as kabar's; labels must be kabar\n"
        "                        codes (--label_map=models/language_codes.tsv)\n"
        "  --topic_model=FILE    the classifier's topic model (default\n"
        "                        models/topic.ftz)\n"
        "  --min_language_confidence --lid_trust_confidence\n"
        "  --kabar_override_confidence   as kabar-classify's flags\n"
        "  --format=text|json    Markdown tables or JSON (default text)\n"
        "  --output=FILE         write the report there (default stdout)\n");
  }
  if (command == "split") {
    return "kabar-train split: splits a TSV file in two, stratified by label\n"
           "and deterministic for a seed; both parts keep the header.\n\n"
           "  --input=FILE --output_first=A --output_second=B\n"
           "  --fraction=0.5        share of rows in the first part\n"
           "  --seed=1 --label_field=category\n";
  }
  return "";
}

// Every value given for --name on the command line, in order ("--name=v",
// "--name v", single dash too). Abseil keeps only the last of repeated
// flags; --input and --dev accumulate.
std::vector<std::string> FlagValues(int argc, char** argv,
                                    const std::string& name) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (absl::StartsWith(arg, "--")) arg.erase(0, 1);
    if (arg == "-" + name && i + 1 < argc) {
      values.push_back(argv[++i]);
    } else if (absl::StartsWith(arg, "-" + name + "=")) {
      values.push_back(arg.substr(name.size() + 2));
    }
  }
  return values;
}

std::vector<std::string> ListFlag(int argc, char** argv,
                                  const std::string& name,
                                  const std::vector<std::string>& parsed) {
  const std::vector<std::string> given = FlagValues(argc, argv, name);
  if (given.empty()) return parsed;
  std::vector<std::string> values;
  for (const std::string& value : given) {
    for (absl::string_view part :
         absl::StrSplit(value, ',', absl::SkipEmpty())) {
      values.emplace_back(part);
    }
  }
  return values;
}

kabar::train::DataOptions DataFromFlags(int argc, char** argv) {
  kabar::train::DataOptions data;
  data.inputs = ListFlag(argc, argv, "input", absl::GetFlag(FLAGS_input));
  data.mapping.text_fields = absl::GetFlag(FLAGS_text_fields);
  data.mapping.label_field = absl::GetFlag(FLAGS_label_field);
  data.mapping.lang_field = absl::GetFlag(FLAGS_lang_field);
  data.mapping.label_from_lang = absl::GetFlag(FLAGS_label_from_lang);
  data.label_map_path = absl::GetFlag(FLAGS_label_map);
  data.default_lang = absl::GetFlag(FLAGS_lang);
  return data;
}

kabar::train::QuantizeOptions QuantizeFromFlags() {
  kabar::train::QuantizeOptions options;
  options.cutoff = absl::GetFlag(FLAGS_cutoff);
  options.max_bytes = absl::GetFlag(FLAGS_max_bytes);
  options.dsub = absl::GetFlag(FLAGS_dsub);
  options.qnorm = absl::GetFlag(FLAGS_qnorm);
  options.qout = absl::GetFlag(FLAGS_qout);
  options.retrain_epoch = absl::GetFlag(FLAGS_retrain_epoch);
  options.retrain_lr = absl::GetFlag(FLAGS_retrain_lr);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.verbose = absl::GetFlag(FLAGS_verbose);
  return options;
}

absl::Status Train(int argc, char** argv) {
  kabar::train::TrainCommand command;
  command.data = DataFromFlags(argc, argv);
  command.dev_inputs = ListFlag(argc, argv, "dev", absl::GetFlag(FLAGS_dev));
  command.validation_fraction = absl::GetFlag(FLAGS_validation_fraction);
  kabar::train::Hyperparameters& h = command.train.hyperparameters;
  h.epoch = absl::GetFlag(FLAGS_epoch);
  h.lr = absl::GetFlag(FLAGS_lr);
  h.dim = absl::GetFlag(FLAGS_dim);
  h.word_ngrams = absl::GetFlag(FLAGS_word_ngrams);
  h.minn = absl::GetFlag(FLAGS_minn);
  h.maxn = absl::GetFlag(FLAGS_maxn);
  h.min_count = absl::GetFlag(FLAGS_min_count);
  h.bucket = absl::GetFlag(FLAGS_bucket);
  h.loss = absl::GetFlag(FLAGS_loss);
  for (const char* name : {"epoch", "lr", "dim", "word_ngrams", "minn", "maxn",
                           "min_count", "bucket", "loss"}) {
    if (!FlagValues(argc, argv, name).empty()) command.train.fixed.insert(name);
  }
  command.train.threads = absl::GetFlag(FLAGS_threads);
  command.train.seed = absl::GetFlag(FLAGS_seed);
  command.train.autotune_seconds = absl::GetFlag(FLAGS_autotune_seconds);
  command.train.verbose = absl::GetFlag(FLAGS_verbose);
  command.quantize = absl::GetFlag(FLAGS_quantize);
  command.shuffle = absl::GetFlag(FLAGS_shuffle);
  command.quantize_options = QuantizeFromFlags();
  command.output = absl::GetFlag(FLAGS_output);
  return kabar::train::RunTrain(command);
}

absl::Status Quantize(int argc, char** argv) {
  kabar::train::QuantizeCommand command;
  command.model = absl::GetFlag(FLAGS_model);
  command.data = DataFromFlags(argc, argv);
  command.options = QuantizeFromFlags();
  command.output = absl::GetFlag(FLAGS_output);
  return kabar::train::RunQuantize(command);
}

absl::Status Eval(int argc, char** argv) {
  kabar::train::EvalCommand command;
  command.model = absl::GetFlag(FLAGS_model);
  command.data = DataFromFlags(argc, argv);
  command.format = absl::GetFlag(FLAGS_format);
  command.lid_model = absl::GetFlag(FLAGS_lid_model);
  command.topic_model = absl::GetFlag(FLAGS_topic_model);
  command.classifier.min_language_confidence =
      absl::GetFlag(FLAGS_min_language_confidence);
  command.classifier.lid_trust_confidence =
      absl::GetFlag(FLAGS_lid_trust_confidence);
  command.classifier.kabar_override_confidence =
      absl::GetFlag(FLAGS_kabar_override_confidence);
  absl::StatusOr<std::string> report = kabar::train::RunEval(command);
  if (!report.ok()) return report.status();
  const std::string output = absl::GetFlag(FLAGS_output);
  std::FILE* out = output.empty() ? stdout : std::fopen(output.c_str(), "wb");
  if (out == nullptr) {
    return absl::InternalError(absl::StrCat("cannot write ", output));
  }
  std::fwrite(report->data(), 1, report->size(), out);
  if (out != stdout && std::fclose(out) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", output));
  }
  return absl::OkStatus();
}

absl::Status SplitFile() {
  kabar::train::SplitCommand command;
  command.input = absl::GetFlag(FLAGS_input).empty()
                      ? ""
                      : absl::GetFlag(FLAGS_input).front();
  command.label_field = absl::GetFlag(FLAGS_label_field);
  command.fraction = absl::GetFlag(FLAGS_fraction);
  command.seed = static_cast<uint64_t>(absl::GetFlag(FLAGS_seed));
  command.output_first = absl::GetFlag(FLAGS_output_first);
  command.output_second = absl::GetFlag(FLAGS_output_second);
  return kabar::train::RunSplit(command);
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  const std::string help = CommandHelp(command);
  if (help.empty()) {
    const bool asked =
        command == "--help" || command == "-h" || command == "help";
    std::fputs(kUsage, asked ? stdout : stderr);
    return asked ? 0 : 2;
  }
  for (int i = 2; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
  }
  // Drop the command so absl sees argv[0] followed by flags.
  std::vector<char*> args(argv, argv + argc);
  args.erase(args.begin() + 1);
  const int flag_argc = static_cast<int>(args.size());
  const std::vector<char*> positional =
      kabar::common::ParseFlags(flag_argc, args.data(), kUsage);
  if (positional.size() > 1) {
    std::fprintf(stderr, "kabar-train %s: unexpected argument %s\n",
                 command.c_str(), positional[1]);
    return 2;
  }
  absl::Status status;
  if (command == "train") {
    status = Train(flag_argc, args.data());
  } else if (command == "quantize") {
    status = Quantize(flag_argc, args.data());
  } else if (command == "eval") {
    status = Eval(flag_argc, args.data());
  } else {
    status = SplitFile();
  }
  if (!status.ok()) {
    kabar::common::LogError(
        absl::StrCat("kabar-train ", command, ": ", status.ToString()));
    return status.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return 0;
}
