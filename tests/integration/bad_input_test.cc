// Copyright kabar authors.
// The bad-input corpus against real processes. Every file of tests/data/bad/
// (plus the large cases, generated here at test time so that no 50 MB file
// is committed) goes through the real `kabar ingest` into real
// kabar-classify, kabar-store and kabar-ingest processes. For each file the
// test checks the exit code (1 when anything was rejected, 0 for files that
// must be accepted, such as CRLF and BOM files), that each rejection is
// printed as "FILE:LINE: reason" (or "FILE: reason" for a whole file) with
// its specific reason and that nothing else is, that every valid neighbour
// is in the store and no rejected article is, and that every service is
// still healthy afterwards. A second group sends bad articles straight to
// the ingest service over gRPC, past the CLI's own checks.
//
// tests/data/bad/README.md lists the files and what each line exercises.
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "clients/cpp/clients.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/text.h"
#include "tests/util/service_process.h"

namespace kabar {
namespace {

using ::kabar::testing::BinaryPath;
using ::kabar::testing::MakeTempDir;
using ::kabar::testing::RunCommand;
using ::kabar::testing::ServiceProcess;
using ::testing::HasSubstr;

const std::string kSourceDir = KABAR_SOURCE_DIR;
const std::string kCorpusDir = kSourceDir + "/tests/data/bad";

// The CLI's default --max_line_bytes and the ingest service's default
// --max_article_bytes, which the expected messages quote.
constexpr size_t kMaxLineBytes = size_t{8} << 20;
constexpr size_t kMaxArticleBytes = size_t{1} << 20;

// Sizes of the generated cases.
constexpr size_t kHugeLineBytes = size_t{50} << 20;
constexpr size_t kLargeBodyBytes = size_t{2} << 20;
constexpr int kManyMetadataKeys = 100000;
constexpr int kDeepNesting = 100000;
// The 50 MB JSON line is these around kHugeLineBytes of body text.
constexpr absl::string_view kHugeLinePrefix =
    R"({"id":"huge-2","title":"Fifty megabytes","body":")";
constexpr absl::string_view kHugeLineSuffix = "\"}";

const char* const kServices[] = {"kabar.v1.ClassifierService",
                                 "kabar.v1.StoreService",
                                 "kabar.v1.IngestService"};

// One expected rejection.
struct Rejection {
  // 1-based line of a JSON Lines file; 0 when the whole file is rejected
  // (plain-text articles, binary files), printed as "FILE: reason".
  int line;
  // A substring of what follows "FILE:LINE: ". Rejections by the server
  // read "rejected: <reason>".
  std::string reason;
};

struct BadInputCase {
  // The test's name.
  std::string name;
  // Under tests/data/bad/, or "gen/NAME" for a file generated at test time.
  std::string file;
  int exit_code;
  // Exactly these rejections and no others.
  std::vector<Rejection> rejections;
  // Articles that must be stored: by id (JSON Lines) or, for plain-text
  // files, which have no id, by title.
  std::vector<std::string> stored_ids;
  std::vector<std::string> stored_titles;
  // Ids of rejected articles: they must not be stored.
  std::vector<std::string> absent_ids;
};

void PrintTo(const BadInputCase& c, std::ostream* out) { *out << c.file; }

std::string LineOf(size_t bytes, char fill) { return std::string(bytes, fill); }

// A valid article line with a body long enough to be classified.
std::string GoodLine(absl::string_view id, absl::string_view title) {
  return absl::StrCat(R"({"id":")", id, R"(","title":")", title,
                      R"(","body":")", title,
                      ". The city council met on Monday to discuss the new "
                      "budget for schools and public transport.\"}");
}

// The last few KB of a service's log, for failure messages.
std::string LogTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream contents;
  contents << in.rdbuf();
  const std::string text = contents.str();
  return text.size() <= 4000 ? text : text.substr(text.size() - 4000);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
  ASSERT_TRUE(out.good()) << path;
}

