// Copyright kabar authors.
// The flag values of `kabar query --sort` and `kabar stats --by`.
#include "clients/cli/commands.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kabar::cli {
namespace {

using ::testing::HasSubstr;

TEST(ParseSortTest, KnowsEveryOrderAndDefaultsToTheServers) {
  EXPECT_EQ(*ParseSort(""), v1::QUERY_SORT_UNSPECIFIED);
  EXPECT_EQ(*ParseSort("relevance"), v1::QUERY_SORT_RELEVANCE);
  EXPECT_EQ(*ParseSort("published"), v1::QUERY_SORT_PUBLISHED);
  EXPECT_EQ(*ParseSort("ingested"), v1::QUERY_SORT_INGESTED);
  const absl::Status bad = ParseSort("newest").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("relevance, published or ingested"));
}

TEST(ParseCountDimensionTest, KnowsEveryDimension) {
  EXPECT_EQ(*ParseCountDimension(""), v1::COUNT_DIMENSION_UNSPECIFIED);
  EXPECT_EQ(*ParseCountDimension("language"), v1::COUNT_DIMENSION_LANGUAGE);
  EXPECT_EQ(*ParseCountDimension("topic"), v1::COUNT_DIMENSION_TOPIC);
  EXPECT_EQ(*ParseCountDimension("source"), v1::COUNT_DIMENSION_SOURCE);
  EXPECT_EQ(*ParseCountDimension("day"), v1::COUNT_DIMENSION_PUBLISHED_DAY);
  EXPECT_EQ(*ParseCountDimension("ingested_day"),
            v1::COUNT_DIMENSION_INGESTED_DAY);
  const absl::Status bad = ParseCountDimension("week\n").status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("week\\n"));  // escaped, one line
}

}  // namespace
}  // namespace kabar::cli
