// Copyright kabar authors.
// Specification of FastTextClassifier. Language tests use the real
// lid.176.ftz (skipped, saying so, when it has not been fetched); topic
// tests use a tiny topic model trained when the suite starts.
#include "services/classify/fasttext_classifier.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/classify/language_codes.h"
#include "services/classify/testing/test_models.h"
#include "services/common/sha256.h"

namespace kabar::classify {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// One language's sample: the title is one sentence, the body the rest.
struct LanguageCase {
  const char* code;
  const char* title;
  const char* body;
};

const LanguageCase kLanguageCases[] = {
    {"en",
     "The government announced new measures on Tuesday to curb rising food "
     "prices, officials said.",
     "The plan includes subsidies for farmers and limits on exports."},
    {"fr",
     "Le gouvernement a annoncé mardi de nouvelles mesures pour freiner la "
     "hausse des prix alimentaires.",
     "Le plan prévoit des aides aux agriculteurs."},
    {"id", "Pemerintah mengumumkan kebijakan baru pada hari Selasa.",
     "Menurut para pejabat, rencana itu mencakup subsidi bagi petani karena "
     "harga beras sudah naik dan banyak warga tidak bisa membeli kebutuhan "
     "pokok."},
    {"ru",
     "Правительство во вторник объявило о новых мерах по сдерживанию роста "
     "цен на продовольствие.",
     "План предусматривает субсидии для фермеров."},
    {"zh", "政府周二宣布了遏制食品价格上涨的新措施。",
     "该计划包括对农民的补贴和出口限制。"},
    {"ar",
     "أعلنت الحكومة يوم الثلاثاء عن إجراءات جديدة للحد من ارتفاع أسعار الغذاء.",
     "وتشمل الخطة دعم المزارعين وفرض قيود على الصادرات."},
};

class FastTextClassifierTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(testing::MakeTempDir());
    topic_model_ = new std::string(*dir_ + "/topic.bin");
    ASSERT_TRUE(testing::TrainTinyTopicModel(*topic_model_).ok());
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_;
    delete topic_model_;
  }

  // Options for the real language model and the tiny topic model.
  static FastTextClassifier::Options RealOptions() {
    FastTextClassifier::Options options;
    options.language_model_path = testing::RealLanguageModelPath();
    options.topic_model_path = *topic_model_;
    return options;
  }

  // Options that need no real model: the tiny model in both roles.
  static FastTextClassifier::Options TinyOptions() {
    FastTextClassifier::Options options;
    options.language_model_path = *topic_model_;
    options.topic_model_path = *topic_model_;
    return options;
  }

  std::unique_ptr<FastTextClassifier> Create(
      const FastTextClassifier::Options& options) {
    absl::StatusOr<std::unique_ptr<FastTextClassifier>> classifier =
        FastTextClassifier::Create(options);
    EXPECT_TRUE(classifier.ok()) << classifier.status();
    return classifier.ok() ? std::move(classifier).value() : nullptr;
  }

  static v1::Labels Classify(const Classifier& classifier,
                             absl::string_view title, absl::string_view body,
                             int top_k_topics = 0) {
    absl::StatusOr<v1::Labels> labels =
        classifier.Classify(title, body, top_k_topics);
    EXPECT_TRUE(labels.ok()) << labels.status();
    return labels.ok() ? *labels : v1::Labels();
  }

  static std::vector<std::string> TopicNames(const v1::Labels& labels) {
    std::vector<std::string> names;
    for (const v1::LabelScore& topic : labels.topics()) {
      names.push_back(topic.label());
    }
    return names;
  }

  static std::string* dir_;
  static std::string* topic_model_;
};

std::string* FastTextClassifierTest::dir_ = nullptr;
std::string* FastTextClassifierTest::topic_model_ = nullptr;

// Tests that need the real lid.176.ftz.
class FastTextLanguageTest : public FastTextClassifierTest {
 protected:
  void SetUp() override {
    if (testing::RealLanguageModelPath().empty()) {
      GTEST_SKIP() << KABAR_SOURCE_DIR
          "/models/lid.176.ftz is missing; "
          "fetch it to run the language tests";
    }
  }
};