// Writes the large case `name` ("huge_line.jsonl", ...) to `path`, in
// pieces, so the test never holds more than one copy of a 50 MB line.
void GenerateLargeCase(const std::string& name, const std::string& path) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (name == "huge_line.jsonl") {
    out << GoodLine("huge-1", "Flood defences hold") << "\n";
    out << kHugeLinePrefix;
    const std::string chunk = LineOf(1 << 20, 'a');
    for (size_t i = 0; i < kHugeLineBytes / chunk.size(); ++i) out << chunk;
    out << kHugeLineSuffix << "\n";
    out << GoodLine("huge-3", "Tram line extended") << "\n";
    // Under the CLI's line limit, over the server's article limit.
    out << R"({"id":"huge-4","title":"Two megabytes","body":")"
        << LineOf(kLargeBodyBytes, 'b') << "\"}\n";
    out << GoodLine("huge-5", "Power plant upgraded") << "\n";
  } else if (name == "huge_line.txt") {
    // One plain-text "article": a single 50 MB line without a line end.
    const std::string chunk = LineOf(1 << 20, 'c');
    for (size_t i = 0; i < kHugeLineBytes / chunk.size(); ++i) out << chunk;
  } else if (name == "metadata_100k.jsonl") {
    out << GoodLine("keys-1", "Bus fares frozen") << "\n";
    out << R"({"id":"keys-2","body":"Many keys.","metadata":{)";
    for (int i = 0; i < kManyMetadataKeys; ++i) {
      out << (i == 0 ? "" : ",") << "\"k" << i << "\":\"v\"";
    }
    out << "}}\n" << GoodLine("keys-3", "Stadium renovated") << "\n";
  } else if (name == "deep_100k.jsonl") {
    out << GoodLine("deep100k-1", "Bakery wins award") << "\n"
        << R"({"id":"deep100k-2","body":"x","metadata":{"a":)"
        << LineOf(kDeepNesting, '[') << LineOf(kDeepNesting, ']') << "}}\n"
        << LineOf(10 * kDeepNesting, '{') << "\n"
        << GoodLine("deep100k-4", "Clinic hires nurses") << "\n";
  } else {
    ADD_FAILURE() << "no generator for " << name;
  }
  out.close();
  EXPECT_TRUE(out.good()) << path;
}

