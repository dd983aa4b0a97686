// Copyright kabar authors.
#include "clients/cli/output_format.h"

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/text.h"

namespace kabar::cli {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

using Json = nlohmann::ordered_json;

v1::StoredArticle LabeledArticle() {
  v1::StoredArticle stored;
  v1::Article* article = stored.mutable_article();
  article->set_id("0123456789abcdef0123456789abcdef");
  article->set_url("https://example.com/banjir");
  article->set_source("antara");
  article->set_title("Banjir di Jakarta");
  article->set_body("Hujan deras.\nParagraf kedua.");
  article->mutable_published_at()->set_seconds(
      1714525200);  // 2024-05-01T01:00Z
  (*article->mutable_metadata())["author"] = "Rina";
  stored.mutable_ingested_at()->set_seconds(1714528800);
  stored.mutable_ingested_at()->set_nanos(250000000);
  v1::Labels* labels = stored.mutable_labels();
  labels->mutable_language()->set_code("id");
  labels->mutable_language()->set_confidence(0.9812f);
  v1::LabelScore* alternative = labels->mutable_language()->add_alternatives();
  alternative->set_label("ms");
  alternative->set_confidence(0.0123f);
  v1::LabelScore* topic = labels->add_topics();
  topic->set_label("disaster");
  topic->set_confidence(0.87f);
  topic = labels->add_topics();
  topic->set_label("politics");
  topic->set_confidence(0.05f);
  labels->mutable_language_model()->set_name("lid.176.ftz");
  labels->mutable_language_model()->set_sha256(std::string(64, 'a'));
  labels->mutable_topic_model()->set_name("topics.ftz");
  labels->mutable_topic_model()->set_sha256("1234567890abcdef" +
                                            std::string(48, '0'));
  return stored;
}

TEST(StoredArticleToJsonTest, HasTheListingFieldsWithTheirTypes) {
  const Json json = StoredArticleToJson(LabeledArticle(), false);
  EXPECT_EQ(json["id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(json["url"], "https://example.com/banjir");
  EXPECT_EQ(json["source"], "antara");
  EXPECT_EQ(json["title"], "Banjir di Jakarta");
  EXPECT_EQ(json["published_at"], "2024-05-01T01:00:00Z");
  EXPECT_EQ(json["ingested_at"], "2024-05-01T02:00:00.25Z");
  EXPECT_EQ(json["language"], "id");
  ASSERT_TRUE(json["language_confidence"].is_number_float());
  EXPECT_DOUBLE_EQ(json["language_confidence"].get<double>(), 0.9812);
  EXPECT_EQ(json["topic"], "disaster");
  EXPECT_DOUBLE_EQ(json["topic_confidence"].get<double>(), 0.87);
  ASSERT_TRUE(json["topics"].is_array());
  ASSERT_EQ(json["topics"].size(), 2u);
  EXPECT_EQ(json["topics"][1]["label"], "politics");
  EXPECT_DOUBLE_EQ(json["topics"][1]["confidence"].get<double>(), 0.05);
  EXPECT_EQ(json["language_model"], "aaaaaaaaaaaa");
  EXPECT_EQ(json["topic_model"], "1234567890ab");
  // The listing leaves the bulky fields out.
  EXPECT_FALSE(json.contains("body"));
  EXPECT_FALSE(json.contains("metadata"));
}

TEST(StoredArticleToJsonTest, PrintsRoundedConfidencesOnOneLine) {
  const std::string line =
      DumpJson(StoredArticleToJson(LabeledArticle(), false));
  EXPECT_THAT(line, HasSubstr(R"("language_confidence":0.9812)"));
  EXPECT_THAT(line, HasSubstr(R"({"label":"disaster","confidence":0.87})"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  // Fields come in a fixed, readable order, id first.
  EXPECT_EQ(line.rfind(R"({"id":"0123456789abcdef0123456789abcdef","url":)", 0),
            0u);
}

TEST(StoredArticleToJsonTest, UsesNullForWhatIsUnknown) {
  v1::StoredArticle stored;
  stored.mutable_article()->set_id("x");
  stored.mutable_article()->set_body("b");
  const Json json = StoredArticleToJson(stored, false);
  for (const char* field :
       {"published_at", "ingested_at", "language", "language_confidence",
        "topic", "topic_confidence", "language_model", "topic_model"}) {
    EXPECT_TRUE(json[field].is_null()) << field;
  }
  EXPECT_TRUE(json["topics"].is_array());
  EXPECT_TRUE(json["topics"].empty());
  EXPECT_EQ(json["title"], "");
}

TEST(StoredArticleToJsonTest, FullFormAddsBodyMetadataAndAlternatives) {
  const Json json = StoredArticleToJson(LabeledArticle(), true);
  EXPECT_EQ(json["body"], "Hujan deras.\nParagraf kedua.");
  EXPECT_EQ(json["metadata"], Json({{"author", "Rina"}}));
  ASSERT_EQ(json["language_alternatives"].size(), 1u);
  EXPECT_EQ(json["language_alternatives"][0]["label"], "ms");
}

TEST(DumpJsonTest, ReplacesInvalidUtf8InsteadOfThrowing) {
  const Json json = {{"title", std::string("caf\xe9")}};
  const std::string text = DumpJson(json);
  EXPECT_TRUE(common::ValidateUtf8(text).ok());
  EXPECT_THAT(text, HasSubstr("caf\xEF\xBF\xBD"));
}

TEST(LabelsToJsonTest, HasLanguageTopicsAndFullModelIdentities) {
  const Json json = LabelsToJson(LabeledArticle().labels());
  EXPECT_EQ(json["language"], "id");
  EXPECT_EQ(json["language_alternatives"][0]["label"], "ms");
  EXPECT_EQ(json["topics"][0]["label"], "disaster");
  EXPECT_EQ(json["language_model"]["name"], "lid.176.ftz");
  EXPECT_EQ(json["language_model"]["sha256"], std::string(64, 'a'));
}

TEST(CountsToJsonTest, KeepsTheServersOrderMostFrequentFirst) {
  v1::CountArticlesResponse counts;
  counts.set_total(10);
  auto* entry = counts.add_by_language();
  entry->set_label("id");
  entry->set_count(7);
  entry = counts.add_by_language();
  entry->set_label("en");
  entry->set_count(3);
  EXPECT_EQ(DumpJson(CountsToJson(counts)),
            R"({"total":10,"by_language":[{"label":"id","count":7},)"
            R"({"label":"en","count":3}],"by_topic":[]})");
  EXPECT_THAT(CountsDetails(counts), HasSubstr("id        7      70.0%"));
}

TEST(TimestampTest, FormatsInUtcWithNeededFractionOnly) {
  google::protobuf::Timestamp time;
  time.set_seconds(0);
  EXPECT_EQ(FormatTimestamp(time), "1970-01-01T00:00:00Z");
  time.set_nanos(120000000);
  EXPECT_EQ(FormatTimestamp(time), "1970-01-01T00:00:00.12Z");
}

TEST(TimestampTest, ParsesRfc3339AndDates) {
  absl::StatusOr<google::protobuf::Timestamp> time =
      ParseTimestamp("2024-05-01T08:00:00+07:00");
  ASSERT_TRUE(time.ok()) << time.status();
  EXPECT_EQ(time->seconds(), 1714525200);
  time = ParseTimestamp("2024-05-01");
  ASSERT_TRUE(time.ok()) << time.status();
  EXPECT_EQ(time->seconds(), 1714521600);
  for (const char* bad :
       {"", "tomorrow", "2024-05-01T08:00", "infinite-past"}) {
    EXPECT_FALSE(ParseTimestamp(bad).ok()) << bad;
  }
}

TEST(ParseOutputFormatTest, KnowsTableAndJson) {
  EXPECT_EQ(*ParseOutputFormat("table"), OutputFormat::kTable);
  EXPECT_EQ(*ParseOutputFormat("JSON"), OutputFormat::kJson);
  EXPECT_EQ(*ParseOutputFormat("jsonl"), OutputFormat::kJson);
  EXPECT_FALSE(ParseOutputFormat("csv").ok());
}

TEST(DisplayWidthTest, CountsTerminalColumns) {
  EXPECT_EQ(DisplayWidth("abc"), 3u);
  EXPECT_EQ(DisplayWidth("Привет"), 6u);
  EXPECT_EQ(DisplayWidth("中文新闻"), 8u);
  EXPECT_EQ(DisplayWidth("e\xCC\x81"), 1u);  // e + combining acute
  EXPECT_EQ(DisplayWidth("😀"), 2u);
  EXPECT_EQ(DisplayWidth("\xff"), 1u);
}

TEST(FitToWidthTest, CutsOnCharacterBoundariesWithAnEllipsis) {
  EXPECT_EQ(FitToWidth("short", 10), "short");
  EXPECT_EQ(FitToWidth("exactly10!", 10), "exactly10!");
  EXPECT_EQ(FitToWidth("longer than ten", 10), "longer th…");
  EXPECT_EQ(FitToWidth("Привет мир", 5), "Прив…");
  // Wide characters never overflow the width.
  EXPECT_EQ(FitToWidth("中文新闻标题", 7), "中文新…");
  EXPECT_EQ(FitToWidth("中文新闻标题", 8), "中文新…");
  EXPECT_EQ(FitToWidth("abc", 0), "");
  EXPECT_EQ(FitToWidth("abc", 1), "…");
}

TEST(FitToWidthTest, KeepsOneValueOnOneLineAndValidUtf8) {
  EXPECT_EQ(FitToWidth("two\nlines\tand\x01", 100), "two lines and ");
  const std::string fitted = FitToWidth("bad \xff\xfe bytes", 100);
  EXPECT_TRUE(common::ValidateUtf8(fitted).ok());
  // Every cut of a multi-byte text is valid UTF-8 and fits.
  const std::string text = "Ñandú 中文 😀 Привет";
  for (size_t width = 0; width < 30; ++width) {
    const std::string cut = FitToWidth(text, width);
    EXPECT_TRUE(common::ValidateUtf8(cut).ok()) << width;
    EXPECT_LE(DisplayWidth(cut), width) << cut;
  }
}

TEST(ArticlesTableTest, AlignsColumnsShowsDerivedIdsWholeAndShortensTitles) {
  v1::StoredArticle wide = LabeledArticle();
  wide.mutable_article()->set_id("short-id");
  wide.mutable_article()->set_title(
      "中文新闻标题很长很长很长很长很长很长很长很长很长很长很长很长很长很长");
  wide.mutable_labels()->clear_topics();
  const std::string table = ArticlesTable({LabeledArticle(), wide}, 100);
  const std::vector<std::string> lines = absl::StrSplit(table, '\n');
  ASSERT_EQ(lines.size(), 4u);  // Header, two rows, and the final newline.
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u);
  EXPECT_THAT(lines[1], HasSubstr("0123456789abcdef0123456789abcdef "));
  EXPECT_THAT(lines[1], HasSubstr("0.98"));
  EXPECT_THAT(lines[1], HasSubstr("disaster"));
  EXPECT_THAT(lines[2], HasSubstr("short-id"));
  EXPECT_THAT(lines[2], HasSubstr("…"));
  // Columns line up by display width: TITLE starts in the same column on
  // every line, and no line is wider than asked.
  const size_t title_column =
      DisplayWidth(lines[0].substr(0, lines[0].find("TITLE")));
  EXPECT_EQ(DisplayWidth(lines[1].substr(0, lines[1].find("Banjir"))),
            title_column);
  EXPECT_EQ(DisplayWidth(lines[2].substr(0, lines[2].find("中文"))),
            title_column);
  for (int i = 0; i < 3; ++i)
    EXPECT_LE(DisplayWidth(lines[i]), 100u) << lines[i];
}

TEST(SearchResultsTableTest, PutsEachSnippetUnderItsRow) {
  v1::StoredArticle second = LabeledArticle();
  second.mutable_article()->set_id("second");
  v1::TextMatch first_match;
  first_match.set_snippet("[Banjir] di Jakarta");
  v1::TextMatch second_match;
  second_match.set_snippet("Hujan deras dan [banjir] " + std::string(200, 'x'));
  const std::string table = SearchResultsTable({LabeledArticle(), second},
                                               {first_match, second_match}, 80);
  const std::vector<std::string> lines = absl::StrSplit(table, '\n');
  ASSERT_EQ(lines.size(), 6u);  // header, row, snippet, row, snippet, ""
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u);
  EXPECT_THAT(lines[1], HasSubstr("0123456789abcdef"));
  EXPECT_EQ(lines[2], "    [Banjir] di Jakarta");
  EXPECT_THAT(lines[3], HasSubstr("second"));
  EXPECT_EQ(lines[4].rfind("    Hujan deras dan [banjir] xxx", 0), 0u);
  EXPECT_LE(DisplayWidth(lines[4]), 80u);
}

TEST(SearchResultToJsonTest, AddsSnippetAndRelevance) {
  v1::TextMatch match;
  match.set_snippet("[Banjir] di Jakarta");
  match.set_relevance(2.5);
  const Json json = SearchResultToJson(LabeledArticle(), match);
  EXPECT_EQ(json["id"], "0123456789abcdef0123456789abcdef");
  EXPECT_EQ(json["snippet"], "[Banjir] di Jakarta");
  EXPECT_EQ(json["relevance"], 2.5);
}

TEST(GroupCountsTest, ShowsTotalAndOneRowPerGroup) {
  v1::CountArticlesResponse counts;
  counts.set_total(4);
  v1::LabelCount* group = counts.add_groups();
  group->set_label("2024-05-01");
  group->set_count(3);
  group = counts.add_groups();
  group->set_label("2024-05-02");
  group->set_count(1);
  const std::string text = GroupCountsDetails(counts, "day");
  EXPECT_THAT(text, HasSubstr("total: 4"));
  EXPECT_THAT(text, HasSubstr("DAY"));
  EXPECT_THAT(text, HasSubstr("2024-05-01  3      75.0%"));
  EXPECT_EQ(DumpJson(GroupCountToJson(counts.groups(1), "day")),
            R"({"day":"2024-05-02","count":1})");
}

TEST(WatchOutputTest, OneLinePerArrivalWithItsCursor) {
  v1::WatchArticlesResponse message;
  *message.mutable_article() = LabeledArticle();
  message.set_cursor("1234");
  const std::string line = WatchLine(message, 100);
  EXPECT_EQ(line.rfind("1234  ", 0), 0u);
  EXPECT_THAT(line, HasSubstr("2024-05-01T02:00:00.25Z"));
  EXPECT_THAT(line, HasSubstr("disaster"));
  EXPECT_THAT(line, HasSubstr("Banjir di Jakarta"));
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_LE(DisplayWidth(line), 100u);
  const Json json = WatchMessageToJson(message);
  EXPECT_EQ(json["cursor"], "1234");
  EXPECT_EQ(json["article"]["id"], "0123456789abcdef0123456789abcdef");
  EXPECT_FALSE(json["article"].contains("body"));
}

TEST(ArticleDetailsTest, ShowsEveryFieldThenTheBody) {
  const std::string details = ArticleDetails(LabeledArticle());
  EXPECT_THAT(details, HasSubstr("id:"));
  EXPECT_THAT(details, HasSubstr("0123456789abcdef0123456789abcdef"));
  EXPECT_THAT(details, HasSubstr("published_at:"));
  EXPECT_THAT(details, HasSubstr("2024-05-01T01:00:00Z"));
  EXPECT_THAT(details, HasSubstr("id 0.98 (alternatives: ms 0.01)"));
  EXPECT_THAT(details, HasSubstr("disaster 0.87, politics 0.05"));
  EXPECT_THAT(details, HasSubstr("lid.176.ftz@aaaaaaaaaaaa"));
  EXPECT_THAT(details, HasSubstr("metadata.author:"));
  EXPECT_THAT(details, HasSubstr("\n\nHujan deras.\nParagraf kedua.\n"));
}

TEST(LabelsDetailsTest, ShowsLanguageAlternativesTopicsAndModels) {
  const std::string details = LabelsDetails(LabeledArticle().labels());
  EXPECT_THAT(details, HasSubstr("language:"));
  EXPECT_THAT(details, HasSubstr("id 0.98"));
  EXPECT_THAT(details, HasSubstr("ms 0.01"));
  EXPECT_THAT(details, HasSubstr("disaster 0.87"));
  EXPECT_THAT(details, HasSubstr("topics.ftz@1234567890ab"));
}

TEST(ModelsTest, ListsEachModel) {
  v1::GetModelsResponse models;
  v1::ModelInfo* model = models.add_models();
  model->set_role("language");
  model->set_path("/models/lid.176.ftz");
  model->mutable_identity()->set_name("lid.176.ftz");
  model->mutable_identity()->set_sha256(std::string(64, 'f'));
  model->add_labels("en");
  model->add_labels("id");
  model->set_size_bytes(938013);
  const std::string table = ModelsTable(models);
  EXPECT_THAT(table, HasSubstr("language  lid.176.ftz  ffffffffffff  2"));
  EXPECT_THAT(table, HasSubstr("916.0 KiB"));
  const Json json = ModelsToJson(models);
  EXPECT_EQ(json["models"][0]["labels"], Json({"en", "id"}));
  EXPECT_EQ(json["models"][0]["size_bytes"], 938013);
  EXPECT_TRUE(json["models"][0]["loaded_at"].is_null());
}

}  // namespace
}  // namespace kabar::cli
