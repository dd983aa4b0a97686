// Copyright kabar authors.
#include "services/ingest/spool.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kabar::ingest {
namespace {

std::string FreshDir() {
  static std::atomic<int> counter{0};
  const std::string dir = absl::StrCat(::testing::TempDir(), "/spool-", getpid(), "-",
                                       counter.fetch_add(1));
  std::filesystem::remove_all(dir);
  return dir;
}

std::vector<std::string> SegmentFiles(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> Payloads(const std::vector<SpoolRecord>& records) {
  std::vector<std::string> payloads;
  for (const SpoolRecord& record : records) payloads.push_back(record.payload);
  return payloads;
}

std::unique_ptr<Spool> OpenOrDie(const SpoolOptions& options) {
  absl::StatusOr<std::unique_ptr<Spool>> spool = Spool::Open(options);
  EXPECT_TRUE(spool.ok()) << spool.status();
  return spool.ok() ? *std::move(spool) : nullptr;
}

TEST(SpoolTest, ReplaysWhatWasNotMarkedDone) {
  SpoolOptions options{FreshDir()};
  {
    auto spool = OpenOrDie(options);
    absl::StatusOr<std::vector<uint64_t>> ids = spool->Append({"one", "two", "three"});
    ASSERT_TRUE(ids.ok());
    EXPECT_EQ(*ids, (std::vector<uint64_t>{1, 2, 3}));
    spool->MarkDone(2);
    EXPECT_EQ(spool->pending(), 2u);
  }
  auto reopened = OpenOrDie(options);
  // MarkDone is not persisted per record: a replay may repeat work, which
  // the store's idempotence absorbs; it never loses any.
  const std::vector<std::string> replayed = Payloads(reopened->TakeRecovered());
  EXPECT_EQ(replayed, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_TRUE(reopened->TakeRecovered().empty());
  // Ids keep growing across restarts.
  EXPECT_EQ(reopened->Append({"four"})->front(), 4u);
}

TEST(SpoolTest, DeletesSegmentsOnceEverythingInThemIsDone) {
  SpoolOptions options{FreshDir()};
  options.segment_bytes = 100;
  auto spool = OpenOrDie(options);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) {
    ids.push_back(spool->Append({std::string(60, 'a' + i)})->front());
  }
  EXPECT_GE(SegmentFiles(options.directory).size(), 5u);
  for (uint64_t id : ids) spool->MarkDone(id);
  EXPECT_EQ(SegmentFiles(options.directory).size(), 1u);  // the one being written
  EXPECT_EQ(spool->pending(), 0u);
  spool.reset();  // a clean stop with nothing pending
  auto reopened_after_all_done = OpenOrDie(options);
  EXPECT_TRUE(reopened_after_all_done->TakeRecovered().empty());
}

TEST(SpoolTest, TruncatedTailRecordIsDroppedAndEverythingBeforeRecovered) {
  SpoolOptions options{FreshDir()};
  std::string segment;
  {
    auto spool = OpenOrDie(options);
    ASSERT_TRUE(spool->Append({"first", "second"}).ok());
    ASSERT_TRUE(spool->Append({"third, torn"}).ok());
    segment = SegmentFiles(options.directory).back();
  }
  const uintmax_t size = std::filesystem::file_size(segment);
  std::filesystem::resize_file(segment, size - 3);  // a write cut short by a crash
  auto spool = OpenOrDie(options);
  EXPECT_EQ(Payloads(spool->TakeRecovered()), (std::vector<std::string>{"first", "second"}));
  // The torn bytes are gone from the file, and new appends follow cleanly.
  EXPECT_EQ(ParseSegment(ReadFile(segment)).error, "");
  ASSERT_TRUE(spool->Append({"after"}).ok());
  auto again = OpenOrDie(options);
  EXPECT_EQ(Payloads(again->TakeRecovered()),
            (std::vector<std::string>{"first", "second", "after"}));
}

TEST(SpoolTest, CorruptTailRecordIsDroppedAndEverythingBeforeRecovered) {
  SpoolOptions options{FreshDir()};
  std::string segment;
  {
    auto spool = OpenOrDie(options);
    ASSERT_TRUE(spool->Append({"kept-1", "kept-2", "flipped"}).ok());
    segment = SegmentFiles(options.directory).back();
  }
  std::string contents = ReadFile(segment);
  contents.back() ^= 0x40;  // one bit of the last payload
  std::ofstream(segment, std::ios::binary | std::ios::trunc) << contents;
  auto spool = OpenOrDie(options);
  EXPECT_EQ(Payloads(spool->TakeRecovered()), (std::vector<std::string>{"kept-1", "kept-2"}));
}

TEST(SpoolTest, GarbageFileDoesNotStopStartUp) {
  SpoolOptions options{FreshDir()};
  std::filesystem::create_directories(options.directory);
  std::ofstream(options.directory + "/segment-00000000000000000001.spool") << "not a spool";
  auto spool = OpenOrDie(options);
  EXPECT_TRUE(spool->TakeRecovered().empty());
  EXPECT_TRUE(spool->Append({"fine"}).ok());
}

TEST(SpoolTest, RecordsAppendedAfterRestartingOnAnEmptySegmentSurviveTheNextCrash) {
  // A crash right after start (or right after a rotation) leaves a segment
  // holding only its header; the next start must not write into a file it
  // then deletes.
  SpoolOptions options{FreshDir()};
  std::filesystem::create_directories(options.directory);
  std::ofstream(options.directory + "/segment-00000000000000000001.spool",
                std::ios::binary)
      << "KABARSP1";
  {
    auto spool = OpenOrDie(options);
    EXPECT_TRUE(spool->TakeRecovered().empty());
    ASSERT_TRUE(spool->Append({"acked"}).ok());
  }  // stopped with "acked" not yet stored
  auto spool = OpenOrDie(options);
  EXPECT_EQ(Payloads(spool->TakeRecovered()), (std::vector<std::string>{"acked"}));
}

TEST(SpoolTest, FullSpoolAnswersResourceExhausted) {
  SpoolOptions options{FreshDir()};
  options.max_bytes = 200;
  auto spool = OpenOrDie(options);
  ASSERT_TRUE(spool->Append({std::string(100, 'x')}).ok());
  absl::StatusOr<std::vector<uint64_t>> full = spool->Append({std::string(100, 'y')});
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  // Once the backlog drains there is room again.
  spool->MarkDone(1);
  ASSERT_TRUE(spool->Append({std::string(1, 'z')}).ok());
}

TEST(ParseSegmentTest, NeverFailsOnArbitraryBytes) {
  EXPECT_EQ(ParseSegment("").records.size(), 0u);
  EXPECT_EQ(ParseSegment("KABARSP1").error, "");
  EXPECT_EQ(ParseSegment("KABARSP1\xff\xff\xff\xff").error, "torn record header at byte 8");
  std::string huge_length = "KABARSP1";
  huge_length += std::string("\xff\xff\xff\x7f", 4) + std::string(12, '\0');
  EXPECT_NE(ParseSegment(huge_length).error, "");
  EXPECT_EQ(ParseSegment(huge_length).valid_bytes, 8u);
}

}  // namespace
}  // namespace kabar::ingest