std::vector<BadInputCase> Cases() {
  const std::string too_long =
      absl::StrCat("over --max_line_bytes=", kMaxLineBytes);
  const std::string over_article_limit =
      absl::StrCat("over the limit of ", kMaxArticleBytes);
  return {
      {"InvalidUtf8",
       "invalid_utf8.jsonl",
       1,
       {{2, "invalid UTF-8 at byte 49"},
        {3, "invalid UTF-8 at byte 42"},
        {4, "invalid UTF-8 at byte 63"},
        {5, "invalid UTF-8 at byte 61"},
        {6, "invalid UTF-8 at byte 49"},
        {8, "invalid UTF-8 at byte 55"},
        {9, "invalid UTF-8 at byte 40"}},
       {"utf8-1", "utf8-7", "utf8-10"},
       {},
       {"utf8-2", "utf8-3", "utf8-4", "utf8-5", "utf8-6", "utf8-8", "utf8-9"}},
      {"OverlongUtf8",
       "overlong_utf8.jsonl",
       1,
       {{2, "invalid UTF-8 at byte 42"},
        {3, "invalid UTF-8 at byte 40"},
        {4, "invalid UTF-8 at byte 47"},
        {5, "invalid UTF-8 at byte 46"},
        {6, "invalid UTF-8 at byte 43"}},
       {"overlong-1", "overlong-7"},
       {},
       {"overlong-2", "overlong-3", "overlong-4", "overlong-5", "overlong-6"}},
      {"NulBytesInJsonLines",
       "nul_bytes.jsonl",
       1,
       {{2, "raw NUL at byte 30 (escape it as \\u0000 inside strings)"},
        {3, "raw NUL at byte 48"},
        {5, "rejected: body is empty"}},
       {"nul-1", "nul-4", "nul-6"},
       {},
       {"nul-2", "nul-3", "nul-5"}},
      {"NulByteInTextFile",
       "nul_bytes.txt",
       1,
       {{0, "binary file (NUL byte at offset 26)"}},
       {},
       {},
       {}},
      {"EmptyJsonLinesFileIsNothingToDo", "empty.jsonl", 0, {}, {}, {}, {}},
      {"EmptyTextFile", "empty.txt", 1, {{0, "file is empty"}}, {}, {}, {}},
      {"WhitespaceOnlyTextFile",
       "whitespace_only.txt",
       1,
       {{0, "file is empty"}},
       {},
       {},
       {}},
      {"TitleOnlyTextFile",
       "title_only.txt",
       1,
       {{0, "no body: the first line is the title and nothing follows it"}},
       {},
       {},
       {}},
      {"WrongTypes",
       "wrong_types.jsonl",
       1,
       {{2, "\"body\" must be a string, got number"},
        {3, "\"title\" must be a string, got array"},
        {4, "\"id\" must be a string, got number"},
        {5, "\"metadata\" must be an object, got string"},
        {6, "\"published_at\" must be an RFC 3339 string, got number"},
        {7, "\"published_at\" is not an RFC 3339 time (\"yesterday\")"},
        {8, "\"url\" must be a string, got boolean"},
        {9, "\"text\" must be a string, got object"},
        {11, "\"published_at\" is not an RFC 3339 time"},
        {12, "\"source\" must be a string, got object"}},
       {"types-1", "types-10", "types-13"},
       {},
       {"types-2", "types-3", "types-5", "types-6", "types-7", "types-8",
        "types-9", "types-11", "types-12"}},
      {"BadIds",
       "bad_ids.jsonl",
       1,
       {{2, "rejected: id must not contain whitespace or control characters"},
        {3, "rejected: id is 306 bytes, over the limit of 256"},
        {4, "rejected: id must not contain whitespace or control characters"}},
       {"ids-1", "ids-5"},
       {},
       {"ids 2 has spaces", "ids-4\ttab"}},
      {"TooManyMetadataEntries",
       "many_metadata.jsonl",
       1,
       {{2, "rejected: metadata has 257 entries, over the limit of 256"}},
       {"meta-1", "meta-3", "meta-4"},
       {},
       {"meta-2"}},
      {"HundredThousandMetadataKeys",
       "gen/metadata_100k.jsonl",
       1,
       {{2, absl::StrCat("rejected: article is ")}, {2, over_article_limit}},
       {"keys-1", "keys-3"},
       {},
       {"keys-2"}},
      {"DeepNesting",
       "deep_nesting.jsonl",
       1,
       {{2, "JSON nests deeper than 64 levels"},
        {3, "JSON nests deeper than 64 levels"},
        {5, "JSON nests deeper than 64 levels"}},
       {"deep-1", "deep-4", "deep-6", "deep-7"},
       {},
       {"deep-2", "deep-5"}},
      {"HundredThousandLevelsDeep",
       "gen/deep_100k.jsonl",
       1,
       {{2, "JSON nests deeper than 64 levels"},
        {3, "JSON nests deeper than 64 levels"}},
       {"deep100k-1", "deep100k-4"},
       {},
       {"deep100k-2"}},
      {"FiftyMegabyteLine",
       "gen/huge_line.jsonl",
       1,
       {{2, absl::StrCat("line is ",
                         kHugeLinePrefix.size() + kHugeLineBytes +
                             kHugeLineSuffix.size(),
                         " bytes, ", too_long)},
        {4, absl::StrCat("rejected: article is ")},
        {4, over_article_limit}},
       {"huge-1", "huge-3", "huge-5"},
       {},
       {"huge-2", "huge-4"}},
      {"FiftyMegabyteTextFile",
       "gen/huge_line.txt",
       1,
       {{0, absl::StrCat("file is ", too_long, " bytes")}},
       {},
       {},
       {}},
      {"MalformedJson",
       "malformed.jsonl",
       1,
       {{2,
         "malformed JSON at byte 33: syntax error while parsing object - "
         "unexpected end of input; expected '}'"},
        {3,
         "malformed JSON at byte 2: syntax error while parsing object key - "
         "invalid literal"},
        {4,
         "malformed JSON at byte 39: syntax error while parsing object key - "
         "unexpected '}'; expected string literal"},
        {5, "not a JSON object (got array)"},
        {6, "not a JSON object (got string)"},
        {7, "not a JSON object (got number)"},
        {8, "not a JSON object (got null)"},
        {9,
         "malformed JSON at byte 32: syntax error while parsing value - "
         "invalid literal; last read: '\"text\"} tra'; expected end of "
         "input"},
        {10,
         "malformed JSON at byte 44: syntax error while parsing value - "
         "invalid string: missing closing quote"},
        {11,
         "malformed JSON at byte 52: syntax error while parsing value - "
         "invalid string: surrogate U+D800..U+DBFF must be followed by "
         "U+DC00..U+DFFF"},
        {12,
         "malformed JSON at byte 37: syntax error while parsing value - "
         "unexpected '{'; expected end of input"},
        {13,
         "malformed JSON at byte 36: syntax error while parsing value - "
         "invalid string: forbidden character after backslash"},
        {14,
         "malformed JSON at byte 1: syntax error while parsing value - "
         "unexpected '}'"},
        {15,
         "malformed JSON at byte 21: syntax error while parsing object - "
         "unexpected string literal; expected '}'"},
        {16,
         "malformed JSON at byte 40: syntax error while parsing object "
         "key - invalid literal"},
        {17,
         "malformed JSON at byte 41: syntax error while parsing value - "
         "invalid string: control character U+0001 (SOH) must be escaped"}},
       {"mal-1", "mal-18", "mal-20"},
       {},
       {"mal-2", "mal-3", "mal-4", "mal-9", "mal-10", "mal-11", "mal-12",
        "mal-12b", "mal-13", "mal-15", "mal-16", "mal-17"}},
      {"EmptyBodies",
       "empty_body.jsonl",
       1,
       {{2, "\"body\" is empty"},
        {3, "\"body\" is empty"},
        {4, "missing \"body\""},
        {5, "missing \"body\""},
        {6, "rejected: body is empty"},
        {7, "\"text\" is empty"},
        {8, "\"body\" is empty"},
        {9, "missing \"body\""},
        {10, "rejected: body is empty"},
        {11, "rejected: body is empty"}},
       {"empty-1", "empty-12"},
       {},
       {"empty-2", "empty-3", "empty-4", "empty-5", "empty-6", "empty-7",
        "empty-8", "empty-10", "empty-11"}},
      {"ControlCharacters",
       "control_chars.jsonl",
       1,
       {{2,
         R"("published_at" is not an RFC 3339 time ("\x1b]0;owned\x07\nline2"))"}},
       {"ctl-1", "ctl-3", "ctl-4"},
       {},
       {"ctl-2"}},
      {"CrlfJsonLinesAreAccepted",
       "crlf.jsonl",
       0,
       {},
       {"crlf-1", "crlf-2", "crlf-3"},
       {},
       {}},
      {"CrlfTextFileIsAccepted",
       "crlf.txt",
       0,
       {},
       {},
       {"City budget approved after long debate"},
       {}},
      {"BomJsonLinesAreAccepted",
       "bom.jsonl",
       0,
       {},
       {"bom-1", "bom-2", "bom-3"},
       {},
       {}},
      {"BomAndCrlfJsonLinesAreAccepted",
       "bom_crlf.jsonl",
       0,
       {},
       {"bomcrlf-1", "bomcrlf-2"},
       {},
       {}},
      {"BomTextFileIsAccepted",
       "bom.txt",
       0,
       {},
       {},
       {"National park expands"},
       {}},
      {"BomAndCrlfTextFileIsAccepted",
       "bom_crlf.txt",
       0,
       {},
       {},
       {"Fishermen protest new quotas"},
       {}},
      {"BinaryTextFile",
       "binary.png",
       1,
       {{0, "binary file (NUL byte at offset 8)"}},
       {},
       {},
       {}},
      {"BinaryJsonLinesFile",
       "binary_gzip.jsonl",
       1,
       {{0, "binary file (NUL byte at offset 3 on line 1), not JSON Lines"}},
       {},
       {},
       {}},
      // A PNG named .jsonl: its first NUL is on line 3 (after the
      // signature's "\r\n\x1a\n"), but the first block is looked at as a
      // whole, so it is one rejection rather than one per "line".
      {"BinaryFileNamedJsonLines",
       "binary.jsonl",
       1,
       {{0,
         "binary file (335 of its first 545 bytes are control characters or "
         "invalid UTF-8), not JSON Lines"}},
       {},
       {},
       {}},
      {"Latin1TextFile",
       "latin1.txt",
       1,
       {{0, "binary or non-UTF-8 file (invalid UTF-8 at byte 3)"}},
       {},
       {},
       {}},
  };
}

