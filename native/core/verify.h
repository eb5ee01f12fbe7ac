// Verify: a full, read-only check of a partition directory.
//
// Unlike recovery, which trusts everything below the recovery point and repairs
// what it finds, Verify reads every byte and repairs nothing: each batch's
// framing and CRC-32C, the records of uncompressed batches, offsets strictly
// increasing within and across segments (and below the next segment's base),
// every index entry against the batch it points at, the checkpoints against
// the log's range, and the producer-state snapshots (`*.snapshot`: version,
// CRC-32C, length). A batch that fails its CRC but frames is reported and the
// scan goes on after it, as reads do. It takes no lock; run it on a closed log
// or beside a reader (a writer's in-flight append may show up as a torn tail).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace tidelog {

struct VerifyIssue {
  std::string file;
  int64_t position;  // byte position in the file, or -1
  int64_t offset;    // the record offset concerned, or -1
  std::string problem;
};

struct VerifyReport {
  int32_t segments = 0;
  uint64_t bytes = 0;
  int64_t batches = 0;
  int64_t records = 0;
  int64_t start_offset = -1;
  int64_t end_offset = -1;
  std::vector<VerifyIssue> issues;
};

Status VerifyLog(const std::string& dir, VerifyReport* report);

}  // namespace tidelog
