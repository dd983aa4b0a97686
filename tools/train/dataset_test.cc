// Copyright kabar authors.
#include "tools/train/dataset.h"

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/common/text.h"
#include "tools/train/temp_dir.h"

namespace kabar::train {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create();
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = std::move(*dir);
  }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = dir_->File(name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  std::unique_ptr<TempDir> dir_;
};

TEST(LabelMapTest, RenamesDropsAndPassesThrough) {
  absl::StatusOr<LabelMap> map = LabelMap::Parse(
      "# MasakhaNEWS to kabar\n"
      "technology\tscience/technology\n"
      "\n"
      "religion\t-\n");
  ASSERT_TRUE(map.ok()) << map.status();
  EXPECT_EQ(map->Map("technology"), "science/technology");
  EXPECT_EQ(map->Map("religion"), std::nullopt);
  EXPECT_EQ(map->Map("sports"), "sports");
}

TEST(LabelMapTest, RejectsMalformedLinesNamingThem) {
  for (const char* content :
       {"a\tb\nno-tab-here\n", "a\tb\na\tc\n", "a\tb\nx\ty z\n", "a\tb\nx\t\n",
        "a\tb\nx\ty\tz\n"}) {
    absl::StatusOr<LabelMap> map = LabelMap::Parse(content);
    ASSERT_FALSE(map.ok()) << content;
    EXPECT_EQ(map.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(map.status().message(), HasSubstr("line 2")) << content;
  }
}

TEST(ParseInputSpecTest, ParsesLanguagePathAndRepeat) {
  struct Case {
    const char* spec;
    const char* lang;
    const char* path;
    int repeat;
  };
  const Case cases[] = {
      {"data/train.tsv", "", "data/train.tsv", 1},
      {"hau=/d/masakhanews/hau/train.tsv", "hau",
       "/d/masakhanews/hau/train.tsv", 1},
      {"yor=/d/y.tsv@3", "yor", "/d/y.tsv", 3},
      {"/d/a=b/x.tsv", "", "/d/a=b/x.tsv", 1},
      {"/d/v@2/x.tsv", "", "/d/v@2/x.tsv", 1},
      {"som=/d/s.tsv@2%0.5", "som", "/d/s.tsv", 2},
  };
  for (const Case& c : cases) {
    absl::StatusOr<InputSpec> input = ParseInputSpec(c.spec);
    ASSERT_TRUE(input.ok()) << c.spec << ": " << input.status();
    EXPECT_EQ(input->lang, c.lang) << c.spec;
    EXPECT_EQ(input->path, c.path) << c.spec;
    EXPECT_EQ(input->repeat, c.repeat) << c.spec;
  }
  EXPECT_FALSE(ParseInputSpec("x.tsv@0").ok());
  EXPECT_FALSE(ParseInputSpec("x.tsv@two").ok());
  EXPECT_FALSE(ParseInputSpec("eng=").ok());
  EXPECT_FALSE(ParseInputSpec("x.tsv%1.5").ok());
  EXPECT_EQ(ParseInputSpec("x.tsv%0.5")->balance, 0.5);
  EXPECT_EQ(ParseInputSpec("x.tsv@3")->balance, 0);
}

TEST(TopicModelTextTest, IsTheServingNormalization) {
  EXPECT_EQ(TopicModelText("ASEAN Talks,", "Wang  Yi\nmet Lavrov."),
            common::NormalizeForTopicModel(common::FlattenForLanguageModel(
                "ASEAN Talks,", "Wang  Yi\nmet Lavrov.")));
  EXPECT_EQ(TopicModelText("", "Hello, World"), "hello , world");
}

TEST_F(DatasetTest, ReadsMasakhaNewsStyleTsvWithLabelMap) {
  const std::string path = Write(
      "news.tsv",
      "category\theadline\ttext\turl\n"
      "technology\tNew Phone\t\"Line one\tstill\n\"\"quoted\"\"\"\thttp://a\n"
      "religion\tPope visits\tText\thttp://b\n"
      "sports\tGoal!\t\thttp://c\n"
      "\tNo label\tText\thttp://d\n");
  absl::StatusOr<LabelMap> map =
      LabelMap::Parse("technology\tscience/technology\nreligion\t-\n");
  ASSERT_TRUE(map.ok());
  ReadStats stats;
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"hau", path, 1}, FieldMapping(), *map, &stats);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 2u);
  EXPECT_EQ((*examples)[0].label, "science/technology");
  EXPECT_EQ((*examples)[0].lang, "hau");
  EXPECT_EQ((*examples)[0].text, "new phone line one still \" quoted \"");
  EXPECT_EQ((*examples)[1].label, "sports");
  EXPECT_EQ((*examples)[1].text, "goal !");
  EXPECT_EQ(ToFastTextLine((*examples)[1]), "__label__sports goal !");
  EXPECT_EQ(stats.rows, 4);
  EXPECT_EQ(stats.dropped_by_label_map, 1);
  EXPECT_EQ(stats.empty_label, 1);
}

