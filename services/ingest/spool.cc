// Copyright kabar authors.
#include "services/ingest/spool.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/common/crc32c.h"
#include "services/common/logging.h"

namespace kabar::ingest {
namespace {

constexpr absl::string_view kMagic = "KABARSP1";
constexpr size_t kHeaderBytes = 16;  // length, crc, id
constexpr absl::string_view kPrefix = "segment-";
constexpr absl::string_view kSuffix = ".spool";

void PutUint32(uint32_t value, std::string* out) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}
void PutUint64(uint64_t value, std::string* out) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>(value >> (8 * i)));
}
uint64_t GetLittleEndian(const char* data, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) {
    value = (value << 8) | static_cast<uint8_t>(data[i]);
  }
  return value;
}

uint32_t RecordCrc(uint64_t id, absl::string_view payload) {
  std::string id_bytes;
  PutUint64(id, &id_bytes);
  return common::Crc32c(payload, common::Crc32c(id_bytes));
}

std::string SegmentPath(const std::string& directory, uint64_t first_id) {
  return absl::StrFormat("%s/%s%020d%s", directory, kPrefix, first_id, kSuffix);
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("cannot write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& directory) {
  const int fd = open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("cannot open", directory);
  const int result = fsync(fd);
  close(fd);
  if (result != 0) return ErrnoError("cannot sync", directory);
  return absl::OkStatus();
}

}  // namespace

ParsedSegment ParseSegment(absl::string_view contents) {
  ParsedSegment parsed;
  if (contents.size() < kMagic.size() || contents.substr(0, kMagic.size()) != kMagic) {
    parsed.error = "missing segment header";
    return parsed;
  }
  size_t offset = kMagic.size();
  parsed.valid_bytes = offset;
  uint64_t previous_id = 0;
  while (offset < contents.size()) {
    if (contents.size() - offset < kHeaderBytes) {
      parsed.error = absl::StrCat("torn record header at byte ", offset);
      break;
    }
    const char* header = contents.data() + offset;
    const auto length = static_cast<uint32_t>(GetLittleEndian(header, 4));
    const auto crc = static_cast<uint32_t>(GetLittleEndian(header + 4, 4));
    const uint64_t id = GetLittleEndian(header + 8, 8);
    if (length > kMaxSpoolPayloadBytes) {
      parsed.error = absl::StrCat("record length ", length, " at byte ", offset,
                                  " is over the limit");
      break;
    }
    if (contents.size() - offset - kHeaderBytes < length) {
      parsed.error = absl::StrCat("torn record at byte ", offset);
      break;
    }
    const absl::string_view payload = contents.substr(offset + kHeaderBytes, length);
    if (RecordCrc(id, payload) != crc) {
      parsed.error = absl::StrCat("checksum mismatch at byte ", offset);
      break;
    }
    if (id <= previous_id) {
      parsed.error = absl::StrCat("record id ", id, " out of order at byte ", offset);
      break;
    }
    previous_id = id;
    parsed.records.push_back(SpoolRecord{id, std::string(payload)});
    offset += kHeaderBytes + length;
    parsed.valid_bytes = offset;
  }
  return parsed;
}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const SpoolOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.directory, error);
  if (error) {
    return absl::InternalError(
        absl::StrCat("cannot create spool directory ", options.directory, ": ",
                     error.message()));
  }
  std::unique_ptr<Spool> spool(new Spool(options));
  absl::Status recovered = spool->Recover();
  if (!recovered.ok()) return recovered;
  return spool;
}

Spool::~Spool() {
  absl::MutexLock lock(&mu_);
  if (fd_ >= 0) close(fd_);
  // A clean stop with nothing pending leaves an empty spool, so the next
  // start replays nothing. (After a crash, records already stored may be
  // replayed; the store's idempotence absorbs that.)
  if (outstanding_.empty()) {
    for (const Segment& segment : segments_) {
      std::error_code ignored;
      std::filesystem::remove(segment.path, ignored);
    }
  }
}

absl::Status Spool::Recover() {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<uint64_t, std::string>> files;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(options_.directory, error)) {
    const std::string name = entry.path().filename().string();
    if (name.size() <= kPrefix.size() + kSuffix.size() ||
        !absl::StartsWith(name, kPrefix) || !absl::EndsWith(name, kSuffix)) {
      continue;
    }
    uint64_t first_id = 0;
    if (!absl::SimpleAtoi(name.substr(kPrefix.size(),
                                      name.size() - kPrefix.size() - kSuffix.size()),
                          &first_id) ||
        first_id == 0) {
      continue;
    }
    files.emplace_back(first_id, entry.path().string());
  }
  if (error) {
    return absl::InternalError(absl::StrCat("cannot read spool directory ",
                                            options_.directory, ": ", error.message()));
  }
  std::sort(files.begin(), files.end());

  for (const auto& [first_id, path] : files) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string contents = buffer.str();
    ParsedSegment parsed = ParseSegment(contents);
    if (parsed.valid_bytes < contents.size()) {
      common::LogWarning(absl::StrCat("spool ", path, ": ", parsed.error, "; truncating ",
                                      contents.size() - parsed.valid_bytes,
                                      " bytes after byte ", parsed.valid_bytes));
      if (parsed.valid_bytes < kMagic.size()) {
        std::filesystem::remove(path, error);
        continue;
      }
      if (truncate(path.c_str(), static_cast<off_t>(parsed.valid_bytes)) != 0) {
        return ErrnoError("cannot truncate", path);
      }
    }
    // Records before next_id_ are from an older segment already seen;
    // ids only grow, so anything else is kept.
    Segment segment{path, first_id, first_id - 1, parsed.valid_bytes};
    size_t kept = 0;
    for (SpoolRecord& record : parsed.records) {
      if (record.id < next_id_) continue;
      ++kept;
      segment.last_id = record.id;
      next_id_ = record.id + 1;
      outstanding_.insert(record.id);
      recovered_.push_back(std::move(record));
    }
    next_id_ = std::max(next_id_, first_id);
    if (kept == 0) {
      // Nothing to replay (a crash right after the segment was started).
      // Delete it: the new segment below may get its very name, and
      // keeping both entries would delete the live file under its writer.
      std::filesystem::remove(path, error);
      if (error) {
        return absl::InternalError(
            absl::StrCat("cannot delete ", path, ": ", error.message()));
      }
      continue;
    }
    bytes_ += segment.bytes;
    segments_.push_back(std::move(segment));
  }
  if (!recovered_.empty()) {
    common::LogInfo(absl::StrCat("spool ", options_.directory, ": recovered ",
                                 recovered_.size(), " records not yet stored"));
  }
  // New records always go to a fresh segment: the old tail may have been
  // truncated, and a clean start keeps the rules simple.
  return StartSegmentLocked();
}