client::ClientOptions To(const std::string& address) {
  client::ClientOptions options;
  options.address = address;
  options.timeout = absl::Seconds(30);
  return options;
}

std::unique_ptr<ServiceProcess> StartOrFail(
    const std::string& binary, const std::vector<std::string>& args,
    const std::string& dir, const std::string& service) {
  auto process = ServiceProcess::Start(BinaryPath(binary), args, dir, service);
  if (!process.ok()) {
    ADD_FAILURE() << process.status();
    return nullptr;
  }
  return *std::move(process);
}

// models/topic.ftz when it is there; else a tiny topic model trained here
// with kabar-train (the labels do not matter to these tests).
std::string TopicModel(const std::string& dir) {
  const std::string committed = kSourceDir + "/models/topic.ftz";
  if (std::filesystem::exists(committed)) return committed;
  const std::string tsv = dir + "/topics.tsv";
  std::string rows = "category\ttext\n";
  for (int i = 0; i < 20; ++i) {
    absl::StrAppend(&rows, "politics\tthe parliament voted on the budget ", i,
                    "\nsports\tthe team won the football match ", i, "\n");
  }
  WriteFile(tsv, rows);
  const std::string model = dir + "/topic.bin";
  std::string output;
  absl::StatusOr<int> code =
      RunCommand({BinaryPath("kabar-train"), "train", "--input=" + tsv,
                  "--lang=en", "--output=" + model, "--dim=8", "--bucket=1000",
                  "--epoch=2", "--verbose=0"},
                 &output);
  EXPECT_EQ(code.value_or(-1), 0) << output;
  return model;
}

