#include "core/batch.h"

#include <limits>

#include "core/crc32c.h"
#include "core/endian.h"

namespace tidelog {

using namespace format;

void ParseHeader(const uint8_t* p, BatchHeader* h) {
  h->base_offset = LoadI64(p + kBaseOffsetOffset);
  h->length = LoadI32(p + kLengthOffset);
  h->leader_epoch = LoadI32(p + kLeaderEpochOffset);
  h->magic = static_cast<int8_t>(p[kMagicOffset]);
  h->crc = LoadU32(p + kCrcOffset);
  h->attributes = LoadI16(p + kAttributesOffset);
  h->last_offset_delta = LoadI32(p + kLastOffsetDeltaOffset);
  h->base_timestamp = LoadI64(p + kBaseTimestampOffset);
  h->max_timestamp = LoadI64(p + kMaxTimestampOffset);
  h->producer_id = LoadI64(p + kProducerIdOffset);
  h->producer_epoch = LoadI16(p + kProducerEpochOffset);
  h->base_sequence = LoadI32(p + kBaseSequenceOffset);
  h->records_count = LoadI32(p + kRecordsCountOffset);
}

const char* BatchCheckName(BatchCheck c) {
  switch (c) {
    case BatchCheck::kOk: return "ok";
    case BatchCheck::kTruncated: return "truncated batch";
    case BatchCheck::kBadLength: return "invalid batch length";
    case BatchCheck::kBadMagic: return "unsupported magic byte (only RecordBatch v2, magic 2, is supported)";
    case BatchCheck::kBadCrc: return "CRC-32C mismatch";
    case BatchCheck::kBadOffsets:
      return "invalid offsets (a negative base offset, last offset delta or records count, or a last offset past 2^63)";
  }
  return "?";
}

uint32_t ComputeBatchCrc(const uint8_t* batch, size_t total_size) {
  return crc32c::Value(batch + kAttributesOffset, total_size - kAttributesOffset);
}

BatchCheck CheckBatch(const uint8_t* p, size_t avail, bool check_crc, size_t max_batch_bytes, BatchHeader* h) {
  if (avail < kHeaderSize) return BatchCheck::kTruncated;
  int32_t length = LoadI32(p + kLengthOffset);
  if (length < static_cast<int32_t>(kHeaderSize - kLogOverhead)) return BatchCheck::kBadLength;
  size_t total = kLogOverhead + static_cast<size_t>(length);
  if (max_batch_bytes != 0 && total > max_batch_bytes) return BatchCheck::kBadLength;
  if (static_cast<int8_t>(p[kMagicOffset]) != kMagic) return BatchCheck::kBadMagic;
  if (total > avail) return BatchCheck::kTruncated;
  ParseHeader(p, h);
  if (h->last_offset_delta < 0 || h->records_count < 0) return BatchCheck::kBadOffsets;
  if (h->base_offset < 0) return BatchCheck::kBadOffsets;
  // lastOffset and the offset after it must be representable (damaged bytes may say anything).
  if (h->base_offset > std::numeric_limits<int64_t>::max() - 1 - h->last_offset_delta) return BatchCheck::kBadOffsets;
  if (check_crc && ComputeBatchCrc(p, total) != h->crc) return BatchCheck::kBadCrc;
  return BatchCheck::kOk;
}

size_t ReadVarlong(const uint8_t* p, const uint8_t* end, int64_t* out) {
  uint64_t v = 0;
  int shift = 0;
  const uint8_t* q = p;
  while (q < end) {
    uint8_t b = *q++;
    v |= static_cast<uint64_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<int64_t>((v >> 1) ^ (~(v & 1) + 1));
      return static_cast<size_t>(q - p);
    }
    shift += 7;
    if (shift > 63) return 0;
  }
  return 0;
}

size_t ReadVarint(const uint8_t* p, const uint8_t* end, int32_t* out) {
  uint32_t v = 0;
  int shift = 0;
  const uint8_t* q = p;
  while (q < end) {
    uint8_t b = *q++;
    v |= static_cast<uint32_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      *out = static_cast<int32_t>((v >> 1) ^ (~(v & 1) + 1));
      return static_cast<size_t>(q - p);
    }
    shift += 7;
    if (shift > 28) return 0;
  }
  return 0;
}


namespace {

// Checks the rest of a record after its offset delta: key, value, headers.
bool CheckRecordBody(const uint8_t* body, size_t len) {
  const uint8_t* end = body + len;
  const uint8_t* q = body + 1;
  int64_t ts;
  int32_t v;
  size_t m = ReadVarlong(q, end, &ts);
  if (m == 0) return false;
  q += m;
  m = ReadVarint(q, end, &v);  // offset delta
  if (m == 0) return false;
  q += m;
  for (int field = 0; field < 2; field++) {  // key, value
    m = ReadVarint(q, end, &v);
    if (m == 0 || v < -1) return false;
    q += m;
    if (v > 0) {
      if (end - q < v) return false;
      q += v;
    }
  }
  int32_t headers;
  m = ReadVarint(q, end, &headers);
  if (m == 0 || headers < 0) return false;
  q += m;
  for (int32_t i = 0; i < headers; i++) {
    m = ReadVarint(q, end, &v);  // header key: never null
    if (m == 0 || v < 0) return false;
    q += m;
    if (end - q < v) return false;
    q += v;
    m = ReadVarint(q, end, &v);
    if (m == 0 || v < -1) return false;
    q += m;
    if (v > 0) {
      if (end - q < v) return false;
      q += v;
    }
  }
  return q == end;
}

}  // namespace

