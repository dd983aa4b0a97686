// Copyright kabar authors.
// Spool: ingest's write-ahead log. Every accepted article is appended here
// and fsync'd before it goes on to classify and store, so an article the
// ingest service took in survives a crash of any process: on restart, what
// was spooled and not yet marked stored is replayed.
//
// On disk: a directory of segment files "segment-<first record id>.spool",
// each a magic header followed by records
//   [u32 payload length][u32 CRC-32C of id + payload][u64 record id][payload]
// (little-endian). A torn or corrupt record ends a segment: Open truncates
// the file there and logs what it dropped. Segments are rotated at
// `segment_bytes` and deleted once every record in them is marked done.
//
// Thread-safe.
#ifndef KABAR_SERVICES_INGEST_SPOOL_H_
#define KABAR_SERVICES_INGEST_SPOOL_H_

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace kabar::ingest {

struct SpoolOptions {
  // Where segment files live; created if missing.
  std::string directory;
  // Appends fail with RESOURCE_EXHAUSTED beyond this many bytes on disk:
  // backpressure instead of filling the disk while downstream is down.
  uint64_t max_bytes = uint64_t{1} << 30;
  // A segment is closed and a new one started past this size.
  uint64_t segment_bytes = uint64_t{64} << 20;
  // Skip fsync. Only for tests that measure something else.
  bool sync = true;
};

struct SpoolRecord {
  uint64_t id = 0;
  std::string payload;
};

// Result of parsing one segment's bytes.
struct ParsedSegment {
  std::vector<SpoolRecord> records;
  // Length of the valid prefix; anything after it is torn or corrupt.
  size_t valid_bytes = 0;
  // Why parsing stopped before the end; empty when the whole file is valid.
  std::string error;
};

// Parses a segment file's contents. Never fails: invalid bytes end the
// valid prefix. Pure; exposed for tests and the fuzzer.
ParsedSegment ParseSegment(absl::string_view contents);

// Largest payload accepted in a record.
inline constexpr uint32_t kMaxSpoolPayloadBytes = 64u << 20;

class Spool final {
 public:
  // Opens (creating) the spool, recovering existing segments and
  // truncating a torn tail. Errors: the directory cannot be created or read
  // (INTERNAL, naming the path).
  static absl::StatusOr<std::unique_ptr<Spool>> Open(const SpoolOptions& options);

  // Deletes every segment when no record is pending.
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  // Records found at Open and not yet marked done, oldest first. Returns
  // them once; later calls return nothing.
  std::vector<SpoolRecord> TakeRecovered();

  // Appends `payloads` as one group and makes them durable (one fsync for
  // the whole group). Returns their record ids, in order. Errors:
  // RESOURCE_EXHAUSTED when the spool is full; INTERNAL on an I/O error
  // (nothing of the group should be considered written).
  absl::StatusOr<std::vector<uint64_t>> Append(const std::vector<std::string>& payloads);

  // Marks a record stored; segments whose records are all done are deleted.
  void MarkDone(uint64_t id);

  // Bytes on disk, and records appended but not yet done.
  uint64_t bytes() const;
  size_t pending() const;

 private:
  struct Segment {
    std::string path;
    uint64_t first_id;
    uint64_t last_id;  // first_id - 1 while empty
    uint64_t bytes;
  };

  explicit Spool(SpoolOptions options) : options_(std::move(options)) {}
  absl::Status Recover();
  absl::Status StartSegmentLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteFinishedSegmentsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SpoolOptions options_;
  mutable absl::Mutex mu_;
  std::vector<Segment> segments_ ABSL_GUARDED_BY(mu_);  // oldest first
  int fd_ ABSL_GUARDED_BY(mu_) = -1;                      // the last segment
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<uint64_t> outstanding_ ABSL_GUARDED_BY(mu_);
  std::vector<SpoolRecord> recovered_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kabar::ingest

#endif  // KABAR_SERVICES_INGEST_SPOOL_H_