// Language-ID training: the label is the language, from the column or the
// LANG= prefix, renamed by the label map (FLORES code -> kabar code).
TEST_F(DatasetTest, LabelFromLangUsesColumnOrPrefixThroughTheMap) {
  const std::string sib = Write("sib.tsv",
                                "lang\tcategory\ttext\n"
                                "ind_Latn\thealth\tDokter.\n"
                                "\tsports\tNo language.\n");
  const std::string news = Write("news.tsv",
                                 "headline\ttext\n"
                                 "Labari\tA Kano.\n");
  absl::StatusOr<LabelMap> map =
      LabelMap::Parse("ind_Latn\tid\nhau_Latn\tha\n");
  ASSERT_TRUE(map.ok());
  FieldMapping mapping;
  mapping.label_from_lang = true;
  ReadStats stats;
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"", sib, 1}, mapping, *map, &stats);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 1u);
  EXPECT_EQ((*examples)[0].label, "id");
  EXPECT_EQ((*examples)[0].lang, "ind_Latn");
  EXPECT_EQ((*examples)[0].line, "Dokter.");
  EXPECT_EQ(stats.empty_label, 1);  // the row without a language

  // No label column needed; the language comes from LANG=.
  examples = ReadExamples({"hau_Latn", news, 1}, mapping, *map);
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 1u);
  EXPECT_EQ((*examples)[0].label, "ha");
  EXPECT_EQ((*examples)[0].line, "Labari A Kano.");
  EXPECT_EQ((*examples)[0].text, "labari a kano .");
}

TEST_F(DatasetTest, ReadsSibStyleTsvWithLanguageColumnAndRepeat) {
  const std::string path = Write("sib.tsv",
                                 "lang\tcategory\ttext\n"
                                 "eng_Latn\thealth\tA doctor.\n"
                                 "fra_Latn\tsports\tUn but.\n");
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"", path, 2}, FieldMapping(), LabelMap());
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 4u);
  EXPECT_EQ((*examples)[0].lang, "eng_Latn");
  EXPECT_EQ((*examples)[1].text, "a doctor .");
  EXPECT_EQ((*examples)[3].lang, "fra_Latn");
}

TEST_F(DatasetTest, BalanceRepeatsRareLabels) {
  // a: 4 examples, b: 1. Full balance repeats b 4 times, square-root
  // balance twice; REPEAT multiplies both.
  const std::string path =
      Write("imbalanced.tsv",
            "category\ttext\na\tone\na\ttwo\na\tthree\nb\tfour\na\tfive\n");
  const auto count = [&](const InputSpec& input, const std::string& label) {
    absl::StatusOr<std::vector<Example>> examples =
        ReadExamples(input, FieldMapping(), LabelMap());
    EXPECT_TRUE(examples.ok()) << examples.status();
    int n = 0;
    for (const Example& example : *examples) n += example.label == label;
    return n;
  };
  EXPECT_EQ(count({"", path, 1, 1.0}, "b"), 4);
  EXPECT_EQ(count({"", path, 1, 1.0}, "a"), 4);
  EXPECT_EQ(count({"", path, 1, 0.5}, "b"), 2);
  EXPECT_EQ(count({"", path, 2, 0.5}, "b"), 4);
  EXPECT_EQ(count({"", path, 2, 0.5}, "a"), 8);
}

