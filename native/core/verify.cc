#include "core/verify.h"

#include <fcntl.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "core/batch.h"
#include "core/crc32c.h"
#include "core/endian.h"
#include "core/file.h"
#include "core/format.h"
#include "core/mapped_file.h"
#include "core/segment.h"

namespace tidelog {

using namespace format;

namespace {

constexpr size_t kMaxIssues = 1000;
// Producer-state snapshots, written by the store (src/producer-state.ts).
constexpr const char* kSnapshotSuffix = ".snapshot";

bool ParseStem(const std::string& name, const std::string& suffix, int64_t* base) {
  if (name.size() != kFileNameDigits + suffix.size() || name.compare(kFileNameDigits, suffix.size(), suffix) != 0) {
    return false;
  }
  int64_t v = 0;
  for (int i = 0; i < kFileNameDigits; i++) {
    char c = name[i];
    if (c < '0' || c > '9') return false;
    if (v > (std::numeric_limits<int64_t>::max() - 9) / 10) return false;
    v = v * 10 + (c - '0');
  }
  *base = v;
  return true;
}

struct BatchSpan {
  uint64_t position;
  int64_t base_offset;
  int64_t last_offset;
  int64_t max_timestamp;
  int64_t running_max;  // largest maxTimestamp of this and every earlier batch of the segment
};

class Verifier {
 public:
  Verifier(const std::string& dir, VerifyReport* r) : dir_(dir), r_(r) {}

  void Issue(const std::string& file, int64_t pos, int64_t offset, const std::string& problem) {
    if (r_->issues.size() < kMaxIssues) r_->issues.push_back({file, pos, offset, problem});
  }

  Status Run() {
    std::vector<std::string> names;
    TL_RETURN_IF_ERROR(ListDir(dir_, &names));
    std::vector<int64_t> bases;
    for (const std::string& n : names) {
      int64_t b;
      if (ParseStem(n, kLogSuffix, &b)) bases.push_back(b);
    }
    std::sort(bases.begin(), bases.end());
    int64_t expected = -1;
    for (size_t i = 0; i < bases.size(); i++) {
      int64_t limit = i + 1 < bases.size() ? bases[i + 1] : std::numeric_limits<int64_t>::max();
      TL_RETURN_IF_ERROR(Segment(bases[i], i + 1 == bases.size(), limit, &expected));
    }
    r_->segments = static_cast<int32_t>(bases.size());
    if (!bases.empty()) r_->start_offset = bases.front();
    r_->end_offset = expected < 0 ? (bases.empty() ? 0 : bases.back()) : expected;
    Checkpoint(kRecoveryPointFile);
    Checkpoint(kLogStartOffsetFile);
    for (const std::string& n : names) {
      int64_t at;
      if (ParseStem(n, kSnapshotSuffix, &at)) Snapshot(dir_ + "/" + n, at);
    }
    return Status::OK();
  }

 private:
  // limit: the next segment's base offset, which every batch here must end below.
  Status Segment(int64_t base, bool last, int64_t limit, int64_t* expected) {
    std::string path = SegmentFileName(dir_, base, kLogSuffix);
    std::shared_ptr<File> f;
    TL_RETURN_IF_ERROR(File::Open(path, O_RDONLY, &f));
    uint64_t size;
    TL_RETURN_IF_ERROR(f->Size(&size));
    r_->bytes += size;
    if (*expected > base) {
      Issue(path, -1, base, "segment base offset " + std::to_string(base) + " is below the end of the segment before it (" +
                                std::to_string(*expected) + ")");
    }
    std::shared_ptr<Mapping> m;
    if (size > 0) TL_RETURN_IF_ERROR(Mapping::Map(f->fd(), size, path, &m));
    std::vector<BatchSpan> spans;
    damaged_.clear();
    uint64_t pos = 0;
    int64_t next = std::max(base, *expected);
    int64_t running = kNoTimestamp;
    while (pos < size) {
      BatchHeader h;
      BatchCheck c = CheckBatch(m->data() + pos, size - pos, true, 0, &h);
      bool framed = c == BatchCheck::kOk || c == BatchCheck::kBadCrc ||
                    (c == BatchCheck::kBadOffsets && h.base_offset >= 0);
      if (!framed) {
        // A zero tail (IsZeroTail, segment.h): the active segment's, left by a writer
        // that did not close, or a sealed one's whose trim a power loss undid. Not damage.
        if (IsZeroTail(m->data(), pos, size)) break;
        Issue(path, static_cast<int64_t>(pos), next,
              std::string(BatchCheckName(c)) + "; " + std::to_string(size - pos) + " bytes from here are unreadable");
        break;
      }
      if (c != BatchCheck::kOk) {
        // The framing holds: report the batch and go on with the next one, as
        // reads do. Its header is not to be trusted: it adds no span.
        bool crc_ok = c == BatchCheck::kBadOffsets && ComputeBatchCrc(m->data() + pos, h.total_size()) == h.crc;
        Issue(path, static_cast<int64_t>(pos), c == BatchCheck::kBadCrc ? h.base_offset : -1,
              std::string(crc_ok ? "malformed batch (negative lastOffsetDelta or recordsCount)" : "CRC-32C mismatch") +
                  " in the batch at position " + std::to_string(pos) + ": reads of it fail with CorruptRecordError");
        r_->batches++;
        damaged_.push_back(pos);
        pos += h.total_size();
        continue;
      }
      if (h.last_offset() >= limit) {
        // A damaged base offset (outside the CRC): reads of it fail; it must not skew the checks after it.
        Issue(path, static_cast<int64_t>(pos), h.base_offset,
              "the batch ends at offset " + std::to_string(h.last_offset()) +
                  ", at or above the base offset of the next segment (" + std::to_string(limit) + ")");
        r_->batches++;
        damaged_.push_back(pos);
        pos += h.total_size();
        continue;
      }
      if (h.base_offset < next) {
        Issue(path, static_cast<int64_t>(pos), h.base_offset,
              "offsets out of order: batch base offset " + std::to_string(h.base_offset) + " is below " +
                  std::to_string(next));
      }
      if (h.compression() == kCompressionNone) {
        Status st = CheckRecords(m->data() + pos, h, false);
        if (!st.ok()) Issue(path, static_cast<int64_t>(pos), h.base_offset, st.message());
      }
      running = std::max(running, h.max_timestamp);
      spans.push_back({pos, h.base_offset, h.last_offset(), h.max_timestamp, running});
      r_->batches++;
      r_->records += h.records_count;
      next = std::max(next, h.next_offset());
      pos += h.total_size();
    }
    *expected = next;
    OffsetIndex(base, last, spans);
    TimeIndex(base, last, spans);
    return Status::OK();
  }

