#include "core/segment.h"

#include <fcntl.h>

#include <algorithm>
#include <cstdio>

#include "core/endian.h"

namespace tidelog {

using namespace format;

std::string SegmentFileName(const std::string& dir, int64_t base_offset, const char* suffix) {
  char name[32];
  std::snprintf(name, sizeof(name), "%020lld", static_cast<long long>(base_offset));
  return dir + "/" + name + suffix;
}

namespace {

constexpr uint64_t kMapSlack = 1u << 20;

uint64_t RoundUp(uint64_t n, uint64_t to) { return (n + to - 1) / to * to; }

}  // namespace

Status Segment::Create(const std::string& dir, int64_t base_offset, const SegmentConfig& cfg,
                       std::unique_ptr<Segment>* out) {
  std::unique_ptr<Segment> s(new Segment());
  s->dir_ = dir;
  s->cfg_ = cfg;
  s->base_offset_ = base_offset;
  s->next_offset_ = base_offset;
  TL_RETURN_IF_ERROR(File::Open(SegmentFileName(dir, base_offset, kLogSuffix), O_RDWR | O_CREAT | O_TRUNC, &s->log_));
  TL_RETURN_IF_ERROR(IndexFile::Open(SegmentFileName(dir, base_offset, kIndexSuffix), kOffsetIndexEntrySize, true,
                                     &s->offset_index_));
  TL_RETURN_IF_ERROR(IndexFile::Open(SegmentFileName(dir, base_offset, kTimeIndexSuffix), kTimeIndexEntrySize, true,
                                     &s->time_index_));
  TL_RETURN_IF_ERROR(s->offset_index_->Reset(cfg.max_index_bytes));
  TL_RETURN_IF_ERROR(s->time_index_->Reset(cfg.max_index_bytes));
  TL_RETURN_IF_ERROR(s->EnsureMapped(0));
  *out = std::move(s);
  return Status::OK();
}

Status Segment::Open(const std::string& dir, int64_t base_offset, const SegmentConfig& cfg,
                     std::unique_ptr<Segment>* out) {
  std::unique_ptr<Segment> s(new Segment());
  s->dir_ = dir;
  s->cfg_ = cfg;
  s->base_offset_ = base_offset;
  s->next_offset_ = base_offset;
  TL_RETURN_IF_ERROR(File::Open(SegmentFileName(dir, base_offset, kLogSuffix), cfg.writable ? O_RDWR : O_RDONLY, &s->log_));
  for (int i = 0; i < 2; i++) {
    std::string path = SegmentFileName(dir, base_offset, i == 0 ? kIndexSuffix : kTimeIndexSuffix);
    bool existed = FileExists(path);
    if (!existed) s->index_missing_ = true;
    if (!existed && !cfg.writable) continue;
    std::unique_ptr<IndexFile>& idx = i == 0 ? s->offset_index_ : s->time_index_;
    TL_RETURN_IF_ERROR(IndexFile::Open(path, i == 0 ? kOffsetIndexEntrySize : kTimeIndexEntrySize, cfg.writable, &idx));
  }
  uint64_t size;
  TL_RETURN_IF_ERROR(s->log_->Size(&size));
  TL_RETURN_IF_ERROR(s->EnsureMapped(size));
  s->sealed_ = true;
  *out = std::move(s);
  return Status::OK();
}

Status Segment::EnsureMapped(uint64_t size) {
  if (map_ && map_->length() >= size) return Status::OK();
  uint64_t len = size;
  if (cfg_.writable) len = std::max<uint64_t>(size + kMapSlack, cfg_.segment_bytes + kMapSlack);
  len = RoundUp(std::max<uint64_t>(len, 1), PageSize());
  std::shared_ptr<Mapping> m;
  TL_RETURN_IF_ERROR(Mapping::Map(log_->fd(), static_cast<size_t>(len), log_->path(), &m));
  map_ = std::move(m);
  return Status::OK();
}

void Segment::ResetState() {
  size_ = 0;
  next_offset_ = base_offset_;
  max_timestamp_ = kNoTimestamp;
  offset_of_max_timestamp_ = -1;
  rolling_timestamp_ = kNoTimestamp;
  last_time_entry_ts_ = std::numeric_limits<int64_t>::min();
  bytes_since_last_entry_ = 0;
}

void Segment::Track(const PlacedBatch& b, std::vector<uint8_t>* off, std::vector<uint8_t>* time) {
  const BatchHeader& h = b.header;
  if (b.position == 0) rolling_timestamp_ = h.max_timestamp;
  if (h.max_timestamp > max_timestamp_) {
    max_timestamp_ = h.max_timestamp;
    offset_of_max_timestamp_ = h.last_offset();
  }
  if (bytes_since_last_entry_ > cfg_.index_interval_bytes) {
    uint8_t e[kTimeIndexEntrySize];
    StoreI32(e, static_cast<int32_t>(h.last_offset() - base_offset_));
    StoreU32(e + 4, static_cast<uint32_t>(b.position));
    off->insert(off->end(), e, e + kOffsetIndexEntrySize);
    if (max_timestamp_ > last_time_entry_ts_) {
      StoreI64(e, max_timestamp_);
      StoreI32(e + 8, static_cast<int32_t>(offset_of_max_timestamp_ - base_offset_));
      time->insert(time->end(), e, e + kTimeIndexEntrySize);
      last_time_entry_ts_ = max_timestamp_;
    }
    bytes_since_last_entry_ = 0;
  }
  bytes_since_last_entry_ += h.total_size();
}

Status Segment::FlushEntries(std::vector<uint8_t>& off, std::vector<uint8_t>& time) {
  if (!off.empty() && offset_index_) {
    size_t n = std::min(off.size() / kOffsetIndexEntrySize, offset_index_->capacity() - offset_index_->entries());
    TL_RETURN_IF_ERROR(offset_index_->Append(off.data(), n));
  }
  if (!time.empty() && time_index_) {
    size_t n = std::min(time.size() / kTimeIndexEntrySize, time_index_->capacity() - time_index_->entries());
    TL_RETURN_IF_ERROR(time_index_->Append(time.data(), n));
  }
  off.clear();
  time.clear();
  return Status::OK();
}

Status Segment::Append(std::vector<struct iovec>& iov, const std::vector<PlacedBatch>& batches, uint64_t total) {
  TL_RETURN_IF_ERROR(EnsureMapped(size_ + total));
  Status st = log_->PWriteVAll(iov, size_);
  if (!st.ok()) {
    log_->Truncate(size_);  // best effort: leave no partial batch behind
    return st;
  }
  std::vector<uint8_t> off, time;
  for (const PlacedBatch& b : batches) Track(b, &off, &time);
  size_ += total;
  next_offset_ = batches.back().header.next_offset();
  return FlushEntries(off, time);
}

Status Segment::RebuildTo(uint64_t end, int64_t crc_from_offset, bool write_index, uint64_t* valid_end) {
  ResetState();
  if (write_index) {
    TL_RETURN_IF_ERROR(offset_index_->Reset(cfg_.max_index_bytes));
    TL_RETURN_IF_ERROR(time_index_->Reset(cfg_.max_index_bytes));
  }
  TL_RETURN_IF_ERROR(EnsureMapped(end));
  const uint8_t* data = map_->data();
  uint64_t pos = 0;
  int64_t expected = base_offset_;
  std::vector<uint8_t> off, time;
  while (pos < end) {
    PlacedBatch b;
    b.position = pos;
    if (CheckBatch(data + pos, end - pos, false, 0, &b.header) != BatchCheck::kOk) break;
    const BatchHeader& h = b.header;
    if (h.base_offset < expected) break;
    if (h.last_offset() - base_offset_ > std::numeric_limits<int32_t>::max()) break;
    if (pos + h.total_size() > std::numeric_limits<int32_t>::max()) break;
    if (h.last_offset() >= crc_from_offset && ComputeBatchCrc(data + pos, h.total_size()) != h.crc) break;
    Track(b, &off, &time);
    if (!write_index) {
      off.clear();
      time.clear();
    } else if (off.size() >= 4096 * kOffsetIndexEntrySize) {
      TL_RETURN_IF_ERROR(FlushEntries(off, time));
    }
    expected = h.next_offset();
    pos += h.total_size();
  }
  size_ = pos;
  next_offset_ = expected;
  if (write_index) {
    TL_RETURN_IF_ERROR(FlushEntries(off, time));
  } else {
    index_usable_ = false;
  }
  *valid_end = pos;
  return Status::OK();
}

Status Segment::Recover(int64_t crc_from_offset, uint64_t* truncated_bytes) {
  uint64_t file_size;
  TL_RETURN_IF_ERROR(log_->Size(&file_size));
  uint64_t valid;
  TL_RETURN_IF_ERROR(RebuildTo(file_size, crc_from_offset, cfg_.writable, &valid));
  *truncated_bytes = file_size - valid;
  if (valid < file_size && cfg_.writable) TL_RETURN_IF_ERROR(log_->Truncate(valid));
  index_missing_ = false;
  index_usable_ = cfg_.writable;
  sealed_ = false;
  return Status::OK();
}

Status Segment::LoadTrusted() {
  auto corrupt = [this](const std::string& why) {
    return Status(Code::kCorrupt, "index of segment " + log_->path() + " cannot be trusted: " + why);
  };
  if (index_missing_ || !offset_index_ || !time_index_) return corrupt("index file missing");
  uint64_t file_size, off_bytes, time_bytes;
  TL_RETURN_IF_ERROR(log_->Size(&file_size));
  TL_RETURN_IF_ERROR(offset_index_->file()->Size(&off_bytes));
  TL_RETURN_IF_ERROR(time_index_->file()->Size(&time_bytes));
  if (off_bytes % kOffsetIndexEntrySize != 0) return corrupt("offset index size is not a multiple of 8");
  if (time_bytes % kTimeIndexEntrySize != 0) return corrupt("time index size is not a multiple of 12");
  size_t n_off = static_cast<size_t>(off_bytes / kOffsetIndexEntrySize);
  size_t n_time = static_cast<size_t>(time_bytes / kTimeIndexEntrySize);
  int64_t prev_rel = -1;
  int64_t prev_pos = 0;
  for (size_t i = 0; i < n_off; i++) {
    const uint8_t* e = offset_index_->entry(i);
    int64_t rel = LoadI32(e);
    int64_t pos = LoadU32(e + 4);
    if (rel <= prev_rel || pos <= prev_pos || static_cast<uint64_t>(pos) >= file_size) {
      return corrupt("offset index entry " + std::to_string(i) + " is out of order or out of range");
    }
    prev_rel = rel;
    prev_pos = pos;
  }
  int64_t prev_ts = std::numeric_limits<int64_t>::min();
  int64_t prev_trel = -1;
  for (size_t i = 0; i < n_time; i++) {
    const uint8_t* e = time_index_->entry(i);
    int64_t ts = LoadI64(e);
    int64_t rel = LoadI32(e + 8);
    if (ts <= prev_ts || rel < prev_trel || rel < 0) {
      return corrupt("time index entry " + std::to_string(i) + " is out of order");
    }
    prev_ts = ts;
    prev_trel = rel;
  }
  offset_index_->SetEntries(n_off);
  time_index_->SetEntries(n_time);
  ResetState();
  TL_RETURN_IF_ERROR(EnsureMapped(file_size));
  const uint8_t* data = map_->data();
  uint64_t pos = n_off > 0 ? static_cast<uint64_t>(prev_pos) : 0;
  int64_t expected = base_offset_;
  bool first = true;
  while (pos < file_size) {
    BatchHeader h;
    if (CheckBatch(data + pos, file_size - pos, false, 0, &h) != BatchCheck::kOk || h.base_offset < expected) {
      return corrupt("invalid batch at position " + std::to_string(pos) + " of the log");
    }
    if (first && n_off > 0 && h.last_offset() != base_offset_ + prev_rel) {
      return corrupt("last offset index entry does not point at its batch");
    }
    first = false;
    if (h.max_timestamp > max_timestamp_) {
      max_timestamp_ = h.max_timestamp;
      offset_of_max_timestamp_ = h.last_offset();
    }
    expected = h.next_offset();
    pos += h.total_size();
  }
  next_offset_ = expected;
  if (n_time > 0) {
    const uint8_t* e = time_index_->entry(n_time - 1);
    last_time_entry_ts_ = LoadI64(e);
    if (base_offset_ + LoadI32(e + 8) >= next_offset_ && file_size > 0) {
      return corrupt("time index points past the end of the log");
    }
    // Seal() ends the time index with the segment's largest timestamp, so a
    // smaller last entry is not the index that was sealed: e.g. a zero-filled
    // file of one entry, which passes every ordering check above.
    if (last_time_entry_ts_ < max_timestamp_) {
      return corrupt("the last time index entry is older than a batch of the log");
    }
    max_timestamp_ = last_time_entry_ts_;
    offset_of_max_timestamp_ = base_offset_ + LoadI32(e + 8);
  }
  if (n_time == 0 && max_timestamp_ != kNoTimestamp) {
    return corrupt("time index is empty but the log has timestamps");
  }
  if (file_size > 0) {
    BatchHeader h0;
    ParseHeader(data, &h0);
    rolling_timestamp_ = h0.max_timestamp;
  }
  size_ = file_size;
  bytes_since_last_entry_ = file_size - (n_off > 0 ? static_cast<uint64_t>(prev_pos) : 0);
  index_usable_ = true;
  sealed_ = true;
  return Status::OK();
}

Status Segment::AdoptPublished(uint64_t size, int64_t next_offset, size_t offset_entries, size_t time_entries) {
  TL_RETURN_IF_ERROR(EnsureMapped(size));
  size_ = size;
  next_offset_ = next_offset;
  max_timestamp_ = std::numeric_limits<int64_t>::max();  // unknown: any timestamp may be in here
  if (offset_index_ && time_index_ && !index_missing_) {
    offset_index_->SetEntries(std::min(offset_entries, offset_index_->capacity()));
    time_index_->SetEntries(std::min(time_entries, time_index_->capacity()));
    index_usable_ = true;
  } else {
    index_usable_ = false;
  }
  sealed_ = false;
  return Status::OK();
}

uint64_t Segment::LookupPosition(int64_t offset) const {
  if (!index_usable_) return 0;
  const IndexFile& idx = *offset_index_;
  size_t lo = 0, hi = idx.entries();  // find the last entry with offset <= target
  int64_t rel = offset - base_offset_;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (LoadI32(idx.entry(mid)) <= rel) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == 0) return 0;
  return LoadU32(idx.entry(lo - 1) + 4);
}