TEST_F(DatasetTest, ReadsJsonLines) {
  const std::string path =
      Write("news.jsonl",
            "{\"headline\": \"Vote Today\", \"text\": \"Polls open.\", "
            "\"category\": \"politics\", \"lang\": \"eng\"}\n"
            "\n"
            "{\"text\": \"Match report\", \"category\": \"sports\"}\n");
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"xx", path, 1}, FieldMapping(), LabelMap());
  ASSERT_TRUE(examples.ok()) << examples.status();
  ASSERT_EQ(examples->size(), 2u);
  EXPECT_EQ((*examples)[0].text, "vote today polls open .");
  EXPECT_EQ((*examples)[0].lang, "eng");
  EXPECT_EQ((*examples)[1].lang, "xx");
}

TEST_F(DatasetTest, ReportsBadJsonWithLine) {
  const std::string path = Write(
      "bad.jsonl", "{\"text\": \"a\", \"category\": \"x\"}\n{not json}\n");
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"", path, 1}, FieldMapping(), LabelMap());
  ASSERT_FALSE(examples.ok());
  EXPECT_THAT(examples.status().message(), HasSubstr("bad.jsonl:2"));
  const std::string no_label = Write("nolabel.jsonl", "{\"text\": \"a\"}\n");
  examples = ReadExamples({"", no_label, 1}, FieldMapping(), LabelMap());
  ASSERT_FALSE(examples.ok());
  EXPECT_THAT(examples.status().message(), HasSubstr("nolabel.jsonl:1"));
}

TEST_F(DatasetTest, MissingColumnsAreClearErrors) {
  const std::string no_label = Write("a.tsv", "lang\ttext\nx\ty\n");
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"", no_label, 1}, FieldMapping(), LabelMap());
  ASSERT_FALSE(examples.ok());
  EXPECT_THAT(examples.status().message(),
              HasSubstr("label column \"category\""));
  const std::string no_text = Write("b.tsv", "category\tbody\nx\ty\n");
  examples = ReadExamples({"", no_text, 1}, FieldMapping(), LabelMap());
  ASSERT_FALSE(examples.ok());
  EXPECT_THAT(examples.status().message(), HasSubstr("none of the text"));
  const std::string short_row =
      Write("c.tsv", "category\ttext\nsports\tok\nsports\n");
  examples = ReadExamples({"", short_row, 1}, FieldMapping(), LabelMap());
  ASSERT_FALSE(examples.ok());
  EXPECT_THAT(examples.status().message(), HasSubstr("c.tsv:3"));
}

TEST_F(DatasetTest, LabelWithWhitespaceNeedsAMap) {
  const std::string path = Write("d.tsv", "category\ttext\nsci tech\tx\n");
  absl::StatusOr<std::vector<Example>> examples =
      ReadExamples({"", path, 1}, FieldMapping(), LabelMap());
  ASSERT_FALSE(examples.ok());
  EXPECT_THAT(examples.status().message(), HasSubstr("d.tsv:2"));
}

TEST(StratifiedSplitTest, IsDeterministicAndStratified) {
  std::vector<std::string> labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i % 4 == 0 ? "a" : "b");
  const Split split = StratifiedSplit(labels, 0.5, 7);
  EXPECT_EQ(split.first.size() + split.second.size(), labels.size());
  int a_first = 0;
  for (size_t i : split.first) a_first += labels[i] == "a";
  EXPECT_EQ(a_first, 13);                    // round(0.5 * 25)
  EXPECT_EQ(split.first.size(), 13u + 38u);  // round(0.5 * 75) = 38
  EXPECT_TRUE(std::is_sorted(split.first.begin(), split.first.end()));
  const Split again = StratifiedSplit(labels, 0.5, 7);
  EXPECT_EQ(again.first, split.first);
  const Split other = StratifiedSplit(labels, 0.5, 8);
  EXPECT_NE(other.first, split.first);
}

}  // namespace
}  // namespace kabar::train