// --- Language ---

TEST_F(FastTextLanguageTest, RecognizesLanguages) {
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  for (const LanguageCase& sample : kLanguageCases) {
    const v1::Labels labels = Classify(*classifier, sample.title, sample.body);
    EXPECT_EQ(labels.language().code(), sample.code) << sample.title;
    EXPECT_GT(labels.language().confidence(), 0.8f) << sample.title;
  }
}

TEST_F(FastTextLanguageTest, SeedArticleIsIndonesian) {
  absl::StatusOr<std::string> article = testing::ReadSeedArticle();
  if (!article.ok()) GTEST_SKIP() << article.status();
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  const v1::Labels labels = Classify(*classifier, "", *article);
  EXPECT_EQ(labels.language().code(), "id");
  // Malay is its close relative: a close call lists it as the runner-up.
  ASSERT_GE(labels.language().alternatives_size(), 1);
  EXPECT_EQ(labels.language().alternatives(0).label(), "ms");
  EXPECT_LT(labels.language().alternatives(0).confidence(),
            labels.language().confidence());
}

// fastText reads only up to the first newline. A body whose first line is
// uninformative must still be judged on all of it.
TEST_F(FastTextLanguageTest, LaterParagraphsDecideTheLanguage) {
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  const std::string french =
      "Le gouvernement a annoncé mardi de nouvelles mesures pour freiner la "
      "hausse des prix alimentaires.\n\nLe plan prévoit des aides aux "
      "agriculteurs.";

  EXPECT_NE(Classify(*classifier, "", "Ok.").language().code(), "fr");
  const v1::Labels labels = Classify(*classifier, "", "Ok.\n" + french);
  EXPECT_EQ(labels.language().code(), "fr");
  EXPECT_GT(labels.language().confidence(), 0.9f);
  // Same with the uninformative line as the title.
  EXPECT_EQ(Classify(*classifier, "Ok.", french).language().code(), "fr");
}

// lid.176 was trained on raw text: case carries signal, so the classifier
// must not lowercase. This headline is English as written and French once
// lowercased.
TEST_F(FastTextLanguageTest, JudgesLanguageOnRawCase) {
  FastTextClassifier::Options options = RealOptions();
  options.min_language_confidence = 0.0;
  auto classifier = Create(options);
  ASSERT_NE(classifier, nullptr);
  const std::string headline = "NASA Launches New Mars Rover";

  EXPECT_EQ(Classify(*classifier, headline, "").language().code(), "en");
  EXPECT_NE(Classify(*classifier, absl::AsciiStrToLower(headline), "")
                .language()
                .code(),
            "en");
}

TEST_F(FastTextLanguageTest, UnsureLanguageIsUndWithGuessesAsAlternatives) {
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  // Too little text: lid.176 guesses English at about 0.2.
  const v1::Labels labels = Classify(*classifier, "Ok.", "");
  EXPECT_EQ(labels.language().code(), kUndeterminedLanguage);
  EXPECT_LT(labels.language().confidence(), 0.4f);
  ASSERT_GE(labels.language().alternatives_size(), 1);
  EXPECT_EQ(labels.language().alternatives(0).label(), "en");
  EXPECT_EQ(labels.language().alternatives(0).confidence(),
            labels.language().confidence());
}

TEST_F(FastTextLanguageTest, CertainLanguageHasNoAlternatives) {
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  const LanguageCase& chinese = kLanguageCases[4];
  const v1::Labels labels = Classify(*classifier, chinese.title, chinese.body);
  EXPECT_EQ(labels.language().code(), "zh");
  EXPECT_THAT(labels.language().alternatives(), IsEmpty());
}