  const BatchSpan* SpanAt(const std::vector<BatchSpan>& spans, uint64_t position) {
    auto it = std::lower_bound(spans.begin(), spans.end(), position,
                               [](const BatchSpan& s, uint64_t p) { return s.position < p; });
    return it != spans.end() && it->position == position ? &*it : nullptr;
  }

  const BatchSpan* SpanHolding(const std::vector<BatchSpan>& spans, int64_t offset) {
    auto it = std::lower_bound(spans.begin(), spans.end(), offset,
                               [](const BatchSpan& s, int64_t o) { return s.last_offset < o; });
    return it != spans.end() && it->base_offset <= offset ? &*it : nullptr;
  }

  // Reads an index file; trailing all-zero entries of the active segment are its
  // preallocated space after an unclean stop, not entries.
  bool ReadIndex(const std::string& path, size_t entry, bool last, std::string* bytes) {
    bool missing;
    Status st = ReadSmallFileAny(path, bytes, &missing);
    if (!st.ok() || missing) {
      Issue(path, -1, -1, missing ? "index file is missing (it will be rebuilt on open)" : st.message());
      return false;
    }
    if (bytes->size() % entry != 0) {
      Issue(path, -1, -1, "size " + std::to_string(bytes->size()) + " is not a multiple of " + std::to_string(entry));
      return false;
    }
    if (last) {
      size_t n = bytes->size() / entry;
      while (n > 0 && std::all_of(bytes->begin() + (n - 1) * entry, bytes->begin() + n * entry,
                                  [](char c) { return c == 0; })) {
        n--;
      }
      bytes->resize(n * entry);
    }
    return true;
  }

  static Status ReadSmallFileAny(const std::string& path, std::string* out, bool* missing) {
    *missing = !FileExists(path);
    if (*missing) return Status::OK();
    std::shared_ptr<File> f;
    TL_RETURN_IF_ERROR(File::Open(path, O_RDONLY, &f));
    uint64_t size;
    TL_RETURN_IF_ERROR(f->Size(&size));
    out->resize(static_cast<size_t>(size));
    size_t got;
    TL_RETURN_IF_ERROR(f->PRead(&(*out)[0], out->size(), 0, &got));
    out->resize(got);
    return Status::OK();
  }

  void OffsetIndex(int64_t base, bool last, const std::vector<BatchSpan>& spans) {
    std::string path = SegmentFileName(dir_, base, kIndexSuffix);
    std::string bytes;
    if (!ReadIndex(path, kOffsetIndexEntrySize, last, &bytes)) return;
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    int64_t prev = -1;
    for (size_t i = 0; i < bytes.size() / kOffsetIndexEntrySize; i++) {
      int64_t rel = LoadI32(p + i * 8);
      uint64_t pos = LoadU32(p + i * 8 + 4);
      const BatchSpan* s = SpanAt(spans, pos);
      if (s == nullptr && std::binary_search(damaged_.begin(), damaged_.end(), pos)) continue;  // reported already
      if (rel <= prev) {
        Issue(path, static_cast<int64_t>(i * 8), base + rel, "entry " + std::to_string(i) + " is out of order");
      } else if (s == nullptr || s->last_offset != base + rel) {
        Issue(path, static_cast<int64_t>(i * 8), base + rel,
              "entry " + std::to_string(i) + " (offset " + std::to_string(base + rel) + ", position " +
                  std::to_string(pos) + ") does not point at a batch ending at that offset");
      }
      prev = rel;
    }
  }

