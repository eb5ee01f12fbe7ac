// The on-disk format: Kafka RecordBatch v2 and Kafka's index entries.
// docs/format.md describes the same bytes; src/record/format.ts mirrors these
// constants and test/format-constants.test.ts checks that the two agree.
//
// Every integer is big-endian. Each field offset is chained from the previous
// field, as in Kafka's DefaultRecordBatch.java.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tidelog {
namespace format {

constexpr size_t kBaseOffsetOffset = 0;
constexpr size_t kBaseOffsetLength = 8;
constexpr size_t kLengthOffset = kBaseOffsetOffset + kBaseOffsetLength;  // 8
constexpr size_t kLengthLength = 4;
constexpr size_t kLogOverhead = kLengthOffset + kLengthLength;  // 12: bytes not counted by `length`
constexpr size_t kLeaderEpochOffset = kLogOverhead;             // 12
constexpr size_t kLeaderEpochLength = 4;
constexpr size_t kMagicOffset = kLeaderEpochOffset + kLeaderEpochLength;  // 16
constexpr size_t kMagicLength = 1;
constexpr size_t kCrcOffset = kMagicOffset + kMagicLength;  // 17
constexpr size_t kCrcLength = 4;
constexpr size_t kAttributesOffset = kCrcOffset + kCrcLength;  // 21: the CRC covers from here
constexpr size_t kAttributesLength = 2;
constexpr size_t kLastOffsetDeltaOffset = kAttributesOffset + kAttributesLength;  // 23
constexpr size_t kLastOffsetDeltaLength = 4;
constexpr size_t kBaseTimestampOffset = kLastOffsetDeltaOffset + kLastOffsetDeltaLength;  // 27
constexpr size_t kBaseTimestampLength = 8;
constexpr size_t kMaxTimestampOffset = kBaseTimestampOffset + kBaseTimestampLength;  // 35
constexpr size_t kMaxTimestampLength = 8;
constexpr size_t kProducerIdOffset = kMaxTimestampOffset + kMaxTimestampLength;  // 43
constexpr size_t kProducerIdLength = 8;
constexpr size_t kProducerEpochOffset = kProducerIdOffset + kProducerIdLength;  // 51
constexpr size_t kProducerEpochLength = 2;
constexpr size_t kBaseSequenceOffset = kProducerEpochOffset + kProducerEpochLength;  // 53
constexpr size_t kBaseSequenceLength = 4;
constexpr size_t kRecordsCountOffset = kBaseSequenceOffset + kBaseSequenceLength;  // 57
constexpr size_t kRecordsCountLength = 4;
constexpr size_t kRecordsOffset = kRecordsCountOffset + kRecordsCountLength;  // 61
constexpr size_t kHeaderSize = kRecordsOffset;                                // 61

constexpr int8_t kMagic = 2;

// Attribute bits.
constexpr int16_t kCompressionMask = 0x07;
constexpr int16_t kCompressionNone = 0;
constexpr int16_t kCompressionLz4 = 3;
constexpr int16_t kTimestampTypeMask = 0x08;  // 1 = LogAppendTime
constexpr int16_t kTransactionalMask = 0x10;
constexpr int16_t kControlMask = 0x20;
constexpr int16_t kDeleteHorizonMask = 0x40;

// Index entries.
constexpr size_t kOffsetIndexEntrySize = 8;  // relativeOffset i32, position i32
constexpr size_t kTimeIndexEntrySize = 12;   // timestamp i64, relativeOffset i32

constexpr int64_t kNoTimestamp = -1;

// Segment file names: the base offset in 20 zero-padded digits plus a suffix.
constexpr int kFileNameDigits = 20;
constexpr const char* kLogSuffix = ".log";
constexpr const char* kIndexSuffix = ".index";
constexpr const char* kTimeIndexSuffix = ".timeindex";

// Files kept in a partition directory beside the segments.
constexpr const char* kLockFile = ".lock";
constexpr const char* kHeadFile = ".head";
constexpr const char* kCleanShutdownFile = ".clean-shutdown";
constexpr const char* kRecoveryPointFile = "recovery-point";
constexpr const char* kLogStartOffsetFile = "log-start-offset";

}  // namespace format
}  // namespace tidelog
