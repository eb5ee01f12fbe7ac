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
//
// Damage (docs/architecture.md, "Corruption on read"). Every lookup checks the
// headers it hops over: framing (length, magic), offsets increasing from batch
// to batch and within the segment, the batch an index entry points at ending at
// that entry's offset, and the batch it finds against the one after it. A
// failure is a kCorrupt Status naming the file, the position and the offset,
// never a silent "not found". Reads check each batch's CRC-32C once per
// session (VerifiedRanges). A segment whose bytes stop framing before the end
// of its file, found when it is opened and not cut (see RebuildDamaged), is
// `damaged`: its batches up to the damage read normally, and every offset after
// them, up to the next segment, fails with kCorrupt.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/batch.h"
#include "core/file.h"
#include "core/index_file.h"
#include "core/mapped_file.h"
#include "core/verified_ranges.h"

namespace tidelog {

struct SegmentConfig {
  uint64_t segment_bytes = 1ull << 30;
  uint32_t index_interval_bytes = 4096;
  uint32_t max_index_bytes = 10u << 20;
  bool writable = true;
  // Start the kernel's writeback of appended bytes every this many bytes
  // (sync_file_range WRITE, no wait), so a later sync finds them on their way
  // to disk; 0: never (RocksDB's bytes_per_sync).
  uint64_t writeback_bytes = 1u << 20;
  // During bulk appends, ask the writeback thread for an fdatasync (a hint,
  // File::SyncInBackground) every this many bytes appended past the last
  // sync; 0: never (the log option syncHintBytes). See docs/architecture.md,
  // "Writeback while appending".
  uint64_t sync_hint_bytes = 4u << 20;
};

std::string SegmentFileName(const std::string& dir, int64_t base_offset, const char* suffix);

// The zero tail of the active segment's `.log` (docs/architecture.md, "Zero
// tail"). Sync jobs write zeros ahead of the append position, off the JS
// thread, so that appends overwrite blocks that are already allocated and
// written, and fdatasync has no file size or extent to journal. Every byte of
// the file from the segment's size() to its end is zero; recovery and reads
// stop at size(), and a zero batch length never frames.
//
// file_end is where the file's written bytes end (data, then zeros). The JS
// thread appends below it without locking; an append that reaches past it
// first moves it up (under mu), and a sync job writes zeros only from it
// (under mu, chunk by chunk), so zeros never land on appended bytes.
// It grows in chunks that end at multiples of kZeroTailChunk, so a file with
// a zero tail has a size that is a multiple of it: that is how recovery and
// verifyLog tell the zero tail (not counted, not reported) from a torn write.
constexpr uint64_t kZeroTailChunk = 256u << 10;

// True when data[from, size) can be a zero tail: size is a multiple of
// kZeroTailChunk and every byte from `from` on is zero. It is left after the
// last batch of the active segment by a writer that did not close, and after
// the last batch of a sealed one when a power loss came before the roll's trim
// was synced. Neither is damage: the segment's data ends at `from`.
bool IsZeroTail(const uint8_t* data, uint64_t from, uint64_t size);

struct ZeroTail {
  std::mutex mu;
  std::atomic<uint64_t> file_end{0};
  bool stopped = false;  // under mu: sealed, no zeros may be added
  // Under mu: a sync job of the log is prepared and not finished (Hold/Release).
  // Prefill writes nothing meanwhile, and one queued before the job was
  // prepared (an older epoch) writes nothing at all.
  std::atomic<bool> held{false};
  std::atomic<uint64_t> epoch{0};
  // A prefill task is queued or running (at most one per tail).
  std::atomic<bool> prefill_queued{false};

  // Runs on a sync job's thread, before its fdatasync: writes zeros from
  // file_end up to target and starts their writeback.
  Status Extend(File* file, uint64_t target);
  // Runs on the background thread (Segment::Append queues it during bulk
  // appends): writes zeros from file_end up to target, unless a sync job was
  // prepared since `epoch` was read or is running. No writeback: appends
  // overwrite them in the page cache first.
  void Prefill(File* file, uint64_t target, uint64_t epoch);
  // The JS thread, around a sync job: no prefill writes from Hold until Release.
  void Hold();
  void Release();