TEST_F(FastTextLanguageTest, AlternativesAreCappedAndAboveTheFloor) {
  FastTextClassifier::Options options = RealOptions();
  options.max_language_alternatives = 2;
  options.min_alternative_confidence = 0.001;
  auto classifier = Create(options);
  ASSERT_NE(classifier, nullptr);
  const LanguageCase& english = kLanguageCases[0];
  const v1::Labels labels = Classify(*classifier, english.title, english.body);
  EXPECT_EQ(labels.language().code(), "en");
  ASSERT_EQ(labels.language().alternatives_size(), 2);
  for (const v1::LabelScore& alternative : labels.language().alternatives()) {
    EXPECT_NE(alternative.label(), "en");
    EXPECT_GE(alternative.confidence(), 0.001f);
    EXPECT_FALSE(absl::StartsWith(alternative.label(), "__label__"));
  }
  EXPECT_GE(labels.language().alternatives(0).confidence(),
            labels.language().alternatives(1).confidence());
}

// --- Empty input ---

TEST_F(FastTextClassifierTest, EmptyOrBlankTextIsUndWithNoTopics) {
  auto classifier = Create(TinyOptions());
  ASSERT_NE(classifier, nullptr);
  const std::pair<std::string, std::string> blanks[] = {
      {"", ""},
      {"   ", "\n\t \r\n  \n"},
      {"\u200b", "\u00a0\u3000"},  // zero-width and Unicode spaces
  };
  for (const auto& [title, body] : blanks) {
    const v1::Labels labels = Classify(*classifier, title, body);
    EXPECT_EQ(labels.language().code(), kUndeterminedLanguage);
    EXPECT_EQ(labels.language().confidence(), 0.0f);
    EXPECT_THAT(labels.language().alternatives(), IsEmpty());
    EXPECT_THAT(labels.topics(), IsEmpty());
    EXPECT_FALSE(labels.topic_model().sha256().empty());
  }
}

// --- Topics ---

TEST_F(FastTextClassifierTest, TopicsComeFromTheWholeNormalizedText) {
  auto classifier = Create(TinyOptions());
  ASSERT_NE(classifier, nullptr);
  const std::string weather = testing::TopicSentence("weather", 6, 1);
  const std::string sports = testing::TopicSentence("sports", 12, 2);
  const std::string more_sports = testing::TopicSentence("sports", 12, 3);

  EXPECT_EQ(TopicNames(Classify(*classifier, "", weather)).front(), "weather");
  // The first paragraph is about weather; the two after it, and so the
  // text, are about sports.
  const v1::Labels labels =
      Classify(*classifier, "",
               absl::StrCat(weather, "\n\n", sports, "\n", more_sports));
  ASSERT_FALSE(labels.topics().empty());
  EXPECT_EQ(labels.topics(0).label(), "sports");
  // Case and punctuation do not matter to the topic model.
  const v1::Labels shouted =
      Classify(*classifier, "",
               absl::AsciiStrToUpper(absl::StrCat(sports, ", ", sports, "!")));
  ASSERT_FALSE(shouted.topics().empty());
  EXPECT_EQ(shouted.topics(0).label(), "sports");
}

TEST_F(FastTextClassifierTest, TopicsAreTopKAboveTheThresholdBestFirst) {
  FastTextClassifier::Options options = TinyOptions();
  options.min_topic_confidence = 0.0;
  auto classifier = Create(options);
  ASSERT_NE(classifier, nullptr);
  // Words of all three topics, so all three have some probability.
  const std::string mixed =
      absl::StrCat(testing::TopicSentence("sports", 6, 4), " ",
                   testing::TopicSentence("weather", 6, 5), " ",
                   testing::TopicSentence("economy", 6, 6));

  const v1::Labels all = Classify(*classifier, "", mixed);  // default k = 3
  EXPECT_THAT(TopicNames(all),
              UnorderedElementsAre("sports", "weather", "economy"));
  for (int i = 1; i < all.topics_size(); ++i) {
    EXPECT_GE(all.topics(i - 1).confidence(), all.topics(i).confidence());
  }
  const v1::Labels one = Classify(*classifier, "", mixed, /*top_k_topics=*/1);
  EXPECT_THAT(TopicNames(one), ElementsAre(all.topics(0).label()));

  options.min_topic_confidence = 0.9;
  auto strict = Create(options);
  ASSERT_NE(strict, nullptr);
  EXPECT_THAT(Classify(*strict, "", mixed).topics(), IsEmpty());
}

// --- Errors ---