bool Segment::FindBatch(int64_t offset, PlacedBatch* out) const {
  const uint8_t* data = map_->data();
  uint64_t pos = LookupPosition(offset);
  while (pos < size_) {
    if (CheckBatch(data + pos, size_ - pos, false, 0, &out->header) != BatchCheck::kOk) return false;
    if (out->header.last_offset() >= offset) {
      out->position = pos;
      return true;
    }
    pos += out->header.total_size();
  }
  return false;
}

bool Segment::FindBatchByTimestamp(int64_t ts, PlacedBatch* out) const {
  int64_t start_offset = base_offset_;
  if (index_usable_) {
    const IndexFile& idx = *time_index_;
    size_t lo = 0, hi = idx.entries();  // find the last entry with timestamp < ts
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (LoadI64(idx.entry(mid)) < ts) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    // Every record up to that entry's offset has a timestamp <= the entry's, so < ts.
    if (lo > 0) start_offset = base_offset_ + LoadI32(idx.entry(lo - 1) + 8) + 1;
  }
  const uint8_t* data = map_->data();
  uint64_t pos = LookupPosition(start_offset);
  while (pos < size_) {
    if (CheckBatch(data + pos, size_ - pos, false, 0, &out->header) != BatchCheck::kOk) return false;
    if (out->header.last_offset() >= start_offset && out->header.max_timestamp >= ts) {
      out->position = pos;
      return true;
    }
    pos += out->header.total_size();
  }
  return false;
}