// The three services, started once for all the tests here.
class BadInputTest : public ::testing::TestWithParam<BadInputCase> {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("bad-input"));
    classify_ =
        StartOrFail("kabar-classify",
                    {"--language_model=" + kSourceDir + "/models/lid.176.ftz",
                     "--topic_model=" + TopicModel(*dir_)},
                    *dir_, kServices[0])
            .release();
    store_ = StartOrFail("kabar-store", {"--db=" + *dir_ + "/kabar.db"}, *dir_,
                         kServices[1])
                 .release();
    if (classify_ == nullptr || store_ == nullptr) return;
    ingest_ = StartOrFail("kabar-ingest",
                          {"--classifier=" + classify_->address(),
                           "--store=" + store_->address()},
                          *dir_, kServices[2])
                  .release();
  }

  static void TearDownTestSuite() {
    for (ServiceProcess* process : {ingest_, store_, classify_}) {
      if (process != nullptr) {
        EXPECT_EQ(process->Stop().value_or(-1), 0)
            << "see " << process->log_path();
      }
      delete process;
    }
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  void SetUp() override {
    ASSERT_NE(ingest_, nullptr) << "services did not start";
  }

  // Whatever the input did, every service must still answer SERVING.
  void TearDown() override {
    if (ingest_ == nullptr) return;
    const ServiceProcess* processes[] = {classify_, store_, ingest_};
    for (int i = 0; i < 3; ++i) {
      const absl::Status health = client::CheckHealth(
          processes[i]->address(), kServices[i], absl::Seconds(10));
      EXPECT_TRUE(health.ok()) << health << "\n"
                               << LogTail(processes[i]->log_path());
    }
  }

  // The corpus file's path; a "gen/" file is generated on first use.
  std::string PathOf(const std::string& file) const {
    absl::string_view name = file;
    if (!absl::ConsumePrefix(&name, "gen/")) return kCorpusDir + "/" + file;
    const std::string path = absl::StrCat(*dir_, "/", name);
    if (!std::filesystem::exists(path)) {
      GenerateLargeCase(std::string(name), path);
    }
    return path;
  }

  // Runs `kabar ingest PATH` against this suite's services.
  int Ingest(const std::string& path, std::string* output) {
    absl::StatusOr<int> code =
        RunCommand({BinaryPath("kabar"), "ingest",
                    "--ingest=" + ingest_->address(), "--progress=false", path},
                   output);
    EXPECT_TRUE(code.ok()) << code.status();
    return code.value_or(-1);
  }

  static client::StoreClient Store() {
    return client::StoreClient(To(store_->address()));
  }
  static client::IngestClient IngestService() {
    return client::IngestClient(To(ingest_->address()));
  }

  static std::string* dir_;
  static ServiceProcess* classify_;
  static ServiceProcess* store_;
  static ServiceProcess* ingest_;
};

std::string* BadInputTest::dir_ = nullptr;
ServiceProcess* BadInputTest::classify_ = nullptr;
ServiceProcess* BadInputTest::store_ = nullptr;
ServiceProcess* BadInputTest::ingest_ = nullptr;

// What the store holds must be clean whatever the input looked like.
void ExpectCleanStoredArticle(const v1::StoredArticle& stored) {
  const v1::Article& article = stored.article();
  for (const std::string* field :
       {&article.id(), &article.title(), &article.body()}) {
    EXPECT_TRUE(common::ValidateUtf8(*field).ok()) << article.id();
    EXPECT_THAT(*field, ::testing::Not(HasSubstr("\r"))) << article.id();
    EXPECT_THAT(*field, ::testing::Not(HasSubstr("\xEF\xBB\xBF")))
        << article.id();
    EXPECT_EQ(field->find('\0'), std::string::npos) << article.id();
  }
  for (const char c : article.id() + article.title() + article.body()) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(c == '\n' || (byte >= 0x20 && byte != 0x7F))
        << article.id() << " holds control character " << int{byte};
  }
  EXPECT_EQ(article.title().find('\n'), std::string::npos) << article.id();
  EXPECT_FALSE(article.body().empty()) << article.id();
  EXPECT_FALSE(stored.labels().language().code().empty()) << article.id();
}

