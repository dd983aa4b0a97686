// Copyright kabar authors.
// libFuzzer target for the ingest spool's record reader
// (services/ingest/spool.h): what start-up does with a segment file left by
// a crash, torn or corrupt. Each input is used twice.
//   - As a segment file's raw bytes, through ParseSegment: the valid prefix
//     is within the input; without the "KABARSP1" header nothing is valid;
//     with it, the error is empty exactly when the whole input is valid;
//     record ids strictly increase; and the records, encoded again by an
//     independent writer (below), give back exactly the valid prefix, which
//     parses again to the same records with no error.
//   - As a recipe for a well-formed segment (payloads split on "\n", the
//     first id from the input) that is then truncated, has one byte flipped
//     or has bytes appended, as a crash or a bad disk would. ParseSegment
//     must keep exactly the records that end before the damage and no
//     other. Then the real recovery: the damaged file goes into an empty
//     spool directory, Spool::Open must recover the same records and
//     truncate the file to the valid prefix; an append after it gets the
//     next id, and opening again recovers the old records plus the new one.
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "services/common/crc32c.h"
#include "services/common/logging.h"
#include "services/ingest/spool.h"
#include "tests/fuzz/fuzz_util.h"

// The spool logs every truncation it makes. At thousands of inputs a second
// that would bury libFuzzer's own output, so this binary's logging (which
// the linker takes instead of kabar_common's) drops it.
namespace kabar::common {
void LogInfo(absl::string_view) {}
void LogWarning(absl::string_view) {}
void LogError(absl::string_view) {}
}  // namespace kabar::common

namespace kabar::fuzz {
namespace {

using ingest::ParsedSegment;
using ingest::ParseSegment;
using ingest::SpoolRecord;

constexpr absl::string_view kMagic = "KABARSP1";
constexpr size_t kHeaderBytes = 16;

// The record format of spool.h, written here from its description rather
// than with the spool's own encoder.
void AppendLittleEndian(uint64_t value, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}

std::string EncodeRecord(const SpoolRecord& record) {
  std::string id_bytes;
  AppendLittleEndian(record.id, 8, &id_bytes);
  std::string out;
  AppendLittleEndian(record.payload.size(), 4, &out);
  AppendLittleEndian(common::Crc32c(record.payload, common::Crc32c(id_bytes)), 4, &out);
  out += id_bytes;
  out += record.payload;
  return out;
}

std::string EncodeSegment(const std::vector<SpoolRecord>& records) {
  std::string out(kMagic);
  for (const SpoolRecord& record : records) out += EncodeRecord(record);
  return out;
}

bool SameRecords(const std::vector<SpoolRecord>& a, const std::vector<SpoolRecord>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].payload != b[i].payload) return false;
  }
  return true;
}

std::string Describe(const std::vector<SpoolRecord>& records) {
  std::string out;
  for (const SpoolRecord& record : records) {
    absl::StrAppend(&out, record.id, ":", record.payload.size(), " ");
  }
  return out;
}

void FuzzRawSegment(absl::string_view contents) {
  const ParsedSegment parsed = ParseSegment(contents);
  Check(parsed.valid_bytes <= contents.size(),
        "ParseSegment: valid prefix longer than the input", contents);
  if (contents.substr(0, kMagic.size()) != kMagic) {
    Check(parsed.valid_bytes == 0 && parsed.records.empty() && !parsed.error.empty(),
          "ParseSegment: accepted a segment without its header", contents);
    return;
  }
  Check(parsed.error.empty() == (parsed.valid_bytes == contents.size()),
        "ParseSegment: error set iff the input is not all valid", parsed.error);
  for (size_t i = 1; i < parsed.records.size(); ++i) {
    Check(parsed.records[i - 1].id < parsed.records[i].id,
          "ParseSegment: record ids do not increase", Describe(parsed.records));
  }
  for (const SpoolRecord& record : parsed.records) {
    Check(record.payload.size() <= ingest::kMaxSpoolPayloadBytes,
          "ParseSegment: payload over the limit");
  }
  const absl::string_view prefix = contents.substr(0, parsed.valid_bytes);
  Check(EncodeSegment(parsed.records) == prefix,
        "ParseSegment: the records do not encode back to the valid prefix", contents);
  const ParsedSegment again = ParseSegment(prefix);
  Check(again.error.empty() && again.valid_bytes == prefix.size() &&
            SameRecords(again.records, parsed.records),
        "ParseSegment: the valid prefix does not parse to the same records", prefix);
}