TEST_F(FastTextClassifierTest, RejectsInvalidInput) {
  auto classifier = Create(TinyOptions());
  ASSERT_NE(classifier, nullptr);
  EXPECT_EQ(classifier->Classify("\xff", "", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(classifier->Classify("", "ok \xc3", 0).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(classifier->Classify("rain", "", -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(FastTextClassifierTest, CreateFailsNamingAMissingFile) {
  FastTextClassifier::Options options = TinyOptions();
  options.topic_model_path = *dir_ + "/no-such-model.ftz";
  const absl::Status status = FastTextClassifier::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(status.message(), HasSubstr(options.topic_model_path));
  EXPECT_THAT(status.message(), HasSubstr("topic"));
}

TEST_F(FastTextClassifierTest, CreateRejectsFilesThatAreNotModels) {
  std::ifstream in(*topic_model_, std::ios::binary);
  const std::string model((std::istreambuf_iterator<char>(in)),
                          std::istreambuf_iterator<char>());
  const std::pair<std::string, std::string> bad_files[] = {
      {"empty.ftz", ""},
      {"text.ftz", "__label__sports this is a training file, not a model\n"},
      {"truncated.ftz", model.substr(0, model.size() / 2)},
      {"header-only.ftz", model.substr(0, 8)},
  };
  for (const auto& [name, contents] : bad_files) {
    const std::string path = *dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << contents;
    FastTextClassifier::Options options = TinyOptions();
    options.language_model_path = path;
    const absl::Status status = FastTextClassifier::Create(options).status();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_THAT(status.message(), HasSubstr(path)) << name;
  }
  // A directory is not a model either.
  FastTextClassifier::Options options = TinyOptions();
  options.topic_model_path = *dir_;
  const absl::Status status = FastTextClassifier::Create(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr(*dir_));
}

TEST_F(FastTextClassifierTest, CreateRejectsBadOptions) {
  std::vector<FastTextClassifier::Options> bad(6, TinyOptions());
  bad[0].language_model_path = "";
  bad[1].topic_model_path = "";
  bad[2].min_language_confidence = 1.5;
  bad[3].min_topic_confidence = -0.1;
  bad[4].top_k_topics = 0;
  bad[5].max_language_alternatives = -1;
  for (const FastTextClassifier::Options& options : bad) {
    EXPECT_EQ(FastTextClassifier::Create(options).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
}

// --- Identity ---

TEST_F(FastTextLanguageTest, DescribesBothModels) {
  const absl::Time before = absl::Now();
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  const std::vector<v1::ModelInfo> models = classifier->Models();
  ASSERT_EQ(models.size(), 2u);

  const v1::ModelInfo& language = models[0];
  EXPECT_EQ(language.role(), "language");
  EXPECT_EQ(language.path(), testing::RealLanguageModelPath());
  EXPECT_EQ(language.identity().name(), "lid.176.ftz");
  EXPECT_EQ(language.identity().sha256(),
            *common::Sha256FileHex(language.path()));
  EXPECT_EQ(language.size_bytes(),
            static_cast<int64_t>(std::filesystem::file_size(language.path())));
  EXPECT_EQ(language.labels_size(), 176);
  EXPECT_THAT(language.labels(), ::testing::Contains("id"));
  EXPECT_GE(language.loaded_at().seconds(), absl::ToUnixSeconds(before));

  const v1::ModelInfo& topic = models[1];
  EXPECT_EQ(topic.role(), "topic");
  EXPECT_EQ(topic.identity().name(), "topic.bin");
  EXPECT_EQ(topic.identity().sha256(), *common::Sha256FileHex(*topic_model_));
  EXPECT_THAT(topic.labels(),
              UnorderedElementsAre("sports", "weather", "economy"));

  // Every answer names the models that produced it.
  const v1::Labels labels = Classify(*classifier, "Rain", "");
  EXPECT_EQ(labels.language_model().sha256(), language.identity().sha256());
  EXPECT_EQ(labels.topic_model().sha256(), topic.identity().sha256());
  EXPECT_EQ(labels.topic_model().name(), "topic.bin");
}

// lid.176's labels come out as kabar codes (models/language_codes.tsv).
TEST_F(FastTextLanguageTest, ReportsLid176LabelsAsKabarCodes) {
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  const v1::ModelInfo language = classifier->Models()[0];
  EXPECT_THAT(language.labels(), ::testing::IsSupersetOf(
                                     {"gsw", "nb", "hbs", "bho", "min-Latn"}));
  for (const std::string& label : language.labels()) {
    EXPECT_TRUE(IsKabarCode(label)) << label;
    EXPECT_THAT(label, ::testing::Not(::testing::AnyOf(
                           "als", "arz", "no", "sh", "bh", "min")));
  }
  // Egyptian Arabic and Arabic are one code; their probabilities add up
  // and "ar" is never its own runner-up.
  const v1::Labels labels =
      Classify(*classifier, kLanguageCases[5].title, kLanguageCases[5].body);
  EXPECT_EQ(labels.language().code(), "ar");
  for (const v1::LabelScore& alternative : labels.language().alternatives()) {
    EXPECT_NE(alternative.label(), "ar");
  }
}

// Lines for a tiny kabar language model that knows isiXhosa (which lid.176
// does not) and English.
std::vector<testing::LabeledText> TinyKabarLanguageLines() {
  const char* const xhosa[] = {
      "Urhulumente uthe uza kunceda abantu abahluphekayo kweli lizwe",
      "Abantwana bayaya esikolweni ngomso kwaye bafunda kakhulu",
      "Umongameli welizwe uthethe namhlanje nabantu basezilalini",
      "Amanzi ayanqongophala kwiidolophu ezininzi zeli phondo",
      "Iqela lebhola ekhatywayo liphumelele umdlalo wangeCawa",
  };
  const char* const english[] = {
      "The government announced new measures on Tuesday officials said",
      "The plan includes subsidies for farmers and limits on exports",
      "Children go to school tomorrow and they learn a lot",
      "The president of the country spoke to people in the villages today",
      "Water is scarce in many towns of this province",
  };
  std::vector<testing::LabeledText> lines;
  for (int repeat = 0; repeat < 20; ++repeat) {
    for (const char* line : xhosa) lines.push_back({"xh", line});
    for (const char* line : english) lines.push_back({"en", line});
  }
  return lines;
}

TEST_F(FastTextLanguageTest, CombinesLid176WithKabarLanguageModel) {
  const std::string kabar_model = *dir_ + "/kabar_language.bin";
  ASSERT_TRUE(testing::TrainModel(TinyKabarLanguageLines(), kabar_model).ok());
  FastTextClassifier::Options options = RealOptions();
  options.kabar_language_model_path = kabar_model;
  auto classifier = Create(options);
  ASSERT_NE(classifier, nullptr);
  EXPECT_TRUE(classifier->has_kabar_language_model());

  const std::vector<v1::ModelInfo> models = classifier->Models();
  ASSERT_EQ(models.size(), 3u);
  EXPECT_EQ(models[2].role(), "kabar_language");
  EXPECT_EQ(models[2].identity().name(), "kabar_language.bin");
  EXPECT_THAT(models[2].labels(), UnorderedElementsAre("xh", "en"));

  // isiXhosa: lid.176 cannot know it, kabar's model decides.
  v1::Labels labels = Classify(
      *classifier, "Urhulumente uthe uza kunceda abantu abahluphekayo",
      "Abantwana bayaya esikolweni ngomso.");
  EXPECT_EQ(labels.language().code(), "xh");
  EXPECT_EQ(labels.language().decided_by(), "kabar");
  EXPECT_EQ(labels.kabar_language_model().sha256(),
            models[2].identity().sha256());
  EXPECT_EQ(labels.language_model().sha256(), models[0].identity().sha256());

  // English: both say so.
  labels = Classify(*classifier, kLanguageCases[0].title,
                    kLanguageCases[0].body);
  EXPECT_EQ(labels.language().code(), "en");
  EXPECT_EQ(labels.language().decided_by(), "both");

  // French: kabar's tiny model has no such label, lid.176 decides.
  labels = Classify(*classifier, kLanguageCases[1].title,
                    kLanguageCases[1].body);
  EXPECT_EQ(labels.language().code(), "fr");
  EXPECT_EQ(labels.language().decided_by(), "lid");

  // Without kabar's model nothing says who decided.
  auto lid_only = Create(RealOptions());
  ASSERT_NE(lid_only, nullptr);
  labels = Classify(*lid_only, kLanguageCases[1].title, kLanguageCases[1].body);
  EXPECT_EQ(labels.language().decided_by(), "");
  EXPECT_FALSE(labels.has_kabar_language_model());
}

// The committed models/language.ftz with lid.176, as kabar-classify runs
// by default: the samples and the seed article keep their languages.
TEST_F(FastTextLanguageTest, DefaultModelsKeepKnownLanguagesAndTheSeed) {
  const std::string kabar_model =
      std::string(KABAR_SOURCE_DIR) + "/models/language.ftz";
  if (!std::filesystem::exists(kabar_model)) {
    GTEST_SKIP() << kabar_model << " is missing";
  }
  FastTextClassifier::Options options = RealOptions();
  options.kabar_language_model_path = kabar_model;
  auto classifier = Create(options);
  ASSERT_NE(classifier, nullptr);
  for (const LanguageCase& sample : kLanguageCases) {
    const v1::Labels labels = Classify(*classifier, sample.title, sample.body);
    EXPECT_EQ(labels.language().code(), sample.code) << sample.title;
  }
  absl::StatusOr<std::string> article = testing::ReadSeedArticle();
  if (!article.ok()) GTEST_SKIP() << article.status();
  EXPECT_EQ(Classify(*classifier, "", *article).language().code(), "id");
}

// --- Concurrency ---

// One loaded model serves every thread: answers match the single-threaded
// ones exactly.
TEST_F(FastTextClassifierTest, ConcurrentCallsGiveSingleThreadedAnswers) {
  FastTextClassifier::Options options = TinyOptions();
  if (!testing::RealLanguageModelPath().empty()) {
    options.language_model_path = testing::RealLanguageModelPath();
  }
  auto classifier = Create(options);
  ASSERT_NE(classifier, nullptr);
  std::vector<std::pair<std::string, std::string>> texts;
  for (const LanguageCase& sample : kLanguageCases) {
    texts.emplace_back(sample.title, sample.body);
  }
  for (const auto& topic : testing::TinyTopics()) {
    texts.emplace_back("", testing::TopicSentence(topic.label, 20, 9));
  }
  std::vector<v1::Labels> expected;
  for (const auto& [title, body] : texts) {
    expected.push_back(Classify(*classifier, title, body));
  }

  constexpr int kThreads = 4;
  constexpr int kRounds = 50;
  std::vector<int> mismatches(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          // Threads walk the texts in different orders.
          const size_t j = (i + t) % texts.size();
          absl::StatusOr<v1::Labels> labels =
              classifier->Classify(texts[j].first, texts[j].second, 0);
          if (!labels.ok() ||
              !google::protobuf::util::MessageDifferencer::Equals(
                  *labels, expected[j])) {
            ++mismatches[t];
          }
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_THAT(mismatches, ::testing::Each(0));
}

// Not a test: prints single-thread throughput on the seed article. Run with
// --gtest_also_run_disabled_tests --gtest_filter=*Throughput*.
TEST_F(FastTextLanguageTest, DISABLED_MeasureSeedArticleThroughput) {
  absl::StatusOr<std::string> article = testing::ReadSeedArticle();
  ASSERT_TRUE(article.ok()) << article.status();
  auto classifier = Create(RealOptions());
  ASSERT_NE(classifier, nullptr);
  constexpr int kArticles = 2000;
  const absl::Time start = absl::Now();
  for (int i = 0; i < kArticles; ++i) {
    ASSERT_TRUE(classifier->Classify("", *article, 0).ok());
  }
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  std::printf("%d articles of %zu bytes in %.3f s: %.0f articles/s\n",
              kArticles, article->size(), seconds, kArticles / seconds);
}

}  // namespace
}  // namespace kabar::classify
