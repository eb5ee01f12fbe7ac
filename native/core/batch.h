// Batch: reading and checking RecordBatch v2 headers and records in place.
//
// Nothing here allocates or copies: every function takes a pointer into a
// mapped segment or a caller's buffer plus the number of bytes that may be read,
// and never reads past it, whatever the bytes say (they may be garbage from a
// torn write, or fuzz).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/format.h"
#include "core/status.h"

namespace tidelog {

struct BatchHeader {
  int64_t base_offset;
  int32_t length;  // bytes after the length field
  int32_t leader_epoch;
  int8_t magic;
  uint32_t crc;
  int16_t attributes;
  int32_t last_offset_delta;
  int64_t base_timestamp;
  int64_t max_timestamp;
  int64_t producer_id;
  int16_t producer_epoch;
  int32_t base_sequence;
  int32_t records_count;

  int64_t last_offset() const { return base_offset + last_offset_delta; }
  int64_t next_offset() const { return last_offset() + 1; }
  size_t total_size() const { return format::kLogOverhead + static_cast<size_t>(length); }
  int compression() const { return attributes & format::kCompressionMask; }
};

// Parses the 61-byte header at p. Requires avail >= kHeaderSize.
void ParseHeader(const uint8_t* p, BatchHeader* h);

enum class BatchCheck {
  kOk,
  kTruncated,   // fewer bytes than the header or the declared length
  kBadLength,   // length too small for a header, or absurdly large
  kBadMagic,
  kBadCrc,
  kBadOffsets,  // negative base offset, last offset delta or records count; last offset overflows
};

const char* BatchCheckName(BatchCheck c);

// Checks framing (and the CRC when check_crc) of the batch at p. On kOk *h is set.
BatchCheck CheckBatch(const uint8_t* p, size_t avail, bool check_crc, size_t max_batch_bytes, BatchHeader* h);

// CRC-32C of the batch's CRC-covered region (attributes to end).
uint32_t ComputeBatchCrc(const uint8_t* batch, size_t total_size);

// Walks the records of an uncompressed batch and checks that they fill the
// batch exactly, that their count matches the header and that offset deltas are
// 0, 1, 2, ... when strict_deltas (or merely increasing and <= lastOffsetDelta).
Status CheckRecords(const uint8_t* batch, const BatchHeader& h, bool strict_deltas);

// Finds, in an uncompressed batch, the record with absolute offset `offset`
// (kFound: *out set) or the first record whose timestamp is >= `timestamp`.
// kAbsent: no such record (e.g. an offset removed by compaction); kMalformed:
// the record frames on the way run past the batch or are invalid, which a
// batch whose CRC matched can only show if it was written malformed.
struct RecordRef {
  const uint8_t* data;  // first byte after the record's length varint
  size_t length;
  int64_t offset;
  int64_t timestamp;
};
enum class RecordScan { kFound, kAbsent, kMalformed };
RecordScan FindRecord(const uint8_t* batch, const BatchHeader& h, int64_t offset, RecordRef* out);
// For batches whose records have offset deltas 0, 1, 2, ... (lastOffsetDelta ==
// recordsCount - 1): finds `offset` starting from record number `first`, which
// begins at `start`.
RecordScan FindRecordFrom(const uint8_t* batch, const BatchHeader& h, int64_t offset, const uint8_t* start,
                          int64_t first, RecordRef* out);
// The position (from the batch start) of every stride-th record; false if the records are malformed.
bool RecordStarts(const uint8_t* batch, const BatchHeader& h, uint32_t stride, std::vector<uint32_t>* starts);
RecordScan FindRecordByTimestamp(const uint8_t* batch, const BatchHeader& h, int64_t timestamp, RecordRef* out);

// Zigzag LEB128 varints (protobuf's), bounds-checked. Return bytes read or 0 on error.
size_t ReadVarint(const uint8_t* p, const uint8_t* end, int32_t* out);
size_t ReadVarlong(const uint8_t* p, const uint8_t* end, int64_t* out);

// Reads one record's frame at p: its length, and inside it the timestamp and
// offset deltas (after the attributes byte); r gets the body and its length
// (not offset or timestamp). *next points after the record. False if it does
// not frame within [p, end). Inline: the record walks of batch.cc and of
// offsetForTimestamp's blocks (segment.cc) call it per record.
inline bool ReadRecordFrame(const uint8_t* p, const uint8_t* end, RecordRef* r, int64_t* ts_delta, int32_t* off_delta,
                            const uint8_t** next) {
  int32_t len;
  size_t n = ReadVarint(p, end, &len);
  if (n == 0 || len < 1) return false;
  const uint8_t* body = p + n;
  if (static_cast<size_t>(end - body) < static_cast<size_t>(len)) return false;
  const uint8_t* rend = body + len;
  const uint8_t* q = body + 1;  // attributes
  size_t m = ReadVarlong(q, rend, ts_delta);
  if (m == 0) return false;
  q += m;
  m = ReadVarint(q, rend, off_delta);
  if (m == 0) return false;
  r->data = body;
  r->length = static_cast<size_t>(len);
  *next = rend;
  return true;
}

}  // namespace tidelog