// An empty directory of its own for each input, under /dev/shm when there
// is one (no disk writes at thousands of inputs a second).
const std::string& ScratchDirectory() {
  static const std::string* directory = [] {
    std::string base = "/dev/shm";
    if (access(base.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp != nullptr ? tmp : "/tmp";
    }
    std::string path = absl::StrCat(base, "/kabar-spool-fuzz.XXXXXX");
    if (mkdtemp(path.data()) == nullptr) Check(false, "cannot create a scratch directory", path);
    // Removed at exit; a crash leaves it behind, with the finding.
    static const std::string kept = path;
    std::atexit([] {
      std::error_code ignored;
      std::filesystem::remove_all(kept, ignored);
    });
    return new std::string(path);
  }();
  return *directory;
}

std::vector<SpoolRecord> OpenAndTakeRecovered(const std::string& directory,
                                              std::unique_ptr<ingest::Spool>* spool) {
  ingest::SpoolOptions options;
  options.directory = directory;
  options.sync = false;
  absl::StatusOr<std::unique_ptr<ingest::Spool>> opened = ingest::Spool::Open(options);
  Check(opened.ok(), "Spool::Open failed on a damaged segment", opened.status().ToString());
  *spool = *std::move(opened);
  return (*spool)->TakeRecovered();
}

void CheckRecovery(const std::string& damaged, uint64_t first_id,
                   const std::vector<SpoolRecord>& expected, size_t valid_bytes) {
  const std::string directory = ScratchDirectory() + "/spool";
  std::error_code error;
  std::filesystem::remove_all(directory, error);
  std::filesystem::create_directories(directory, error);
  const std::string path = absl::StrFormat("%s/segment-%020d.spool", directory, first_id);
  {
    std::ofstream out(path, std::ios::binary);
    out.write(damaged.data(), static_cast<std::streamsize>(damaged.size()));
    Check(out.good(), "cannot write the segment", path);
  }

  std::unique_ptr<ingest::Spool> spool;
  const std::vector<SpoolRecord> recovered = OpenAndTakeRecovered(directory, &spool);
  Check(SameRecords(recovered, expected), "Spool::Open recovered other records",
        absl::StrCat("got ", Describe(recovered), "want ", Describe(expected)));
  // With records recovered, new ones go to a segment of another name, so the
  // damaged file is still there to look at: cut to its valid prefix.
  if (!expected.empty()) {
    struct stat info;
    Check(stat(path.c_str(), &info) == 0 && static_cast<size_t>(info.st_size) == valid_bytes,
          "Spool::Open did not truncate the segment to its valid prefix",
          absl::StrCat("valid bytes ", valid_bytes));
  }
  const absl::StatusOr<std::vector<uint64_t>> appended = spool->Append({"after"});
  Check(appended.ok() && appended->size() == 1, "Spool::Append after recovery failed",
        appended.status().ToString());
  const uint64_t new_id = appended->front();
  // (With nothing recovered any id will do; with a damaged header the file
  // is deleted and its name forgotten.)
  Check(expected.empty() || new_id == expected.back().id + 1,
        "Spool::Append after recovery: not the next id", absl::StrCat(new_id));
  spool.reset();

  std::vector<SpoolRecord> want = expected;
  want.push_back(SpoolRecord{new_id, "after"});
  const std::vector<SpoolRecord> reopened = OpenAndTakeRecovered(directory, &spool);
  Check(SameRecords(reopened, want), "a second Spool::Open recovered other records",
        absl::StrCat("got ", Describe(reopened), "want ", Describe(want)));
}

// Input layout: [damage kind][position: 2 bytes][first id][payloads split on
// "\n"...]. The damage is applied to the well-formed segment built from the
// payloads.
void FuzzDamagedSegment(absl::string_view input) {
  if (input.size() < 4) return;
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(input[i]); };
  const int damage = byte(0) % 4;
  const size_t position = byte(1) | (size_t{byte(2)} << 8);
  const uint64_t first_id = 1 + byte(3) % 8;
  std::vector<SpoolRecord> records;
  for (absl::string_view payload : absl::StrSplit(input.substr(4), '\n')) {
    records.push_back(SpoolRecord{first_id + records.size(), std::string(payload)});
  }

  // Where each record ends in the well-formed segment.
  std::string segment(kMagic);
  std::vector<size_t> ends;
  for (const SpoolRecord& record : records) {
    segment += EncodeRecord(record);
    ends.push_back(segment.size());
  }
  // Bytes from `damaged_from` on are not as written.
  size_t damaged_from = segment.size();
  std::string damaged = segment;
  switch (damage) {
    case 0:  // intact
      break;
    case 1:  // torn: the write stopped part-way
      damaged_from = position % (segment.size() + 1);
      damaged.resize(damaged_from);
      break;
    case 2:  // one byte flipped on disk
      damaged_from = position % segment.size();
      damaged[damaged_from] = static_cast<char>(damaged[damaged_from] ^ (1 << (byte(0) / 4 % 8)));
      break;
    case 3:  // garbage after the last record, e.g. a half-written header
      damaged += std::string(position % (kHeaderBytes + 8) + 1, static_cast<char>(byte(3)));
      break;
  }

  std::vector<SpoolRecord> expected;
  size_t valid_bytes = damaged_from < kMagic.size() ? 0 : kMagic.size();
  for (size_t i = 0; i < records.size() && ends[i] <= damaged_from; ++i) {
    expected.push_back(records[i]);
    valid_bytes = ends[i];
  }
  const ParsedSegment parsed = ParseSegment(damaged);
  Check(SameRecords(parsed.records, expected),
        "ParseSegment: kept other records than those before the damage",
        absl::StrCat("damage ", damage, " at byte ", damaged_from, "; got ",
                     Describe(parsed.records), "want ", Describe(expected)));
  Check(parsed.valid_bytes == valid_bytes, "ParseSegment: wrong valid prefix",
        absl::StrCat(parsed.valid_bytes, " instead of ", valid_bytes));

  CheckRecovery(damaged, first_id, expected, valid_bytes);
}

}  // namespace
}  // namespace kabar::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  kabar::fuzz::FuzzRawSegment(input);
  kabar::fuzz::FuzzDamagedSegment(input);
  return 0;
}