absl::Status Spool::StartSegmentLocked() {
  if (fd_ >= 0) {
    if (options_.sync && fdatasync(fd_) != 0) {
      return ErrnoError("cannot sync", segments_.back().path);
    }
    close(fd_);
    fd_ = -1;
  }
  const std::string path = SegmentPath(options_.directory, next_id_);
  fd_ = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) return ErrnoError("cannot create", path);
  absl::Status written = WriteAll(fd_, kMagic, path);
  if (!written.ok()) return written;
  if (options_.sync) {
    if (fdatasync(fd_) != 0) return ErrnoError("cannot sync", path);
    absl::Status synced = SyncDirectory(options_.directory);
    if (!synced.ok()) return synced;
  }
  segments_.push_back(Segment{path, next_id_, next_id_ - 1, kMagic.size()});
  bytes_ += kMagic.size();
  DeleteFinishedSegmentsLocked();
  return absl::OkStatus();
}

std::vector<SpoolRecord> Spool::TakeRecovered() {
  absl::MutexLock lock(&mu_);
  return std::move(recovered_);
}

absl::StatusOr<std::vector<uint64_t>> Spool::Append(
    const std::vector<std::string>& payloads) {
  std::string group;
  uint64_t group_bytes = 0;
  for (const std::string& payload : payloads) group_bytes += kHeaderBytes + payload.size();

  absl::MutexLock lock(&mu_);
  if (bytes_ + group_bytes > options_.max_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "ingest spool is full (", bytes_, " of ", options_.max_bytes,
        " bytes waiting for classify/store); retry later"));
  }
  if (segments_.back().bytes > kMagic.size() &&
      segments_.back().bytes + group_bytes > options_.segment_bytes) {
    absl::Status started = StartSegmentLocked();
    if (!started.ok()) return started;
  }
  std::vector<uint64_t> ids;
  ids.reserve(payloads.size());
  group.reserve(group_bytes);
  for (const std::string& payload : payloads) {
    if (payload.size() > kMaxSpoolPayloadBytes) {
      return absl::InvalidArgumentError("record over the spool's size limit");
    }
    const uint64_t id = next_id_ + ids.size();
    PutUint32(static_cast<uint32_t>(payload.size()), &group);
    PutUint32(RecordCrc(id, payload), &group);
    PutUint64(id, &group);
    group.append(payload);
    ids.push_back(id);
  }
  Segment& segment = segments_.back();
  absl::Status written = WriteAll(fd_, group, segment.path);
  if (written.ok() && options_.sync && fdatasync(fd_) != 0) {
    written = ErrnoError("cannot sync", segment.path);
  }
  if (!written.ok()) {
    // Cut off whatever part of the group reached the file, so a later
    // group does not follow garbage.
    if (ftruncate(fd_, static_cast<off_t>(segment.bytes)) != 0) {
      common::LogError(absl::StrCat("cannot truncate ", segment.path));
    }
    return written;
  }
  segment.bytes += group.size();
  bytes_ += group.size();
  if (!ids.empty()) {
    segment.last_id = ids.back();
    next_id_ = ids.back() + 1;
    outstanding_.insert(ids.begin(), ids.end());
  }
  return ids;
}

void Spool::MarkDone(uint64_t id) {
  absl::MutexLock lock(&mu_);
  outstanding_.erase(id);
  DeleteFinishedSegmentsLocked();
}

void Spool::DeleteFinishedSegmentsLocked() {
  const uint64_t oldest_pending = outstanding_.empty() ? next_id_ : *outstanding_.begin();
  // Never the last segment: it is the one being written.
  while (segments_.size() > 1 && segments_.front().last_id < oldest_pending) {
    std::error_code error;
    std::filesystem::remove(segments_.front().path, error);
    if (error) {
      common::LogError(absl::StrCat("cannot delete spool segment ",
                                    segments_.front().path, ": ", error.message()));
      return;
    }
    bytes_ -= segments_.front().bytes;
    segments_.erase(segments_.begin());
  }
}

uint64_t Spool::bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
}

size_t Spool::pending() const {
  absl::MutexLock lock(&mu_);
  return outstanding_.size();
}

}  // namespace kabar::ingest