Status CheckRecords(const uint8_t* batch, const BatchHeader& h, bool strict_deltas) {
  const uint8_t* p = batch + kRecordsOffset;
  const uint8_t* end = batch + h.total_size();
  int32_t prev = -1;
  for (int32_t i = 0; i < h.records_count; i++) {
    RecordRef r;
    int64_t tsd;
    int32_t od;
    const uint8_t* next;
    if (!ReadRecordFrame(p, end, &r, &tsd, &od, &next) || !CheckRecordBody(r.data, r.length)) {
      return Status(Code::kInvalidBatch, "record " + std::to_string(i) + " of the batch at base offset " +
                                             std::to_string(h.base_offset) + " is malformed");
    }
    bool ok = strict_deltas ? (od == i) : (od > prev);
    if (!ok || od > h.last_offset_delta) {
      return Status(Code::kInvalidBatch, "records out of order: record " + std::to_string(i) + " has offset delta " +
                                             std::to_string(od) + " (previous " + std::to_string(prev) +
                                             ", lastOffsetDelta " + std::to_string(h.last_offset_delta) + ")");
    }
    prev = od;
    p = next;
  }
  if (p != end) {
    return Status(Code::kInvalidBatch, "batch at base offset " + std::to_string(h.base_offset) + " declares " +
                                           std::to_string(h.records_count) + " records but holds " +
                                           std::to_string(end - p) + " more bytes after them");
  }
  if (strict_deltas && h.records_count > 0 && prev != h.last_offset_delta) {
    return Status(Code::kInvalidBatch, "lastOffsetDelta " + std::to_string(h.last_offset_delta) +
                                           " does not match the last record's offset delta " + std::to_string(prev));
  }
  return Status::OK();
}

namespace {

// Walks records from `start` (record number `first`; default: the first record).
template <typename Pred>
RecordScan ScanRecords(const uint8_t* batch, const BatchHeader& h, Pred pred, RecordRef* out,
                       const uint8_t* start = nullptr, int64_t first = 0) {
  const uint8_t* p = start != nullptr ? start : batch + kRecordsOffset;
  const uint8_t* end = batch + h.total_size();
  for (int64_t i = first; i < h.records_count; i++) {
    RecordRef r;
    int64_t tsd;
    int32_t od;
    const uint8_t* next;
    if (!ReadRecordFrame(p, end, &r, &tsd, &od, &next)) return RecordScan::kMalformed;
    r.offset = h.base_offset + od;
    r.timestamp = (h.attributes & kTimestampTypeMask) ? h.max_timestamp : h.base_timestamp + tsd;
    if (pred(r)) {
      *out = r;
      return RecordScan::kFound;
    }
    p = next;
  }
  return RecordScan::kAbsent;
}

}  // namespace

RecordScan FindRecord(const uint8_t* batch, const BatchHeader& h, int64_t offset, RecordRef* out) {
  RecordScan r = ScanRecords(batch, h, [offset](const RecordRef& r) { return r.offset >= offset; }, out);
  return r == RecordScan::kFound && out->offset != offset ? RecordScan::kAbsent : r;
}

RecordScan FindRecordFrom(const uint8_t* batch, const BatchHeader& h, int64_t offset, const uint8_t* start,
                          int64_t first, RecordRef* out) {
  // Record i has offset delta i here (see header): skip to record `offset - base` by length alone.
  const uint8_t* p = start;
  const uint8_t* end = batch + h.total_size();
  for (int64_t i = first; i < offset - h.base_offset; i++) {
    int32_t len;
    size_t n = ReadVarint(p, end, &len);
    if (n == 0 || len < 1 || end - (p + n) < len) return RecordScan::kMalformed;
    p += n + static_cast<size_t>(len);
  }
  RecordScan r = ScanRecords(batch, h, [offset](const RecordRef& r) { return r.offset >= offset; }, out, p,
                             offset - h.base_offset);
  return r == RecordScan::kFound && out->offset != offset ? RecordScan::kAbsent : r;
}

bool RecordStarts(const uint8_t* batch, const BatchHeader& h, uint32_t stride, std::vector<uint32_t>* starts) {
  const uint8_t* p = batch + kRecordsOffset;
  const uint8_t* end = batch + h.total_size();
  starts->clear();
  for (int32_t i = 0; i < h.records_count; i++) {
    if (i % stride == 0) starts->push_back(static_cast<uint32_t>(p - batch));
    int32_t len;
    size_t n = ReadVarint(p, end, &len);
    if (n == 0 || len < 1 || end - (p + n) < len) return false;
    p += n + static_cast<size_t>(len);
  }
  return p == end;
}

RecordScan FindRecordByTimestamp(const uint8_t* batch, const BatchHeader& h, int64_t timestamp, RecordRef* out) {
  return ScanRecords(batch, h, [timestamp](const RecordRef& r) { return r.timestamp >= timestamp; }, out);
}

}  // namespace tidelog
