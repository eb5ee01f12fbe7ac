// Log: one partition directory: its segments, its recovery, its appends and reads.
//
// Threading: a Log belongs to the JS thread. The only work that leaves it is a
// SyncJob (fdatasync of files it holds shared ownership of, on a libuv worker),
// Open (recovery, before any JS sees the Log) and Close (after JS has stopped
// using it). The binding guarantees those never overlap other calls.
//
// Durability state, in offsets:
//   log_end_offset  every batch below it is in the file (survives a process crash)
//   durable_offset  every batch below it has been fdatasync'ed (survives power loss)
//   recovery point  durable_offset as last checkpointed in `recovery-point`; after
//                   an unclean stop only segments from the one holding it are scanned
// recovery point <= durable_offset <= log_end_offset, always.
//
// Crash behaviour: a kill during an append leaves at most one torn batch at the
// end of the active segment; opening cuts it off (Recover). A clean close writes
// `.clean-shutdown`; opening deletes it (durably) before anything else is written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dir_lock.h"
#include "core/head_file.h"
#include "core/segment.h"

namespace tidelog {

struct LogOptions {
  std::string dir;
  SegmentConfig segment;
  int64_t segment_ms = 7ll * 24 * 3600 * 1000;
  uint32_t max_message_bytes = 1u << 20;  // largest batch accepted
  bool read_only = false;
  // Rewrite the recovery-point checkpoint after this many synced bytes (and at every roll).
  uint64_t checkpoint_interval_bytes = 16u << 20;
};

enum AppendFlags : int {
  kAssignOffsets = 1,     // the log gives the batch its base offset (else: checks the given one)
  kComputeCrc = 2,        // the CRC field is not filled in: compute it
  kVerifyCrc = 4,         // the CRC field must already be right
  kLogAppendTime = 8,     // stamp batches with the append time (LogAppendTime)
  kValidateRecords = 16,  // walk the records of uncompressed batches
};

struct AppendResult {
  int64_t base_offset = 0;
  int64_t last_offset = 0;
  int64_t append_time = -1;  // the LogAppendTime used, or -1
  int32_t batches = 0;
};

struct ReadResult {
  std::shared_ptr<Mapping> mapping;  // keeps `data` alive
  const uint8_t* data = nullptr;
  size_t length = 0;
  int64_t next_offset = 0;  // the offset after the last batch returned
};

struct RecoveryInfo {
  bool clean = false;
  int32_t segments = 0;
  int32_t segments_recovered = 0;
  uint64_t bytes_scanned = 0;
  uint64_t bytes_truncated = 0;
  int64_t recovery_point = 0;
  // What opening found wrong and what it did about it (an index rebuilt, a
  // torn tail cut off, a damaged segment), one sentence each naming the file.
  std::vector<std::string> problems;
};

struct SegmentInfo {
  int64_t base_offset;
  int64_t next_offset;
  uint64_t size;
  int64_t max_timestamp;
  bool active;
};

// Work that runs off the JS thread: make everything appended so far durable.
struct SyncJob {
  SyncJob() = default;
  SyncJob(const SyncJob&) = delete;
  SyncJob& operator=(const SyncJob&) = delete;
  // Lets the active segment's prefill write again (ZeroTail::Hold, taken by PrepareSync).
  ~SyncJob() {
    if (held_tail) held_tail->Release();
  }
  std::vector<std::shared_ptr<File>> files;
  // fsync'ed, not fdatasync'ed: their zero tail was cut off (a smaller size).
  std::vector<std::shared_ptr<File>> trimmed_files;
  // Before the syncs: extend the active segment's zero tail (segment.h) to
  // zero_tail_target. Best effort: a failure (a full disk) costs only speed.
  std::shared_ptr<File> zero_tail_file;
  std::shared_ptr<ZeroTail> zero_tail;
  uint64_t zero_tail_target = 0;
  // Held from PrepareSync until the job is gone: a prefill (segment.h) never
  // writes between a job's preparation and its acknowledgements, so what the
  // job acknowledges never follows a write its fdatasync did not cover.
  std::shared_ptr<ZeroTail> held_tail;
  std::string dir;
  bool sync_dir = false;
  bool write_checkpoint = false;
  // A forced checkpoint (after truncateTo) must be written: the old one may lie
  // above the new log end. Any other checkpoint only bounds the next recovery
  // scan, so failing to write it (a full disk) does not fail the sync: the data
  // is durable all the same, and the next sync tries again.
  bool checkpoint_required = false;
  bool checkpoint_written = false;  // set by Run()
  int64_t target_offset = 0;  // durable once Run() succeeds
  int64_t target_segment_base = 0;    // the active segment when the job was prepared
  uint64_t target_segment_size = 0;   // and its size then: synced once Run() succeeds
  // bookkeeping applied by Log::CompleteSync
  std::vector<std::pair<int64_t, uint64_t>> segment_sizes;  // base offset -> size synced
  std::vector<int64_t> sealed_indexes;                      // segments whose indexes were synced
  std::vector<int64_t> trimmed;                             // segments whose trimmed size was synced
  uint64_t dir_changes = 0;
  uint64_t appended_bytes = 0;
  Status Run();
};

class Log {
 public:
  static Status Open(const LogOptions& options, std::unique_ptr<Log>* out, RecoveryInfo* info);
  ~Log();

