// Copyright kabar authors.
#include "services/classify/language_codes.h"

#include <fstream>
#include <set>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kabar::classify {
namespace {

using ::testing::HasSubstr;

const LanguageCodes& Codes() { return LanguageCodes::Default(); }

TEST(IsKabarCodeTest, AcceptsLanguageAndOptionalScript) {
  for (const char* code : {"id", "en", "pcm", "ks-Arab", "ar-Latn"}) {
    EXPECT_TRUE(IsKabarCode(code)) << code;
  }
  for (const char* code : {"", "i", "indo", "ID", "ind_Latn", "ks-arab",
                           "ks-Ara", "ks-", "-Arab", "zh-Hans-CN"}) {
    EXPECT_FALSE(IsKabarCode(code)) << code;
  }
}

// The examples: ISO 639-1 where it exists, else ISO 639-3, and a
// script subtag only for one language written in several scripts.
TEST(LanguageCodesTest, MapsFloresCodesToKabarCodes) {
  EXPECT_EQ(Codes().Map("ind_Latn"), "id");
  EXPECT_EQ(Codes().Map("eng_Latn"), "en");
  EXPECT_EQ(Codes().Map("hau_Latn"), "ha");
  EXPECT_EQ(Codes().Map("ibo_Latn"), "ig");
  EXPECT_EQ(Codes().Map("pcm_Latn"), "pcm");
  EXPECT_EQ(Codes().Map("ace_Latn"), "ace-Latn");
  EXPECT_EQ(Codes().Map("ace_Arab"), "ace-Arab");
  EXPECT_EQ(Codes().Map("kas_Arab"), "ks-Arab");
  EXPECT_EQ(Codes().Map("kas_Deva"), "ks-Deva");
}

TEST(LanguageCodesTest, MapsMacrolanguageMembers) {
  for (const char* arabic : {"arb_Arab", "ars_Arab", "acm_Arab", "apc_Arab",
                             "ajp_Arab", "aeb_Arab", "ary_Arab", "arz_Arab",
                             "acq_Arab"}) {
    EXPECT_EQ(Codes().Map(arabic), "ar") << arabic;
  }
  EXPECT_EQ(Codes().Map("arb_Latn"), "ar-Latn");
  EXPECT_EQ(Codes().Map("zsm_Latn"), "ms");
  EXPECT_EQ(Codes().Map("pes_Arab"), "fa");
  EXPECT_EQ(Codes().Map("prs_Arab"), "fa");
  EXPECT_EQ(Codes().Map("swh_Latn"), "sw");
  EXPECT_EQ(Codes().Map("gaz_Latn"), "om");
  EXPECT_EQ(Codes().Map("zho_Hans"), "zh");
  EXPECT_EQ(Codes().Map("zho_Hant"), "zh");
}

// lid.176's Wikipedia-style labels land in the same scheme.
TEST(LanguageCodesTest, MapsLid176Labels) {
  EXPECT_EQ(Codes().Map("arz"), "ar");
  EXPECT_EQ(Codes().Map("als"), "gsw");  // Alemannic, not Tosk Albanian
  EXPECT_EQ(Codes().Map("no"), "nb");
  EXPECT_EQ(Codes().Map("min"), "min-Latn");
  EXPECT_EQ(Codes().Map("en"), "en");  // already a kabar code
  EXPECT_EQ(Codes().Map("id"), "id");
}

TEST(LanguageCodesTest, EveryTargetIsAKabarCodeThatMapsToItself) {
  ASSERT_GT(Codes().entries().size(), 200u);
  for (const auto& [from, to] : Codes().entries()) {
    EXPECT_TRUE(IsKabarCode(to)) << from << " -> " << to;
    EXPECT_EQ(Codes().Map(to), to) << from << " -> " << to;
  }
}

// Every language of the training data is in the table, so no FLORES code
// can leak into a model's labels. Reads SIB-200 from /work/shared.
TEST(LanguageCodesTest, EverySib200LanguageIsListed) {
  std::ifstream in(std::string(KABAR_SOURCE_DIR) +
                   "/../shared/datasets/sib200/train.tsv");
  if (!in.is_open()) GTEST_SKIP() << "SIB-200 not found under ../shared";
  std::set<std::string> languages;
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    languages.insert(std::string(line.substr(0, line.find('\t'))));
  }
  EXPECT_EQ(languages.size(), 205u);
  std::set<std::string> codes;
  for (const std::string& flores : languages) {
    EXPECT_TRUE(Codes().entries().count(flores)) << flores;
    codes.insert(Codes().Map(flores));
  }
  // Merged: 9 Arabic varieties, 2 Persian, 2 Akan, 2 Chinese scripts.
  EXPECT_EQ(codes.size(), 205u - 8 - 1 - 1 - 1);
}

TEST(LanguageCodesTest, EveryMasakhaNewsLanguageIsListed) {
  // The FLORES codes models/train_language_model.sh names them by.
  for (const char* flores :
       {"amh_Ethi", "eng_Latn", "fra_Latn", "hau_Latn", "ibo_Latn",
        "lin_Latn", "lug_Latn", "gaz_Latn", "pcm_Latn", "run_Latn",
        "sna_Latn", "som_Latn", "swh_Latn", "tir_Ethi", "xho_Latn",
        "yor_Latn"}) {
    EXPECT_TRUE(Codes().entries().count(flores)) << flores;
  }
}

TEST(LanguageCodesTest, ParseRejectsBadLines) {
  EXPECT_TRUE(LanguageCodes::Parse("# comment\n\nind_Latn\tid\n").ok());
  EXPECT_THAT(LanguageCodes::Parse("ind_Latn id\n").status().message(),
              HasSubstr("line 1"));
  EXPECT_THAT(LanguageCodes::Parse("a\tid\nb\tIndonesian\n").status().message(),
              HasSubstr("line 2: \"Indonesian\" is not a kabar code"));
  EXPECT_THAT(LanguageCodes::Parse("a\tid\na\tms\n").status().message(),
              HasSubstr("listed twice"));
}

}  // namespace
}  // namespace kabar::classify