  void TimeIndex(int64_t base, bool last, const std::vector<BatchSpan>& spans) {
    std::string path = SegmentFileName(dir_, base, kTimeIndexSuffix);
    std::string bytes;
    if (!ReadIndex(path, kTimeIndexEntrySize, last, &bytes)) return;
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    int64_t prev_ts = std::numeric_limits<int64_t>::min();
    for (size_t i = 0; i < bytes.size() / kTimeIndexEntrySize; i++) {
      int64_t ts = LoadI64(p + i * 12);
      int64_t offset = base + LoadI32(p + i * 12 + 8);
      const BatchSpan* s = SpanHolding(spans, offset);
      if (s == nullptr && !damaged_.empty()) continue;  // may be the damaged batch's: cannot tell
      if (ts <= prev_ts) {
        Issue(path, static_cast<int64_t>(i * 12), offset, "entry " + std::to_string(i) + " is out of order");
      } else if (s == nullptr || s->last_offset != offset || s->max_timestamp != ts || s->running_max != ts) {
        // An entry names the last offset of the batch that first reached its timestamp.
        Issue(path, static_cast<int64_t>(i * 12), offset,
              "entry " + std::to_string(i) + " (timestamp " + std::to_string(ts) + ", offset " + std::to_string(offset) +
                  ") does not match the largest timestamp of the log up to that offset");
      }
      prev_ts = ts;
    }
  }

  // A producer-state snapshot (Kafka's ProducerStateManager format, version 1:
  // version i16, CRC-32C u32 of every byte after it, count i32, 46-byte
  // entries). Opening a store discards a bad one and rebuilds the state from the log.
  void Snapshot(const std::string& path, int64_t at) {
    constexpr size_t kHeader = 2 + 4 + 4;
    constexpr size_t kEntry = 46;
    std::string bytes;
    bool missing;
    Status st = ReadSmallFileAny(path, &bytes, &missing);
    if (!st.ok() || missing) {
      if (!st.ok()) Issue(path, -1, at, st.message());
      return;
    }
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const std::string then = "; opening the store discards it and rebuilds the producer state from the log";
    if (bytes.size() < kHeader) {
      Issue(path, -1, at, "producer snapshot of " + std::to_string(bytes.size()) + " bytes is too short" + then);
      return;
    }
    int16_t version = LoadI16(p);
    if (version != 1) {
      Issue(path, 0, at, "producer snapshot has unknown version " + std::to_string(version) + then);
      return;
    }
    if (crc32c::Value(p + 6, bytes.size() - 6) != LoadU32(p + 2)) {
      Issue(path, 2, at, "producer snapshot fails its CRC-32C check" + then);
      return;
    }
    int32_t count = LoadI32(p + 6);
    if (count < 0 || bytes.size() != kHeader + static_cast<uint64_t>(count) * kEntry) {
      Issue(path, 6, at, "producer snapshot declares " + std::to_string(count) + " entries in " +
                             std::to_string(bytes.size()) + " bytes" + then);
      return;
    }
    if (at > r_->end_offset) {
      Issue(path, -1, at, "producer snapshot at offset " + std::to_string(at) + " is above the end of the log (" +
                              std::to_string(r_->end_offset) + "); opening the store deletes it");
    }
  }

  void Checkpoint(const char* name) {
    std::string path = dir_ + "/" + name;
    std::string text;
    bool missing;
    Status read = ReadSmallFile(path, &text, &missing);
    if (!read.ok()) {
      Issue(path, -1, -1, read.message());
      return;
    }
    if (missing) return;
    size_t nl = text.find('\n');
    std::string rest = nl == std::string::npos ? "" : text.substr(nl + 1);
    while (!rest.empty() && rest.back() == '\n') rest.pop_back();
    if (nl == std::string::npos || text.substr(0, nl) != "0" || rest.empty() || rest.size() > 19 ||
        rest.find_first_not_of("0123456789") != std::string::npos) {
      Issue(path, -1, -1, "not a valid offset checkpoint");
      return;
    }
    int64_t v = std::stoll(rest);
    if (v > r_->end_offset || (r_->start_offset >= 0 && std::string(name) == kLogStartOffsetFile && v < r_->start_offset)) {
      Issue(path, -1, v, "checkpointed offset " + std::to_string(v) + " is outside the log [" +
                             std::to_string(r_->start_offset) + ", " + std::to_string(r_->end_offset) + "]");
    }
  }

  std::string dir_;
  VerifyReport* r_;
  std::vector<uint64_t> damaged_;  // positions of the current segment's batches that fail their CRC
};

}  // namespace

Status VerifyLog(const std::string& dir, VerifyReport* report) {
  *report = VerifyReport();
  if (!FileExists(dir)) return Status(Code::kInvalidArgument, "no such directory: " + dir);
  return Verifier(dir, report).Run();
}

}  // namespace tidelog
