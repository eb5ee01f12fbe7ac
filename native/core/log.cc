#include "core/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <limits>

#include "core/crc32c.h"
#include "core/endian.h"

namespace tidelog {

using namespace format;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Parses "00000000000000012345" (exactly 20 digits) into *offset.
bool ParseBaseOffset(const std::string& stem, int64_t* offset) {
  if (stem.size() != static_cast<size_t>(kFileNameDigits)) return false;
  int64_t v = 0;
  for (char c : stem) {
    if (c < '0' || c > '9') return false;
    if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *offset = v;
  return true;
}

// Checkpoint files are Kafka-like text: a version line, then the offset.
Status ReadOffsetCheckpoint(const std::string& path, int64_t* offset, bool* present) {
  std::string text;
  bool missing;
  TL_RETURN_IF_ERROR(ReadSmallFile(path, &text, &missing));
  *present = false;
  if (missing) return Status::OK();
  size_t nl = text.find('\n');
  if (nl == std::string::npos || text.substr(0, nl) != "0") {
    return Status(Code::kCorrupt, "checkpoint " + path + " has an unknown version");
  }
  std::string rest = text.substr(nl + 1);
  while (!rest.empty() && (rest.back() == '\n' || rest.back() == ' ')) rest.pop_back();
  if (rest.empty() || rest.size() > 19 || rest.find_first_not_of("0123456789") != std::string::npos) {
    return Status(Code::kCorrupt, "checkpoint " + path + " does not hold an offset");
  }
  *offset = std::strtoll(rest.c_str(), nullptr, 10);
  *present = true;
  return Status::OK();
}

std::string OffsetCheckpointText(int64_t offset) { return "0\n" + std::to_string(offset) + "\n"; }

}  // namespace

Status SyncJob::Run() {
  // Before the fdatasync of the active segment, which then covers the zeros
  // (their new blocks and the file size, once per refill), so that no durable
  // append is acknowledged while written bytes of a .log are unsynced.
  if (zero_tail) zero_tail->Extend(zero_tail_file.get(), zero_tail_target);
  for (const auto& f : files) TL_RETURN_IF_ERROR(f->DataSync());
  for (const auto& f : trimmed_files) TL_RETURN_IF_ERROR(f->Sync());
  if (sync_dir) TL_RETURN_IF_ERROR(SyncDir(dir));
  if (write_checkpoint) {
    Status st = WriteFileAtomic(dir, kRecoveryPointFile, OffsetCheckpointText(target_offset));
    if (!st.ok() && (checkpoint_required || st.code() != Code::kDiskFull)) return st;
    checkpoint_written = st.ok();
  }
  return Status::OK();
}

Status Log::Open(const LogOptions& options, std::unique_ptr<Log>* out, RecoveryInfo* info) {
  if (options.dir.empty()) return Status(Code::kInvalidArgument, "log directory must not be empty");
  std::unique_ptr<Log> log(new Log(options));
  log->options_.segment.writable = !options.read_only;
  if (options.read_only) {
    TL_RETURN_IF_ERROR(HeadFile::Open(options.dir, false, &log->head_));
    TL_RETURN_IF_ERROR(log->LoadForReader());
  } else {
    TL_RETURN_IF_ERROR(log->OpenWriter(info));
  }
  *out = std::move(log);
  return Status::OK();
}

Log::~Log() = default;

Status Log::OpenWriter(RecoveryInfo* info) {
  const std::string& dir = options_.dir;
  // A directory created here must be durable in its parent too, or a power
  // loss can take the whole log with it: fsync the parent of each one created.
  std::vector<std::string> created;  // innermost first
  for (std::string d = dir; d.size() > 1 && !FileExists(d);) {
    created.push_back(d);
    size_t slash = d.find_last_of('/');
    if (slash == std::string::npos) break;
    d = slash == 0 ? "/" : d.substr(0, slash);
  }
  TL_RETURN_IF_ERROR(MakeDirs(dir));
  for (auto it = created.rbegin(); it != created.rend(); ++it) {
    size_t slash = it->find_last_of('/');
    if (slash == std::string::npos) continue;
    TL_RETURN_IF_ERROR(SyncDir(slash == 0 ? "/" : it->substr(0, slash)));
  }
  TL_RETURN_IF_ERROR(DirLock::Acquire(dir, &lock_));

  // Leftovers of interrupted work, resolved as Kafka's LogLoader does: temp and
  // .deleted/.cleaned files go; a .swap file completes its swap.
  std::vector<std::string> names;
  TL_RETURN_IF_ERROR(ListDir(dir, &names));
  bool dir_changed = false;
  for (const std::string& n : names) {
    std::string path = dir + "/" + n;
    if (EndsWith(n, ".tmp") || EndsWith(n, ".deleted") || EndsWith(n, ".cleaned")) {
      TL_RETURN_IF_ERROR(RemoveFile(path));
      dir_changed = true;
    } else if (EndsWith(n, ".swap")) {
      std::string dst = path.substr(0, path.size() - 5);
      if (::rename(path.c_str(), dst.c_str()) != 0) return ErrnoStatus(errno, "rename", path);
      dir_changed = true;
    }
  }

  std::string marker = dir + "/" + kCleanShutdownFile;
  bool clean = FileExists(marker);
  int64_t rp = 0;
  bool rp_present = false;
  Status st = ReadOffsetCheckpoint(dir + "/" + kRecoveryPointFile, &rp, &rp_present);
  if (!st.ok()) {
    // A damaged checkpoint costs a longer scan after an unclean stop (from
    // offset 0, as Kafka without its checkpoint). After a clean close it is not
    // needed: everything was synced, and it is rewritten below.
    rp = 0;
    info->problems.push_back(st.message() + ": " + (clean ? "rewritten" : "every segment is scanned"));
  }
  int64_t lso = 0;
  bool lso_present = false;
  st = ReadOffsetCheckpoint(dir + "/" + kLogStartOffsetFile, &lso, &lso_present);
  if (!st.ok()) lso_present = false;
  if (clean) {
    // Delete the marker durably before writing anything: a stale marker would
    // make the next open trust a tail that this session may tear.
    TL_RETURN_IF_ERROR(RemoveFile(marker));
    dir_changed = true;
  }
  if (dir_changed) TL_RETURN_IF_ERROR(SyncDir(dir));

  info->clean = clean;
  info->recovery_point = rp;
  TL_RETURN_IF_ERROR(LoadSegments(clean, rp, info));
  if (segments_.empty()) {
    std::unique_ptr<Segment> s;
    TL_RETURN_IF_ERROR(Segment::Create(dir, lso_present ? lso : 0, options_.segment, &s));
    segments_.push_back(std::move(s));
    TL_RETURN_IF_ERROR(SyncDir(dir));
  }
  log_end_offset_ = segments_.back()->next_offset();
  log_start_offset_ = segments_.front()->base_offset();
  if (lso_present && lso > log_start_offset_) log_start_offset_ = std::min(lso, log_end_offset_);

  // Everything now in the files is made durable before JS sees the log, so
  // durable_offset starts at the end and the next open scans nothing.
  bool scanned = info->segments_recovered > 0;
  for (auto& s : segments_) {
    if (!clean && scanned) {
      TL_RETURN_IF_ERROR(s->log_file()->DataSync());
      if (s->sealed()) {
        TL_RETURN_IF_ERROR(s->offset_index().file()->DataSync());
        TL_RETURN_IF_ERROR(s->time_index().file()->DataSync());
      }
    }
    s->synced_size = s->size();
    s->indexes_synced = true;
  }
  if (!clean) TL_RETURN_IF_ERROR(SyncDir(dir));
  durable_offset_ = log_end_offset_;
  durable_segment_base_ = segments_.back()->base_offset();
  durable_segment_size_ = segments_.back()->size();
  recovery_point_ = log_end_offset_;
  if (!clean || rp != log_end_offset_) {
    Status cp = WriteRecoveryPoint(log_end_offset_);
    if (!cp.ok()) {
      // A checkpoint above the log end (left by a truncation) must be replaced
      // before anything is appended; a lower one only lengthens the scan after
      // a crash, so a full disk may keep it: the next sync tries again.
      if (cp.code() != Code::kDiskFull || rp > log_end_offset_) return cp;
      recovery_point_ = rp;
      roll_since_checkpoint_ = true;
    }
  }

  TL_RETURN_IF_ERROR(HeadFile::Open(dir, true, &head_));
  HeadState prev;
  if (head_->Read(&prev)) generation_ = prev.generation + 1;
  Publish();
  return Status::OK();
}

Status Log::LoadSegments(bool clean, int64_t recovery_point, RecoveryInfo* info) {
  const std::string& dir = options_.dir;
  std::vector<std::string> names;
  TL_RETURN_IF_ERROR(ListDir(dir, &names));
  std::vector<int64_t> bases;
  for (const std::string& n : names) {
    int64_t base;
    if (EndsWith(n, kLogSuffix) && ParseBaseOffset(n.substr(0, n.size() - 4), &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  // Index files whose log is gone are orphans.
  for (const std::string& n : names) {
    for (const char* suffix : {kIndexSuffix, kTimeIndexSuffix}) {
      std::string sfx = suffix;
      int64_t base;
      if (EndsWith(n, sfx) && ParseBaseOffset(n.substr(0, n.size() - sfx.size()), &base) &&
          !std::binary_search(bases.begin(), bases.end(), base)) {
        TL_RETURN_IF_ERROR(RemoveFile(dir + "/" + n));
      }
    }
  }

  info->segments = static_cast<int32_t>(bases.size());
  for (size_t i = 0; i < bases.size(); i++) {
    std::unique_ptr<Segment> s;
    TL_RETURN_IF_ERROR(Segment::Open(dir, bases[i], options_.segment, &s));
    bool below_rp = i + 1 < bases.size() && bases[i + 1] <= recovery_point;
    bool recovered = false;
    uint64_t truncated = 0;
    bool lost_tail = false;
    bool last = i + 1 == bases.size();
    int64_t limit = last ? std::numeric_limits<int64_t>::max() : bases[i + 1];
    if (clean || below_rp) {
      Status trusted = s->LoadTrusted(limit);
      if (!trusted.ok()) {
        // Indexes missing or inconsistent, or the log does not frame: rebuild the
        // indexes from the log. These bytes were synced: a bad batch here is
        // damage, not a torn write, so nothing is cut (but the unframed tail of
        // the last segment, which must end cleanly to be appended to) and no
        // later segment is deleted (docs/architecture.md, "Corruption on read").
        info->problems.push_back(trusted.message());
        std::string problem;
        TL_RETURN_IF_ERROR(s->RebuildDamaged(limit, last, &truncated, &problem));
        if (!problem.empty()) info->problems.push_back(problem);
        recovered = true;
      }
    } else {
      TL_RETURN_IF_ERROR(s->Recover(std::max(recovery_point, s->base_offset()), &truncated));
      recovered = true;
      if (truncated > 0) {
        info->problems.push_back(s->log_path() + ": the " + std::to_string(truncated) + " bytes from position " +
                                 std::to_string(s->size()) +
                                 " failed recovery's checks (a torn or unsynced write) and were cut off");
      }
      // A roll starts the next segment at this one's end (Append), so a scanned
      // segment that ends below the next one's base lost its unsynced tail in a
      // power loss, while the next file (or its name alone) reached the disk:
      // what follows is after a hole, as after a torn batch. Nothing durable is
      // dropped: the tail was lost, so no sync completed after this segment's
      // last append, and every later segment was created after it.
      if (!last && s->next_offset() < bases[i + 1] &&
          bases[i + 1] - s->base_offset() <= static_cast<int64_t>(std::numeric_limits<int32_t>::max()) + 1) {
        info->problems.push_back(s->log_path() + " ends at offset " + std::to_string(s->next_offset()) +
                                 ", below the next segment's base offset " + std::to_string(bases[i + 1]) +
                                 ": its unsynced tail was lost, so the later segments were dropped");
        lost_tail = true;
      }
    }
    if (recovered) {
      info->segments_recovered++;
      info->bytes_scanned += s->size() + truncated;
      info->bytes_truncated += truncated;
    }
    if (!segments_.empty() && s->base_offset() < segments_.back()->next_offset()) {
      return Status(Code::kCorrupt, "segment " + s->log_path() + " overlaps the segment before it");
    }
    if (recovered && !last) TL_RETURN_IF_ERROR(s->Seal());
    segments_.push_back(std::move(s));
    if ((truncated > 0 || lost_tail) && !last) {
      // Everything after a torn or corrupt batch, or a lost tail, is unreachable: drop the later segments.
      for (size_t j = i + 1; j < bases.size(); j++) {
        std::unique_ptr<Segment> later;
        TL_RETURN_IF_ERROR(Segment::Open(dir, bases[j], options_.segment, &later));
        info->bytes_truncated += later->size();
        TL_RETURN_IF_ERROR(later->Delete());
      }
      TL_RETURN_IF_ERROR(SyncDir(dir));
      break;
    }
  }
  if (!segments_.empty() && segments_.back()->sealed()) TL_RETURN_IF_ERROR(segments_.back()->Activate());
  return Status::OK();
}

Status Log::LoadForReader() {
  // A load that races the writer's truncation or roll may meet a segment it
  // listed and the writer deleted meanwhile: if the writer's generation moved
  // during the load, load again (bounded); else the failure is real.
  for (int attempt = 1;; attempt++) {
    HeadState before;
    bool published = head_->Read(&before);
    Status st = LoadForReaderOnce();
    if (st.ok() || !published || attempt == 16) return st;
    HeadState after;
    if (!head_->Read(&after) || after.generation == before.generation) return st;
  }
}

Status Log::LoadForReaderOnce() {
  HeadState head;
  if (!head_->Read(&head)) {
    return Status(Code::kIoError, "no writer has opened the log in " + options_.dir + " yet");
  }
  segments_.clear();
  std::vector<std::string> names;
  TL_RETURN_IF_ERROR(ListDir(options_.dir, &names));
  std::vector<int64_t> bases;
  for (const std::string& n : names) {
    int64_t base;
    if (EndsWith(n, kLogSuffix) && ParseBaseOffset(n.substr(0, n.size() - 4), &base) &&
        base <= head.active_base_offset && base >= 0) {
      bases.push_back(base);
    }
  }
  std::sort(bases.begin(), bases.end());
  for (int64_t base : bases) {
    std::unique_ptr<Segment> s;
    Status st = Segment::Open(options_.dir, base, options_.segment, &s);
    if (!st.ok()) {
      if (base < head.log_start_offset) continue;  // deleted by the writer meanwhile
      return st;
    }
    if (base == head.active_base_offset) {
      TL_RETURN_IF_ERROR(s->AdoptPublished(head.active_size, head.log_end_offset, head.offset_index_entries,
                                           head.time_index_entries));
    } else if (!s->LoadTrusted().ok()) {
      // In memory only; damage is reported by reads, as in the writer.
      uint64_t truncated;
      std::string problem;
      TL_RETURN_IF_ERROR(s->RebuildDamaged(std::numeric_limits<int64_t>::max(), false, &truncated, &problem));
    }
    segments_.push_back(std::move(s));
  }
  if (segments_.empty()) return Status(Code::kIoError, "no segments in " + options_.dir);
  log_start_offset_ = std::max(head.log_start_offset, segments_.front()->base_offset());
  log_end_offset_ = head.log_end_offset;
  durable_offset_ = head.durable_offset;
  generation_ = head.generation;
  return Status::OK();
}

bool Log::ViewCurrent() const {
  if (!options_.read_only || !head_) return true;
  HeadState head;
  if (!head_->Read(&head)) return true;
  return head.generation == generation_;
}

Status Log::Refresh() {
  if (!options_.read_only) return Status::OK();
  if (closed_) return Status(Code::kClosed, "log " + options_.dir + " is closed");
  HeadState head;
  if (!head_->Read(&head)) return Status::OK();
  if (head.generation != generation_ || segments_.empty() ||
      segments_.back()->base_offset() != head.active_base_offset) {
    return LoadForReader();
  }
  if (head.log_end_offset != log_end_offset_) {
    TL_RETURN_IF_ERROR(segments_.back()->AdoptPublished(head.active_size, head.log_end_offset,
                                                        head.offset_index_entries, head.time_index_entries));
  }
  log_end_offset_ = head.log_end_offset;
  durable_offset_ = head.durable_offset;
  log_start_offset_ = std::max(head.log_start_offset, segments_.front()->base_offset());
  return Status::OK();
}

void Log::Publish() {
  if (!head_ || options_.read_only) return;
  const Segment& a = *segments_.back();
  HeadState s;
  s.log_start_offset = log_start_offset_;
  s.log_end_offset = log_end_offset_;
  s.durable_offset = durable_offset_;
  s.active_base_offset = a.base_offset();
  s.active_size = a.size();
  s.offset_index_entries = a.offset_index().entries();
  s.time_index_entries = a.time_index().entries();
  s.generation = generation_;
  s.durable_segment_base = durable_segment_base_;
  s.durable_segment_size = durable_segment_size_;
  head_->Publish(s);
}

Status Log::WriteRecoveryPoint(int64_t offset) {
  return WriteFileAtomic(options_.dir, kRecoveryPointFile, OffsetCheckpointText(offset));
}

Segment* Log::SegmentFor(int64_t offset) const {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                             [](int64_t o, const std::unique_ptr<Segment>& s) { return o < s->base_offset(); });
  if (it == segments_.begin()) return nullptr;
  return (it - 1)->get();
}

Status Log::Roll(int64_t base_offset) {
  Segment* old = segments_.back().get();
  TL_RETURN_IF_ERROR(old->Seal());
  std::unique_ptr<Segment> s;
  Status st = Segment::Create(options_.dir, base_offset, options_.segment, &s);
  if (!st.ok()) {
    s.reset();
    RemoveFile(SegmentFileName(options_.dir, base_offset, kLogSuffix));
    RemoveFile(SegmentFileName(options_.dir, base_offset, kIndexSuffix));
    RemoveFile(SegmentFileName(options_.dir, base_offset, kTimeIndexSuffix));
    old->Activate();  // stay on the old segment; the append fails with st
    return st;
  }
  segments_.push_back(std::move(s));
  dir_changes_++;
  roll_since_checkpoint_ = true;
  generation_++;
  return Status::OK();
}

Status Log::Append(const uint8_t* data, size_t length, int flags, AppendResult* result) {
  if (closed_) return Status(Code::kClosed, "log " + options_.dir + " is closed");
  if (options_.read_only) return Status(Code::kReadOnly, "log " + options_.dir + " was opened read-only");
  if (length == 0) return Status(Code::kInvalidBatch, "nothing to append: the buffer is empty");

  // 1. Check every batch before writing anything: the append is all or nothing.
  const bool assign = flags & kAssignOffsets;
  const bool append_time = flags & kLogAppendTime;
  const int64_t now = append_time ? NowMs() : -1;
  placed_.clear();
  size_t pos = 0;
  int64_t next = log_end_offset_;
  int64_t max_ts = kNoTimestamp;
  while (pos < length) {
    PlacedBatch b;
    BatchCheck c = CheckBatch(data + pos, length - pos, flags & kVerifyCrc, 0, &b.header);
    // Built only for an error: a log's group write passes dozens of batches per call.
    auto where = [&] { return "batch " + std::to_string(placed_.size()) + " at byte " + std::to_string(pos); };
    if (c != BatchCheck::kOk) return Status(Code::kInvalidBatch, where() + ": " + BatchCheckName(c));
    BatchHeader& h = b.header;
    if (h.total_size() > options_.max_message_bytes) {
      return Status(Code::kBatchTooLarge, where() + " is " + std::to_string(h.total_size()) +
                                              " bytes, more than maxMessageBytes (" +
                                              std::to_string(options_.max_message_bytes) + ")");
    }
    if (h.records_count == 0) return Status(Code::kInvalidBatch, where() + " holds no records");
    if ((flags & kValidateRecords) && h.compression() == kCompressionNone) {
      TL_RETURN_IF_ERROR(CheckRecords(data + pos, h, assign));
    }
    if (assign) {
      if (h.last_offset_delta != h.records_count - 1) {
        return Status(Code::kInvalidBatch, where() + ": lastOffsetDelta " + std::to_string(h.last_offset_delta) +
                                               " does not match its " + std::to_string(h.records_count) + " records");
      }
      h.base_offset = next;
    } else if (h.base_offset < next) {
      return Status(Code::kInvalidBatch, where() + ": offsets out of order: base offset " +
                                             std::to_string(h.base_offset) + " is below the log end offset " +
                                             std::to_string(next));
    }
    if (append_time) {
      // Kafka's LogValidator (DefaultRecordBatch.setMaxTimestamp): only the
      // timestamp-type bit and maxTimestamp change; baseTimestamp and the
      // records' deltas are kept, and readers give every record maxTimestamp.
      h.max_timestamp = now;
      h.attributes = static_cast<int16_t>(h.attributes | kTimestampTypeMask);
    }
    max_ts = std::max(max_ts, h.max_timestamp);
    next = h.next_offset();
    b.position = pos;  // within `data` for now
    placed_.push_back(b);
    pos += h.total_size();
  }

  // 2. Roll first if the batches do not belong in the active segment.
  Segment* active = segments_.back().get();
  if (active->ShouldRoll(length, placed_.size(), max_ts, next - 1, options_.segment_ms)) {
    // The new segment starts at the log end, even when the first batch (a
    // follower's, offsets kept) starts later: segments are contiguous, which is
    // how recovery tells a segment that lost its unsynced tail (LoadSegments).
    // Only a jump too large for 32-bit relative offsets names it by the batch.
    int64_t base = log_end_offset_;
    if (next - 1 - base > std::numeric_limits<int32_t>::max()) base = placed_.front().header.base_offset;
    TL_RETURN_IF_ERROR(Roll(base));
    active = segments_.back().get();
  }

  // 3. Patched copies of the headers + the caller's record bytes, in one pwritev.
  //    The caller's buffer is never modified.
  headers_.resize(placed_.size() * kHeaderSize);
  iov_.clear();
  uint64_t at = active->size();
  for (size_t i = 0; i < placed_.size(); i++) {
    PlacedBatch& b = placed_[i];
    const uint8_t* src = data + b.position;
    uint8_t* hdr = &headers_[i * kHeaderSize];
    std::memcpy(hdr, src, kHeaderSize);
    StoreI64(hdr + kBaseOffsetOffset, b.header.base_offset);
    if (append_time) {
      StoreU16(hdr + kAttributesOffset, static_cast<uint16_t>(b.header.attributes));
      StoreI64(hdr + kMaxTimestampOffset, now);
    }
    size_t total = b.header.total_size();
    if ((flags & kComputeCrc) || append_time) {
      uint32_t crc = crc32c::Extend(0, hdr + kAttributesOffset, kHeaderSize - kAttributesOffset);
      crc = crc32c::Extend(crc, src + kHeaderSize, total - kHeaderSize);
      StoreU32(hdr + kCrcOffset, crc);
      b.header.crc = crc;
    }
    iov_.push_back({hdr, kHeaderSize});
    if (total > kHeaderSize) iov_.push_back({const_cast<uint8_t*>(src + kHeaderSize), total - kHeaderSize});
    b.position = at;
    at += total;
  }
  TL_RETURN_IF_ERROR(active->Append(iov_, placed_, length));
  // Their CRCs were computed or checked above: reads need not check them again.
  if ((flags & (kComputeCrc | kVerifyCrc)) || append_time) active->MarkVerified(placed_.front().position, at);

  result->base_offset = placed_.front().header.base_offset;
  result->last_offset = next - 1;
  result->append_time = now;
  result->batches = static_cast<int32_t>(placed_.size());
  log_end_offset_ = next;
  appended_bytes_ += length;
  Publish();
  return Status::OK();
}

Status Log::Read(int64_t offset, size_t max_bytes, int64_t upper, ReadResult* result) {
  if (closed_) return Status(Code::kClosed, "log " + options_.dir + " is closed");
  *result = ReadResult();
  result->next_offset = offset;
  if (offset < log_start_offset_ || offset > log_end_offset_) {
    return Status(Code::kOffsetOutOfRange, "offset " + std::to_string(offset) + " is outside the log [" +
                                               std::to_string(log_start_offset_) + ", " +
                                               std::to_string(log_end_offset_) + "]");
  }
  upper = std::min(upper, log_end_offset_);
  if (offset >= upper) return Status::OK();
  Segment* seg = SegmentFor(offset);
  size_t idx = 0;
  while (idx < segments_.size() && segments_[idx].get() != seg) idx++;
  for (; idx < segments_.size(); idx++) {
    Segment* s = segments_[idx].get();
    PlacedBatch b;
    bool found;
    TL_RETURN_IF_ERROR(s->FindBatch(offset, &b, &found));
    if (!found) continue;  // offset falls in a gap after this segment's batches
    if (b.header.last_offset() >= upper) return Status::OK();
    // FindBatch returns only a batch whose CRC matched (it fails otherwise); a
    // later one that fails ends the read before it: the next read, which starts
    // at that batch, fails. Nothing a CRC can catch is returned.
    const uint8_t* data = s->data();
    uint64_t start = b.position;
    uint64_t end = start + b.header.total_size();
    uint64_t prev = start;       // the last batch included
    bool prev_confirmed = true;  // its base offset follows the batch before it (FindBatch vouches for the first)
    int64_t next = b.header.next_offset();
    while (end < s->size()) {
      PlacedBatch n;
      n.position = end;
      if (CheckBatch(data + end, s->size() - end, false, 0, &n.header) != BatchCheck::kOk) break;
      if (n.header.base_offset < next) {
        // One of two base offsets (outside the CRC) is damaged: the batch
        // before goes too unless it follows its own predecessor without a gap.
        if (!prev_confirmed) {
          int64_t prev_base = LoadI64(data + prev + kBaseOffsetOffset);
          end = prev;
          next = prev_base;
        }
        break;
      }
      if (end - start + n.header.total_size() > max_bytes || n.header.last_offset() >= upper) break;
      if (!s->VerifyBatch(n).ok()) break;
      prev_confirmed = n.header.base_offset == next;
      prev = end;
      end += n.header.total_size();
      next = n.header.next_offset();
    }
    result->mapping = s->mapping();
    result->data = data + start;
    result->length = end - start;
    result->next_offset = next;
    return Status::OK();
  }
  return Status::OK();
}

Status Log::ReadBatchAt(int64_t offset, PlacedBatch* batch, ReadResult* result) {
  if (closed_) return Status(Code::kClosed, "log " + options_.dir + " is closed");
  *result = ReadResult();
  if (offset < log_start_offset_ || offset >= log_end_offset_) return Status::OK();
  Segment* s = SegmentFor(offset);
  if (s == nullptr) return Status::OK();
  bool found;
  TL_RETURN_IF_ERROR(s->FindBatch(offset, batch, &found));
  if (!found || batch->header.base_offset > offset) return Status::OK();  // found: its CRC matched
  result->mapping = s->mapping();
  result->data = s->data() + batch->position;
  result->length = batch->header.total_size();
  result->next_offset = batch->header.next_offset();
  return Status::OK();
}

Status Log::FindRecord(const PlacedBatch& b, int64_t offset, RecordRef* out, bool* found) {
  *found = false;
  Segment* s = SegmentFor(offset);
  if (s == nullptr) return Status::OK();
  RecordScan r = s->FindRecord(b, offset, out);
  if (r == RecordScan::kMalformed) {
    return s->Corruption(b.position, b.header.base_offset,
                         "the records of the batch of offsets " + std::to_string(b.header.base_offset) + ".." +
                             std::to_string(b.header.last_offset()) + " are malformed (its CRC matches)");
  }
  *found = r == RecordScan::kFound;
  return Status::OK();
}

Status Log::FindTimestampBatch(int64_t ts, Segment** seg, PlacedBatch* batch, bool* found) {
  if (closed_) return Status(Code::kClosed, "log " + options_.dir + " is closed");
  *found = false;
  for (auto& s : segments_) {
    // A damaged segment may have lost later timestamps than its readable batches show.
    if ((s->max_timestamp() < ts && !s->timestamps_incomplete()) || s->next_offset() <= log_start_offset_) continue;
    bool hit;
    TL_RETURN_IF_ERROR(s->FindBatchByTimestamp(ts, batch, &hit));
    if (!hit) continue;
    if (batch->header.last_offset() < log_start_offset_) continue;  // found: its CRC matched
    *found = true;
    *seg = s.get();
    return Status::OK();
  }
  return Status::OK();
}

Status Log::FindBatchByTimestamp(int64_t ts, bool* found, ReadResult* result, BatchHeader* header) {
  *result = ReadResult();
  Segment* s = nullptr;
  PlacedBatch b;
  TL_RETURN_IF_ERROR(FindTimestampBatch(ts, &s, &b, found));
  if (!*found) return Status::OK();
  *header = b.header;
  result->mapping = s->mapping();
  result->data = s->data() + b.position;
  result->length = b.header.total_size();
  result->next_offset = b.header.next_offset();
  return Status::OK();
}

Status Log::OffsetForTimestamp(int64_t ts, TimestampLookup* what, int64_t* offset) {
  *what = TimestampLookup::kNone;
  Segment* s = nullptr;
  PlacedBatch b;
  bool found;
  TL_RETURN_IF_ERROR(FindTimestampBatch(ts, &s, &b, &found));
  if (!found) return Status::OK();
  if (b.header.compression() != kCompressionNone) {
    *what = TimestampLookup::kCompressed;
    return Status::OK();
  }
  RecordRef rec;
  RecordScan scan = s->FindRecordByTimestamp(b, ts, &rec);
  if (scan == RecordScan::kMalformed) {
    return s->Corruption(b.position, b.header.base_offset,
                         "the records of the batch of offsets " + std::to_string(b.header.base_offset) + ".." +
                             std::to_string(b.header.last_offset()) + " are malformed (its CRC matches)");
  }
  if (scan != RecordScan::kFound) return Status::OK();
  *what = TimestampLookup::kFound;
  *offset = std::max(rec.offset, log_start_offset_);
  return Status::OK();
}

std::unique_ptr<SyncJob> Log::PrepareSync(bool force_checkpoint) {
  std::unique_ptr<SyncJob> job(new SyncJob());
  job->dir = options_.dir;
  job->target_offset = log_end_offset_;
  job->target_segment_base = segments_.back()->base_offset();
  job->target_segment_size = segments_.back()->size();
  for (auto& s : segments_) {
    if (s->tail_trimmed) {
      job->trimmed_files.push_back(s->log_file());
      job->trimmed.push_back(s->base_offset());
      job->segment_sizes.emplace_back(s->base_offset(), s->size());
    } else if (s->synced_size < s->size()) {
      job->files.push_back(s->log_file());
      job->segment_sizes.emplace_back(s->base_offset(), s->size());
    }
    if (s->sealed() && !s->indexes_synced) {
      job->files.push_back(s->offset_index().file());
      job->files.push_back(s->time_index().file());
      job->sealed_indexes.push_back(s->base_offset());
    }
  }
  job->dir_changes = dir_changes_;
  job->sync_dir = dir_changes_ != synced_dir_changes_;
  job->appended_bytes = appended_bytes_;
  job->write_checkpoint = force_checkpoint || roll_since_checkpoint_ ||
                          appended_bytes_ - checkpointed_bytes_ >= options_.checkpoint_interval_bytes;
  job->checkpoint_required = force_checkpoint;
  if (job->files.empty() && job->trimmed_files.empty() && !job->sync_dir && !job->write_checkpoint) return nullptr;
  // Only with the active segment's fdatasync in the job (see Run), and only
  // for small syncs: a sync of more than a chunk of appended bytes (bulk
  // appends, a flush after many 'written' ones) gains little from it and
  // would write the zeros as well.
  Segment* active = segments_.back().get();
  if (active->synced_size < active->size() && active->size() - active->synced_size <= kZeroTailChunk &&
      !active->tail_trimmed && active->WantsZeroTail(&job->zero_tail_target)) {
    job->zero_tail_file = active->log_file();
    job->zero_tail = active->zero_tail();
  }
  job->held_tail = active->zero_tail();
  job->held_tail->Hold();
  return job;
}

void Log::CompleteSync(const SyncJob& job) {
  for (const auto& p : job.segment_sizes) {
    Segment* s = SegmentFor(p.first);
    if (s && s->base_offset() == p.first) s->synced_size = std::max(s->synced_size, std::min(p.second, s->size()));
  }
  for (int64_t base : job.sealed_indexes) {
    Segment* s = SegmentFor(base);
    if (s && s->base_offset() == base && s->sealed()) s->indexes_synced = true;
  }
  for (int64_t base : job.trimmed) {
    Segment* s = SegmentFor(base);
    if (s && s->base_offset() == base) s->tail_trimmed = false;
  }
  synced_dir_changes_ = std::max(synced_dir_changes_, job.dir_changes);
  synced_bytes_ = std::max(synced_bytes_, job.appended_bytes);
  int64_t target = std::min(job.target_offset, log_end_offset_);
  if (target == job.target_offset && target >= durable_offset_) {
    durable_segment_base_ = job.target_segment_base;
    durable_segment_size_ = job.target_segment_size;
  }
  durable_offset_ = std::max(durable_offset_, target);
  if (job.checkpoint_written) {
    recovery_point_ = std::max(recovery_point_, target);
    checkpointed_bytes_ = job.appended_bytes;
    roll_since_checkpoint_ = false;
  }
  Publish();
}

Status Log::TruncateTo(int64_t offset) {
  if (closed_) return Status(Code::kClosed, "log " + options_.dir + " is closed");
  if (options_.read_only) return Status(Code::kReadOnly, "log " + options_.dir + " was opened read-only");
  if (offset >= log_end_offset_) return Status::OK();
  if (offset < log_start_offset_) {
    return Status(Code::kOffsetOutOfRange, "cannot truncate to " + std::to_string(offset) +
                                               ": below the log start offset " + std::to_string(log_start_offset_));
  }
  // Readers (other threads and processes) must notice a truncation that
  // overlaps a read: a new generation before anything is removed, another once
  // it is done (a sequence lock around the cut; see Log::ViewCurrent).
  generation_++;
  Publish();
  while (segments_.size() > 1 && segments_.back()->base_offset() >= offset) {
    TL_RETURN_IF_ERROR(segments_.back()->Delete());
    segments_.pop_back();
    dir_changes_++;
  }
  Segment* last = segments_.back().get();
  uint64_t size_before = last->size();
  TL_RETURN_IF_ERROR(last->TruncateTo(offset));
  // The cut is a new file size, durable only once the file is fdatasync'ed:
  // make the sync that truncateTo runs next include it (else a power loss can
  // bring the removed batches back under the new checkpoint).
  if (last->size() < size_before) last->synced_size = 0;
  if (last->sealed()) TL_RETURN_IF_ERROR(last->Activate());
  last->indexes_synced = false;
  log_end_offset_ = last->next_offset();
  durable_offset_ = std::min(durable_offset_, log_end_offset_);
  if (durable_segment_base_ > last->base_offset()) {
    // The segment that held the durable end is gone: everything left was synced.
    durable_segment_base_ = last->base_offset();
    durable_segment_size_ = last->size();
  } else if (durable_segment_base_ == last->base_offset()) {
    durable_segment_size_ = std::min(durable_segment_size_, last->size());
  }
  recovery_point_ = std::min(recovery_point_, log_end_offset_);
  roll_since_checkpoint_ = true;  // the next sync must rewrite the checkpoint
  generation_++;
  Publish();
  return Status::OK();
}

Status Log::Close() {
  if (closed_) return Status::OK();
  closed_ = true;
  Status st = options_.read_only ? Status::OK() : SyncForClose();
  // Whatever failed, let go of the files and the lock, so that the log can be
  // opened again (it then recovers, as after a crash, if no clean marker was written).
  segments_.clear();
  head_.reset();
  lock_.reset();
  DrainBackground();
  return st;
}

Status Log::SyncForClose() {
  Segment* active = segments_.back().get();
  TL_RETURN_IF_ERROR(active->Seal());
  for (auto& s : segments_) {
    if (s->tail_trimmed) {
      TL_RETURN_IF_ERROR(s->log_file()->Sync());  // the size shrank: fsync
      s->tail_trimmed = false;
    } else if (s->synced_size < s->size()) {
      TL_RETURN_IF_ERROR(s->log_file()->DataSync());
    }
    if (!s->indexes_synced) {
      TL_RETURN_IF_ERROR(s->offset_index().file()->DataSync());
      TL_RETURN_IF_ERROR(s->time_index().file()->DataSync());
    }
  }
  TL_RETURN_IF_ERROR(SyncDir(options_.dir));
  durable_offset_ = log_end_offset_;
  durable_segment_base_ = active->base_offset();
  durable_segment_size_ = active->size();
  Publish();
  // Everything is synced. The checkpoint is only a scan bound, and the clean
  // marker makes the next open trust every segment anyway (and rewrite the
  // checkpoint): a full disk that refuses the checkpoint does not fail close.
  Status st = WriteRecoveryPoint(log_end_offset_);
  if (!st.ok() && st.code() != Code::kDiskFull) return st;
  return WriteFileAtomic(options_.dir, kCleanShutdownFile, "");
}

std::vector<SegmentInfo> Log::Segments() const {
  std::vector<SegmentInfo> out;
  for (size_t i = 0; i < segments_.size(); i++) {
    const Segment& s = *segments_[i];
    out.push_back({s.base_offset(), s.next_offset(), s.size(), s.max_timestamp(), i + 1 == segments_.size()});
  }
  return out;
}

}  // namespace tidelog
