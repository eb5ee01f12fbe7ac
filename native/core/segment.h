// Segment: one `.log` file of record batches with its `.index` and `.timeindex`.
//
// A segment holds the batches whose offsets start at base_offset (its file name)
// and end before the next segment's base offset. The last segment of a log is
// active: it is appended to with pwrite(v) and its indexes are preallocated.
// Every other segment is sealed: immutable, indexes trimmed.
//
// Reads go through a read-only shared mapping of the log file (see Mapping).
// Only bytes below size() are valid; bytes past it may be a torn write that
// recovery has not removed yet, so nothing reads there.
//
// Index rules are Kafka's (LogSegment.append): after more than
// index_interval_bytes of batches since the last entry, the offset index gets
// (lastOffset of the batch, position of the batch) and the time index gets
// (largest timestamp so far, last offset of the batch that holds it) if that
// timestamp is larger than the last entry's. A lookup finds the last entry at
// or below its target and scans batch headers forward from there.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/batch.h"
#include "core/file.h"
#include "core/index_file.h"
#include "core/mapped_file.h"

namespace tidelog {

struct SegmentConfig {
  uint64_t segment_bytes = 1ull << 30;
  uint32_t index_interval_bytes = 4096;
  uint32_t max_index_bytes = 10u << 20;
  bool writable = true;
};

std::string SegmentFileName(const std::string& dir, int64_t base_offset, const char* suffix);

// A batch placed in the log: where and what.
struct PlacedBatch {
  uint64_t position;
  BatchHeader header;
};

class Segment {
 public:
  static Status Create(const std::string& dir, int64_t base_offset, const SegmentConfig& cfg,
                       std::unique_ptr<Segment>* out);
  // Opens existing files; state is unknown until Recover() or LoadTrusted().
  static Status Open(const std::string& dir, int64_t base_offset, const SegmentConfig& cfg,
                     std::unique_ptr<Segment>* out);

  // Scans every batch from the start, rebuilding both indexes. Batches whose
  // last offset is >= crc_from_offset also have their CRC checked. The log is
  // cut at the first invalid byte; *truncated_bytes says how much went.
  Status Recover(int64_t crc_from_offset, uint64_t* truncated_bytes);
  // For a segment that was cleanly closed or is below the recovery point: checks
  // its indexes and reads only the tail after the last index entry. Returns
  // kCorrupt when the indexes cannot be trusted (the caller then recovers).
  Status LoadTrusted();
  // Read-only mode: adopt the writer's published state for the active segment.
  Status AdoptPublished(uint64_t size, int64_t next_offset, size_t offset_entries, size_t time_entries);

  // Appends batches already validated and given their final headers. `iov`
  // holds their bytes. On failure the file is cut back and nothing changed.
  Status Append(std::vector<struct iovec>& iov, const std::vector<PlacedBatch>& batches, uint64_t total_bytes);

  // Position to start scanning for `offset` (index lookup; 0 when before the first entry).
  uint64_t LookupPosition(int64_t offset) const;
  // Finds the first batch whose last offset is >= offset. False if none below size().
  bool FindBatch(int64_t offset, PlacedBatch* out) const;
  // Finds the record at `offset` in batch b (uncompressed). Large batches get a
  // cached table of every 16th record's position, so a point read walks at most
  // 15 record lengths instead of up to a whole batch (W5: p99 from ~30 us to ~2 us
  // for 1,000-record batches; the walk is bound by memory latency, ~16 ns a record).
  bool FindRecord(const PlacedBatch& b, int64_t offset, RecordRef* out);
  // Finds the first batch (at or after the time index hint) with maxTimestamp >= ts.
  bool FindBatchByTimestamp(int64_t ts, PlacedBatch* out) const;
  // Removes every batch with last offset >= offset. The cut is at a batch boundary.
  Status TruncateTo(int64_t offset);
  // Trims the indexes and adds the final time index entry: the segment is now immutable.
  Status Seal();
  // Makes a sealed segment active again (after the segments above it were deleted).
  Status Activate();
  Status Delete();  // unlinks the three files; mappings held by Buffers stay valid

  bool ShouldRoll(uint64_t batch_bytes, size_t batches, int64_t max_timestamp, int64_t last_offset,
                  int64_t segment_ms) const;

  int64_t base_offset() const { return base_offset_; }
  int64_t next_offset() const { return next_offset_; }
  uint64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  int64_t max_timestamp() const { return max_timestamp_; }
  int64_t first_batch_timestamp() const { return rolling_timestamp_; }
  bool sealed() const { return sealed_; }
  const uint8_t* data() const { return map_->data(); }
  const std::shared_ptr<Mapping>& mapping() const { return map_; }
  const std::shared_ptr<File>& log_file() const { return log_; }
  const IndexFile& offset_index() const { return *offset_index_; }
  const IndexFile& time_index() const { return *time_index_; }
  const std::string& log_path() const { return log_->path(); }

  uint64_t synced_size = 0;       // bytes known to be on disk (maintained by Log)
  bool indexes_synced = false;    // sealed segment whose indexes were fsynced

 private:
  Segment() = default;
  Status EnsureMapped(uint64_t size);
  // Index bookkeeping for one batch at `position`; entries are buffered in *off/*time.
  void Track(const PlacedBatch& b, std::vector<uint8_t>* off, std::vector<uint8_t>* time);
  Status FlushEntries(std::vector<uint8_t>& off, std::vector<uint8_t>& time);
  Status RebuildTo(uint64_t end, int64_t crc_from_offset, bool write_index, uint64_t* valid_end);
  void ResetState();

  std::string dir_;
  SegmentConfig cfg_;
  int64_t base_offset_ = 0;
  std::shared_ptr<File> log_;
  std::shared_ptr<Mapping> map_;
  std::unique_ptr<IndexFile> offset_index_;
  std::unique_ptr<IndexFile> time_index_;
  uint64_t size_ = 0;
  int64_t next_offset_ = 0;
  int64_t max_timestamp_ = format::kNoTimestamp;
  int64_t offset_of_max_timestamp_ = -1;
  int64_t rolling_timestamp_ = format::kNoTimestamp;
  int64_t last_time_entry_ts_ = std::numeric_limits<int64_t>::min();
  uint64_t bytes_since_last_entry_ = 0;
  bool sealed_ = false;
  bool index_missing_ = false;  // an index file was absent when the segment was opened
  bool index_usable_ = true;   // false: lookups scan from position 0
  // batch position -> position in the batch of every kRecordStride-th record
  std::unordered_map<uint64_t, std::vector<uint32_t>> record_starts_;
  size_t record_starts_entries_ = 0;
};

}  // namespace tidelog
