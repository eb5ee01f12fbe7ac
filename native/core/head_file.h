// HeadFile: the writer's published view of a partition, for readers in other processes.
//
// `<dir>/.head` is a small file that the writer maps read-write and every
// reader maps read-only. After each append, roll, sync and truncation the
// writer publishes the log's end offset, durable offset and the state of the
// active segment under a sequence lock (odd while being written), so a reader
// never sees a half-updated head, and a reader never reads past what the writer
// has finished writing. `generation` changes whenever segments come or go or
// shrink (roll, truncation, recovery): a reader then reloads its segment list.
// The file is not synced and is rebuilt by the next writer: it is a view, not state.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/status.h"

namespace tidelog {

struct HeadState {
  int64_t log_start_offset = 0;
  int64_t log_end_offset = 0;
  int64_t durable_offset = 0;
  int64_t active_base_offset = 0;
  uint64_t active_size = 0;
  uint64_t offset_index_entries = 0;
  uint64_t time_index_entries = 0;
  uint64_t generation = 0;
  // Where the synced bytes end: the segment holding durable_offset and its
  // size when that offset was synced (fdatasync'ed). Every segment before it is
  // synced whole; every later one was created since. Read by simulatePowerLoss
  // (src/testing) to drop exactly what a power loss could take.
  int64_t durable_segment_base = 0;
  uint64_t durable_segment_size = 0;
};

class HeadFile {
 public:
  static Status Open(const std::string& dir, bool writable, std::unique_ptr<HeadFile>* out);
  ~HeadFile();
  void Publish(const HeadState& s);
  // Returns false if no writer ever published here.
  bool Read(HeadState* s) const;

 private:
  HeadFile(void* map, bool writable) : map_(map), writable_(writable) {}
  void* map_;
  bool writable_;
};

}  // namespace tidelog