 private:
  // Writes one chunk at file_end (at most up to target), under mu; false when there is nothing (more) to write.
  bool WriteChunk(File* file, uint64_t target, uint64_t* start, uint64_t* n, Status* st);
};

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
  // kCorrupt when the indexes cannot be trusted (the caller then rebuilds them),
  // or when a batch there ends at or above limit_offset (the next segment's base).
  Status LoadTrusted(int64_t limit_offset = std::numeric_limits<int64_t>::max());
  // For a segment whose bytes were trusted (synced before a clean close, or
  // below the recovery point) but whose LoadTrusted failed: rebuilds both
  // indexes from the log, checking framing and offset order (below
  // limit_offset), not CRCs (reads check those). Where the framing breaks before
  // the end of the file: `cut` (the last segment, which must end cleanly to be
  // appended to) truncates the file there, *truncated_bytes says how much;
  // otherwise nothing is cut and the segment is marked damaged. *problem
  // describes what was found ("" when the log framed to its end).
  Status RebuildDamaged(int64_t limit_offset, bool cut, uint64_t* truncated_bytes, std::string* problem);
  // Read-only mode: adopt the writer's published state for the active segment.
  Status AdoptPublished(uint64_t size, int64_t next_offset, size_t offset_entries, size_t time_entries);

  // Appends batches already validated and given their final headers. `iov`
  // holds their bytes. On failure the file is cut back and nothing changed.
  Status Append(std::vector<struct iovec>& iov, const std::vector<PlacedBatch>& batches, uint64_t total_bytes);

  // Position to start scanning for `offset` (index lookup; 0 when before the
  // first entry); *entry_offset is the absolute offset of that entry, or -1.
  uint64_t LookupPosition(int64_t offset, int64_t* entry_offset = nullptr) const;
  // Finds the first batch whose last offset is >= offset (*found false: none
  // below size()). The batch found passed its CRC-32C check, and so did every
  // batch passed over on the way, or else the lookup proves that `offset` is
  // not in one that failed. kCorrupt when it may be, when the headers on the
  // way do not chain (see the header comment), or when the offset lies in the
  // damaged part. Index entries are checked as they are used: one that does not
  // point at a batch ending at its offset makes the lookup walk from the
  // segment start instead, and the index is not used again (DistrustIndex).
  Status FindBatch(int64_t offset, PlacedBatch* out, bool* found);
  // Finds the record at `offset` in batch b (uncompressed). Large batches get a
  // cached table of every 16th record's position, so a point read walks at most
  // 15 record lengths instead of up to a whole batch (W5: p99 from ~30 us to ~2 us
  // for 1,000-record batches; the walk is bound by memory latency, ~16 ns a record).
  RecordScan FindRecord(const PlacedBatch& b, int64_t offset, RecordRef* out);
  // Finds the first batch (at or after the time index hint) with maxTimestamp >= ts.
  // The time index entry used is checked against the batch it names.
  Status FindBatchByTimestamp(int64_t ts, PlacedBatch* out, bool* found);
  // Finds the first record of batch b (uncompressed, found by
  // FindBatchByTimestamp) whose timestamp is >= ts; results as
  // tidelog::FindRecordByTimestamp (batch.h). Timestamps need not increase
  // inside a batch. Large batches get, next to FindRecord's record positions,
  // the largest timestamp up to the end of each 16-record block: that running
  // maximum never decreases, so a binary search finds the first block holding
  // a record >= ts and at most 16 records are read instead of up to the whole
  // batch (W6, 1,000-record batches: p50 from ~8.6 us to ~1.5 us; the walk over
  // the whole batch was ~78 % of the time in perf).
  RecordScan FindRecordByTimestamp(const PlacedBatch& b, int64_t ts, RecordRef* out);

  // CRC-32C on read. VerifyBatch checks the batch (once per session: a batch
  // already verified costs one comparison) and returns kCorrupt naming it when
  // its CRC does not match. MarkVerified records whole batches whose CRC is
  // known to be right (computed or checked when they were appended).
  Status VerifyBatch(const PlacedBatch& b);
  bool Verified(const PlacedBatch& b) const {
    return verified_.Contains(b.position, b.position + b.header.total_size());
  }
  void MarkVerified(uint64_t begin, uint64_t end) { verified_.Add(begin, end); }
  const VerifiedRanges& verified() const { return verified_; }
  // A kCorrupt Status about the bytes at `position` of the log file.
  Status Corruption(uint64_t position, int64_t offset, const std::string& what) const;
  bool damaged() const { return damaged_; }
  // Some batch's timestamps are unknown (damaged): max_timestamp() and the time
  // index cannot rule this segment out of a timestamp lookup.
  bool timestamps_incomplete() const { return timestamps_incomplete_; }
  // Removes every batch with last offset >= offset. The cut is at a batch
  // boundary: at the first damaged batch on the way, if the batch holding
  // `offset` cannot be told apart from it.
  Status TruncateTo(int64_t offset);
  // Trims the indexes and the log's zero tail and adds the final time index
  // entry: the segment is now immutable. A trimmed tail sets tail_trimmed.
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
  // The zero tail was cut off and the new file size is not yet fsynced (maintained by Log).
  bool tail_trimmed = false;