namespace {
constexpr uint32_t kRecordStride = 16;
constexpr size_t kMaxRecordStarts = 4u << 20;  // per segment: 16 MiB of positions
}  // namespace

bool Segment::FindRecord(const PlacedBatch& b, int64_t offset, RecordRef* out) {
  const uint8_t* batch = map_->data() + b.position;
  const BatchHeader& h = b.header;
  if (h.records_count <= static_cast<int32_t>(2 * kRecordStride) || h.last_offset_delta != h.records_count - 1) {
    return tidelog::FindRecord(batch, h, offset, out);
  }
  if (offset < h.base_offset || offset > h.last_offset()) return false;
  auto it = record_starts_.find(b.position);
  if (it == record_starts_.end()) {
    std::vector<uint32_t> starts;
    if (!RecordStarts(batch, h, kRecordStride, &starts)) return false;
    if (record_starts_entries_ + starts.size() > kMaxRecordStarts) {
      record_starts_.clear();
      record_starts_entries_ = 0;
    }
    record_starts_entries_ += starts.size();
    it = record_starts_.emplace(b.position, std::move(starts)).first;
  }
  int64_t index = offset - h.base_offset;
  int64_t mark = index / kRecordStride;
  return FindRecordFrom(batch, h, offset, batch + it->second[static_cast<size_t>(mark)], mark * kRecordStride, out);
}