  Status Append(const uint8_t* data, size_t length, int flags, AppendResult* result);
  // Whole batches from the one holding `offset`, at most max_bytes (at least one
  // batch) and only batches that end below `upper`, all from one segment.
  // Every batch returned passed its CRC-32C check (once per session); kCorrupt
  // when the first one does not, and the read ends before any later one that
  // does not (docs/architecture.md, "Corruption on read"). The same holds for
  // ReadBatchAt and FindBatchByTimestamp.
  Status Read(int64_t offset, size_t max_bytes, int64_t upper, ReadResult* result);
  // The batch holding `offset` (result->data/length cover it), or length 0.
  Status ReadBatchAt(int64_t offset, PlacedBatch* batch, ReadResult* result);
  // The record at `offset` inside the uncompressed batch b found by ReadBatchAt
  // (*found false: no such record); kCorrupt when its records are malformed.
  Status FindRecord(const PlacedBatch& b, int64_t offset, RecordRef* out, bool* found);
  // The first batch with maxTimestamp >= ts: *found false when there is none.
  Status FindBatchByTimestamp(int64_t ts, bool* found, ReadResult* result, BatchHeader* header);
  // Kafka's lookup by timestamp: the first offset whose record has a timestamp
  // >= ts (not below the log start offset). kCompressed: it is in the batch
  // FindBatchByTimestamp returns, which the caller decodes. kCorrupt when the
  // records of an uncompressed batch whose CRC matches are malformed.
  enum class TimestampLookup { kFound, kNone, kCompressed };
  Status OffsetForTimestamp(int64_t ts, TimestampLookup* what, int64_t* offset);

  std::unique_ptr<SyncJob> PrepareSync(bool force_checkpoint);
  void CompleteSync(const SyncJob& job);
  Status TruncateTo(int64_t offset);
  // Syncs, trims, checkpoints, marks the shutdown clean and unlocks. Off the JS thread.
  Status Close();
  // Read-only logs: catch up with the writer's head.
  Status Refresh();
  // Read-only logs: whether the writer's generation is still the one this view
  // was loaded at. A read copies its bytes and then checks this: a roll,
  // truncation or recovery of the writer meanwhile may have changed or zeroed
  // the bytes under the copy, which is then dropped and read again.
  bool ViewCurrent() const;

  bool closed() const { return closed_; }
  bool read_only() const { return options_.read_only; }
  int64_t log_start_offset() const { return log_start_offset_; }
  int64_t log_end_offset() const { return log_end_offset_; }
  int64_t durable_offset() const { return durable_offset_; }
  int64_t recovery_point() const { return recovery_point_; }
  uint64_t unsynced_bytes() const { return appended_bytes_ - synced_bytes_; }
  std::vector<SegmentInfo> Segments() const;
  const LogOptions& options() const { return options_; }

 private:
  explicit Log(const LogOptions& options) : options_(options) {}
  Status OpenWriter(RecoveryInfo* info);
  Status LoadSegments(bool clean, int64_t recovery_point, RecoveryInfo* info);
  Status LoadForReader();
  Status LoadForReaderOnce();
  Status Roll(int64_t base_offset);
  Segment* SegmentFor(int64_t offset) const;
  // FindBatchByTimestamp's search; *seg is the segment of the batch found.
  Status FindTimestampBatch(int64_t ts, Segment** seg, PlacedBatch* batch, bool* found);
  void Publish();
  Status WriteRecoveryPoint(int64_t offset);
  Status SyncForClose();

  LogOptions options_;
  std::unique_ptr<DirLock> lock_;
  std::unique_ptr<HeadFile> head_;
  std::vector<std::unique_ptr<Segment>> segments_;  // by base offset; the last is active
  int64_t log_start_offset_ = 0;
  int64_t log_end_offset_ = 0;
  int64_t durable_offset_ = 0;
  int64_t recovery_point_ = 0;
  // The segment holding durable_offset_ and its synced size (published in .head).
  int64_t durable_segment_base_ = 0;
  uint64_t durable_segment_size_ = 0;
  uint64_t appended_bytes_ = 0;         // bytes appended since open
  uint64_t synced_bytes_ = 0;           // of those, bytes covered by a completed sync
  uint64_t checkpointed_bytes_ = 0;     // appended_bytes_ when the checkpoint was last written
  uint64_t dir_changes_ = 0;            // segment files created or deleted since open
  uint64_t synced_dir_changes_ = 0;
  bool roll_since_checkpoint_ = false;
  uint64_t generation_ = 0;
  bool closed_ = false;
  // reused per append: patched batch headers and the write vector
  std::vector<uint8_t> headers_;
  std::vector<PlacedBatch> placed_;
  std::vector<struct iovec> iov_;
};

}  // namespace tidelog