  // The zero tail: whether a sync job should extend it, and to where.
  bool WantsZeroTail(uint64_t* target) const;
  const std::shared_ptr<ZeroTail>& zero_tail() const { return tail_; }

 private:
  class Walk;  // a checked walk over batch headers (segment.cc)
  Segment() = default;
  // The first batch (from the index entry for `target`) for which wanted(header)
  // holds. Batches whose CRC fails are passed over by their length; if one was,
  // the batch found must satisfy fine_after_damage or the damage is returned.
  template <typename Pred, typename After>
  Status Seek(int64_t target, Pred wanted, After fine_after_damage, PlacedBatch* out, bool* found);
  // An index entry proved wrong: lookups scan from the segment start for the
  // rest of the session, and a writer deletes the offset index so that the next
  // open rebuilds both indexes.
  void DistrustIndex();
  Status EnsureMapped(uint64_t size);
  // Shrinks the .log file to `size`: safely for every mapping of it in this
  // process (see mapped_file.h), under the zero tail's lock (a sync job may be
  // extending the file).
  Status CutFile(uint64_t size);
  // More than a chunk appended since the last sync: bulk appends, which the
  // prefill and the sync hint serve (small syncs keep the tail themselves).
  bool BulkAppending() const { return size_ - synced_size > kZeroTailChunk; }
  // During bulk appends, asks the background thread to extend the zero tail
  // ahead of them (ZeroTail::Prefill) when it runs short.
  void MaybePrefill();
  // Cuts the zero tail off and stops it growing (Seal).
  Status TrimTail();
  // Index bookkeeping for one batch at `position`; entries are buffered in *off/*time.
  void Track(const PlacedBatch& b, std::vector<uint8_t>* off, std::vector<uint8_t>* time);
  Status FlushEntries(std::vector<uint8_t>& off, std::vector<uint8_t>& time);
  // Scans batches from position 0 up to `end`, rebuilding the in-memory state
  // (and the index files when write_index). Stops at the first batch that does
  // not frame, goes backwards in offsets, ends at or above limit_offset, or (if
  // its last offset is >= crc_from_offset) fails its CRC; *valid_end is where.
  // *why says which check stopped it (when valid_end < end).
  // pass_over_damaged (bytes that were trusted): a batch that frames but fails
  // its CRC is kept in place and passed over by its length, counted in
  // *damaged_batches, instead of stopping the scan; damaged batches at the end
  // are left out of size().
  Status RebuildTo(uint64_t end, int64_t crc_from_offset, int64_t limit_offset, bool write_index, uint64_t* valid_end,
                   std::string* why = nullptr, bool pass_over_damaged = false, size_t* damaged_batches = nullptr);
  void ResetState();

  std::string dir_;
  SegmentConfig cfg_;
  int64_t base_offset_ = 0;
  std::shared_ptr<File> log_;
  std::shared_ptr<ZeroTail> tail_ = std::make_shared<ZeroTail>();
  // The file's size when it was opened (or last cut): bytes below it past
  // size_ are not a zero tail (damage kept in place): TrimTail keeps them.
  uint64_t opened_size_ = 0;
  std::shared_ptr<Mapping> map_;
  std::unique_ptr<IndexFile> offset_index_;
  std::unique_ptr<IndexFile> time_index_;
  uint64_t writeback_from_ = 0;  // appended bytes below this had their writeback started
  uint64_t sync_hint_from_ = 0;  // appended bytes below this were covered by a sync hint
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
  bool damaged_ = false;       // bytes after size_ in the file are unreadable (see RebuildDamaged)
  std::string damage_;         // what is wrong there
  bool timestamps_incomplete_ = false;
  VerifiedRanges verified_;
  // The position cache of large batches (FindRecord, FindRecordByTimestamp).
  // Valid as long as the bytes below size() do not change: TruncateTo drops it.
  struct RecordMarks {
    std::vector<uint32_t> starts;  // position in the batch of every kRecordStride-th record
    // Largest record timestamp from the batch start to the end of each
    // kRecordStride-record block; empty until a timestamp lookup needs it.
    std::vector<int64_t> max_ts;
  };
  // Marks with max_ts of the uncompressed batch b (built and cached on first
  // use), or nullptr when its records are malformed (nothing is cached).
  const RecordMarks* TimestampMarks(const PlacedBatch& b);
  // batch position -> its marks
  std::unordered_map<uint64_t, RecordMarks> record_starts_;
  size_t record_starts_entries_ = 0;  // 4-byte words held by record_starts_ (capped)
};

}  // namespace tidelog