Status Segment::TruncateTo(int64_t offset) {
  PlacedBatch b;
  if (!FindBatch(offset, &b)) return Status::OK();  // nothing at or above offset here
  uint64_t cut = b.position;
  record_starts_.clear();
  record_starts_entries_ = 0;
  if (map_.use_count() > 1) {
    // Buffers handed to JS still point into this mapping: give them zero pages
    // past the cut (instead of SIGBUS) and take a fresh mapping for ourselves.
    map_->ZeroFrom(cut);
    map_.reset();
  }
  TL_RETURN_IF_ERROR(log_->Truncate(cut));
  uint64_t valid;
  TL_RETURN_IF_ERROR(RebuildTo(cut, std::numeric_limits<int64_t>::max(), true, &valid));
  if (valid != cut) return Status(Code::kCorrupt, "segment " + log_->path() + " is corrupt below the truncation point");
  synced_size = std::min(synced_size, size_);
  sealed_ = false;
  index_usable_ = true;
  return Status::OK();
}

Status Segment::Seal() {
  if (max_timestamp_ != kNoTimestamp && max_timestamp_ > last_time_entry_ts_ && size_ > 0) {
    uint8_t e[kTimeIndexEntrySize];
    StoreI64(e, max_timestamp_);
    StoreI32(e + 8, static_cast<int32_t>(offset_of_max_timestamp_ - base_offset_));
    if (!time_index_->full()) {
      TL_RETURN_IF_ERROR(time_index_->Append(e, 1));
      last_time_entry_ts_ = max_timestamp_;
    }
  }
  TL_RETURN_IF_ERROR(offset_index_->Seal());
  TL_RETURN_IF_ERROR(time_index_->Seal());
  sealed_ = true;
  return Status::OK();
}