TEST_P(BadInputTest, RejectsEachBadRecordAndStoresTheRest) {
  const BadInputCase& c = GetParam();
  const std::string path = PathOf(c.file);
  ASSERT_TRUE(std::filesystem::exists(path)) << path;

  std::string output;
  EXPECT_EQ(Ingest(path, &output), c.exit_code) << output;

  // The rejection lines: everything naming the file except warnings.
  std::vector<std::string> reported;
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, path + ":") &&
        !absl::StrContains(line, ": warning: ")) {
      reported.emplace_back(line);
    }
  }
  int expected_lines = 0;
  for (size_t i = 0; i < c.rejections.size(); ++i) {
    const Rejection& rejection = c.rejections[i];
    // Several expectations may describe one line; count each line once.
    if (i == 0 || rejection.line != c.rejections[i - 1].line) {
      ++expected_lines;
    }
    const std::string prefix =
        rejection.line == 0 ? absl::StrCat(path, ": ")
                            : absl::StrCat(path, ":", rejection.line, ": ");
    bool found = false;
    for (const std::string& line : reported) {
      if (absl::StartsWith(line, prefix) &&
          absl::StrContains(line, rejection.reason)) {
        found = true;
      }
    }
    EXPECT_TRUE(found) << "expected \"" << prefix << "..." << rejection.reason
                       << "\" in:\n"
                       << output;
  }
  EXPECT_EQ(reported.size(), static_cast<size_t>(expected_lines)) << output;
  EXPECT_THAT(output, ::testing::Not(HasSubstr("error: ")));
  // Input bytes never reach the terminal raw: no control characters (an
  // ESC could drive the terminal) and no line breaks inside a message.
  for (const char c : output) {
    const auto byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(c == '\n' || (byte >= 0x20 && byte != 0x7F))
        << "control character " << int{byte} << " in:\n"
        << output;
  }
  const size_t stored = c.stored_ids.size() + c.stored_titles.size();
  EXPECT_THAT(output, HasSubstr(absl::StrCat("accepted ", stored, ", ")));
  EXPECT_THAT(output, HasSubstr(absl::StrCat("rejected ", expected_lines)));

  const client::StoreClient store = Store();
  for (const std::string& id : c.stored_ids) {
    absl::StatusOr<v1::StoredArticle> article = store.GetArticle(id);
    ASSERT_TRUE(article.ok()) << id << ": " << article.status();
    ExpectCleanStoredArticle(*article);
  }
  for (const std::string& id : c.absent_ids) {
    EXPECT_EQ(store.GetArticle(id).status().code(), absl::StatusCode::kNotFound)
        << id;
  }
  if (!c.stored_titles.empty()) {
    // Plain-text articles get a derived id; find them by title.
    v1::QueryArticlesRequest request;
    request.set_page_size(1000);
    absl::StatusOr<v1::QueryArticlesResponse> all =
        store.QueryArticles(request);
    ASSERT_TRUE(all.ok()) << all.status();
    for (const std::string& title : c.stored_titles) {
      int copies = 0;
      for (const v1::StoredArticle& article : all->articles()) {
        if (article.article().title() != title) continue;
        ++copies;
        absl::StatusOr<v1::StoredArticle> by_id =
            store.GetArticle(article.article().id());
        ASSERT_TRUE(by_id.ok()) << title << ": " << by_id.status();
        ExpectCleanStoredArticle(*by_id);
      }
      EXPECT_EQ(copies, 1) << title;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Corpus, BadInputTest, ::testing::ValuesIn(Cases()),
    [](const ::testing::TestParamInfo<BadInputCase>& info) {
      return info.param.name;
    });

// Spot checks of what the accepted tricky inputs became.
TEST_F(BadInputTest, NormalizesWhatItAccepts) {
  for (const char* file : {"crlf.jsonl", "nul_bytes.jsonl", "bom.txt",
                           "crlf.txt", "wrong_types.jsonl"}) {
    std::string output;
    Ingest(PathOf(file), &output);  // Stored already or now: either is fine.
  }
  const client::StoreClient store = Store();
  absl::StatusOr<v1::StoredArticle> crlf = store.GetArticle("crlf-2");
  ASSERT_TRUE(crlf.ok()) << crlf.status();
  EXPECT_EQ(crlf->article().body(),
            "First paragraph about the harbour.\n\nSecond paragraph about "
            "the ships.");

  absl::StatusOr<v1::StoredArticle> nul = store.GetArticle("nul-4");
  ASSERT_TRUE(nul.ok()) << nul.status();
  EXPECT_EQ(nul->article().body(),
            "an escaped NUL is dropped, the rest of the body stays");

  absl::StatusOr<v1::StoredArticle> types = store.GetArticle("types-10");
  ASSERT_TRUE(types.ok()) << types.status();
  EXPECT_THAT(
      types->article().metadata(),
      ::testing::UnorderedElementsAre(::testing::Pair("count", "3"),
                                      ::testing::Pair("ratio", "0.5"),
                                      ::testing::Pair("flag", "true"),
                                      ::testing::Pair("tags", R"(["a","b"])"),
                                      ::testing::Pair("extra", R"({"k":"v"})"),
                                      ::testing::Pair("author", "Rina")));

  v1::QueryArticlesRequest request;
  request.set_page_size(1000);
  absl::StatusOr<v1::QueryArticlesResponse> all = store.QueryArticles(request);
  ASSERT_TRUE(all.ok()) << all.status();
  bool saw_bom_title = false, saw_crlf_body = false;
  for (const v1::StoredArticle& stored : all->articles()) {
    ExpectCleanStoredArticle(stored);
    if (stored.article().title() == "National park expands") {
      saw_bom_title = true;
    }
    if (stored.article().title() == "City budget approved after long debate") {
      saw_crlf_body = true;
      EXPECT_EQ(stored.article().body(),
                "The city council approved the budget on Tuesday.\nSchools "
                "get more money.\n\nTransport projects were delayed.");
    }
  }
  EXPECT_TRUE(saw_bom_title);
  EXPECT_TRUE(saw_crlf_body);
}

// Member names are untrusted too. The warning about unknown members prints
// them raw (clients/cli/ingest_command.cc), so a name holding an ESC
// sequence or a newline reaches the terminal as such. Enable once the
// warning escapes them.
TEST_F(BadInputTest, UnknownFieldNamesAreEscapedInTheWarning) {
  const std::string path = absl::StrCat(*dir_, "/unknown_field.jsonl");
  WriteFile(path,
            "{\"id\":\"unknown-1\",\"body\":\"Trains run on time again after "
            "the strike.\",\"\\u001b[31mred\\nline\":1}\n");
  std::string output;
  EXPECT_EQ(Ingest(path, &output), 0) << output;
  EXPECT_THAT(output, HasSubstr("warning: ignoring unknown fields"));
  EXPECT_THAT(output, ::testing::Not(HasSubstr("\x1b"))) << output;
  EXPECT_THAT(output, ::testing::Not(HasSubstr("red\nline"))) << output;
}

// Straight to the ingest service over gRPC, without the CLI's checks.

v1::Article ValidArticle(const std::string& id) {
  v1::Article article;
  article.set_id(id);
  article.set_title("Ferry timetable changes");
  article.set_body(
      "The ferry company published a new timetable for the summer season "
      "with more crossings on weekends.");
  return article;
}

// Bad articles the service must answer with REJECTED and a reason.
struct DirectCase {
  std::string name;
  v1::Article article;
  std::string reason;  // A substring of the ack's reason.
};

std::vector<DirectCase> DirectCases() {
  std::vector<DirectCase> cases;
  {
    v1::Article article = ValidArticle("grpc-large-body");
    article.set_body(std::string(kLargeBodyBytes, 'x'));
    cases.push_back({"2 MB body", article,
                     absl::StrCat("over the limit of ", kMaxArticleBytes)});
  }
  {
    v1::Article article = ValidArticle("grpc-many-keys");
    for (int i = 0; i < kManyMetadataKeys; ++i) {
      (*article.mutable_metadata())[absl::StrCat("k", i)] = "v";
    }
    cases.push_back({"100k metadata keys", article,
                     absl::StrCat("over the limit of ", kMaxArticleBytes)});
  }
  {
    v1::Article article = ValidArticle("grpc-300-keys");
    for (int i = 0; i < 300; ++i) {
      (*article.mutable_metadata())[absl::StrCat("k", i)] = "v";
    }
    cases.push_back({"300 metadata keys", article,
                     "metadata has 300 entries, over the limit of 256"});
  }
  {
    v1::Article article = ValidArticle("grpc-empty-body");
    article.clear_body();
    cases.push_back({"empty body", article, "body is empty"});
  }
  {
    v1::Article article = ValidArticle("grpc-blank-body");
    article.set_body(" \t\r\n\u200b\xc2\xa0\n");
    cases.push_back({"blank body", article, "body is empty"});
  }
  {
    v1::Article article = ValidArticle("grpc id with spaces");
    cases.push_back({"id with spaces", article,
                     "id must not contain whitespace or control characters"});
  }
  return cases;
}

TEST_F(BadInputTest, UnaryIngestRejectsBadArticlesWithReasons) {
  const client::IngestClient ingest = IngestService();
  for (const DirectCase& c : DirectCases()) {
    absl::StatusOr<v1::IngestAck> ack = ingest.IngestArticle(c.article);
    ASSERT_TRUE(ack.ok()) << c.name << ": " << ack.status();
    EXPECT_EQ(ack->status(), v1::ACK_STATUS_REJECTED) << c.name;
    EXPECT_THAT(ack->reason(), HasSubstr(c.reason)) << c.name;
    EXPECT_EQ(Store().GetArticle(c.article.id()).status().code(),
              absl::StatusCode::kNotFound)
        << c.name;
  }
  absl::StatusOr<v1::IngestAck> good =
      ingest.IngestArticle(ValidArticle("grpc-unary-good"));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(good->status(), v1::ACK_STATUS_ACCEPTED);
}

TEST_F(BadInputTest, StreamRejectsBadArticlesAndStoresTheRest) {
  std::unique_ptr<client::IngestStreamCall> call = IngestService().OpenStream();
  const std::vector<DirectCase> cases = DirectCases();
  uint64_t sequence = 0;
  for (const DirectCase& c : cases) {
    v1::IngestStreamRequest request;
    request.set_sequence(++sequence);
    *request.mutable_article() =
        ValidArticle(absl::StrCat("grpc-good-", sequence));
    ASSERT_TRUE(call->Write(request));
    request.set_sequence(++sequence);
    *request.mutable_article() = c.article;
    request.mutable_article()->set_id(absl::StrCat(c.article.id(), "-stream"));
    ASSERT_TRUE(call->Write(request));
  }
  ASSERT_TRUE(call->WritesDone());
  std::vector<v1::IngestAck> acks(sequence + 1);
  v1::IngestAck ack;
  int answered = 0;
  while (call->Read(&ack)) {
    ASSERT_GE(ack.sequence(), 1u);
    ASSERT_LE(ack.sequence(), sequence);
    acks[ack.sequence()] = ack;
    ++answered;
  }
  EXPECT_TRUE(call->Finish().ok());
  EXPECT_EQ(answered, static_cast<int>(sequence));
  for (size_t i = 0; i < cases.size(); ++i) {
    EXPECT_EQ(acks[2 * i + 1].status(), v1::ACK_STATUS_ACCEPTED);
    EXPECT_TRUE(Store().GetArticle(absl::StrCat("grpc-good-", 2 * i + 1)).ok());
    EXPECT_EQ(acks[2 * i + 2].status(), v1::ACK_STATUS_REJECTED)
        << cases[i].name;
    EXPECT_THAT(acks[2 * i + 2].reason(), HasSubstr(cases[i].reason))
        << cases[i].name;
  }
}

// Protobuf refuses to parse a `string` field that is not UTF-8, so such an
// article never reaches ingest's own UTF-8 check: gRPC fails to decode the
// request. With gRPC 1.51's callback API a unary call then ends
// UNIMPLEMENTED with an empty message, and on a stream the undecodable
// message looks like the end of the client's writes: the service answers
// what came before and finishes OK, and the bad article and any after it
// get no ack. The test accepts that or a REJECTED ack, but never an
// ACCEPTED one, and the service must stay healthy and keep what it acked.
TEST_F(BadInputTest, InvalidUtf8OverGrpcIsNeverAccepted) {
  v1::Article bad = ValidArticle("grpc-invalid-utf8");
  bad.set_body("bad \xff\xfe bytes");
  absl::StatusOr<v1::IngestAck> ack = IngestService().IngestArticle(bad);
  if (ack.ok()) {
    EXPECT_EQ(ack->status(), v1::ACK_STATUS_REJECTED);
    EXPECT_THAT(ack->reason(), HasSubstr("invalid UTF-8"));
  } else {
    EXPECT_NE(ack.status().code(), absl::StatusCode::kUnavailable)
        << ack.status();
  }
  EXPECT_EQ(Store().GetArticle("grpc-invalid-utf8").status().code(),
            absl::StatusCode::kNotFound);

  std::unique_ptr<client::IngestStreamCall> call = IngestService().OpenStream();
  const std::string ids[] = {"grpc-utf8-before", "grpc-utf8-bad",
                             "grpc-utf8-after"};
  for (int i = 0; i < 3; ++i) {
    v1::IngestStreamRequest request;
    request.set_sequence(i + 1);
    *request.mutable_article() = i == 1 ? bad : ValidArticle(ids[i]);
    request.mutable_article()->set_id(ids[i]);
    call->Write(request);  // May fail once the service has stopped reading.
  }
  call->WritesDone();
  std::vector<v1::IngestAck> acks;
  v1::IngestAck stream_ack;
  while (call->Read(&stream_ack)) acks.push_back(stream_ack);
  const absl::Status status = call->Finish();
  bool first_accepted = false;
  for (const v1::IngestAck& a : acks) {
    ASSERT_GE(a.sequence(), 1u);
    ASSERT_LE(a.sequence(), 3u);
    const std::string& id = ids[a.sequence() - 1];
    if (a.sequence() == 1) {
      first_accepted = a.status() == v1::ACK_STATUS_ACCEPTED;
    }
    if (a.sequence() == 2) {
      EXPECT_EQ(a.status(), v1::ACK_STATUS_REJECTED);
    }
    if (a.status() == v1::ACK_STATUS_ACCEPTED) {
      EXPECT_TRUE(Store().GetArticle(id).ok()) << id;
    }
  }
  EXPECT_TRUE(first_accepted) << status;
  EXPECT_EQ(Store().GetArticle(ids[1]).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kabar