Status Segment::Activate() {
  TL_RETURN_IF_ERROR(offset_index_->Activate(cfg_.max_index_bytes));
  TL_RETURN_IF_ERROR(time_index_->Activate(cfg_.max_index_bytes));
  sealed_ = false;
  return Status::OK();
}

Status Segment::Delete() {
  TL_RETURN_IF_ERROR(RemoveFile(SegmentFileName(dir_, base_offset_, kLogSuffix)));
  TL_RETURN_IF_ERROR(RemoveFile(SegmentFileName(dir_, base_offset_, kIndexSuffix)));
  TL_RETURN_IF_ERROR(RemoveFile(SegmentFileName(dir_, base_offset_, kTimeIndexSuffix)));
  return Status::OK();
}

bool Segment::ShouldRoll(uint64_t batch_bytes, size_t batches, int64_t max_timestamp, int64_t last_offset,
                         int64_t segment_ms) const {
  if (size_ == 0) return false;
  if (size_ + batch_bytes > cfg_.segment_bytes) return true;
  if (segment_ms > 0 && rolling_timestamp_ != kNoTimestamp && max_timestamp - rolling_timestamp_ > segment_ms) {
    return true;
  }
  // Keep room for one entry per batch plus the final time index entry of Seal().
  if (offset_index_->entries() + batches + 1 >= offset_index_->capacity()) return true;
  if (time_index_->entries() + batches + 2 >= time_index_->capacity()) return true;
  if (last_offset - base_offset_ > std::numeric_limits<int32_t>::max()) return true;
  if (size_ + batch_bytes > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) return true;
  return false;
}

}  // namespace tidelog
