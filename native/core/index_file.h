// IndexFile: one sparse index of a segment, `.index` or `.timeindex`.
//
// Fixed-size big-endian entries (8 bytes: relativeOffset i32, position i32 for
// the offset index; 12 bytes: timestamp i64, relativeOffset i32 for the time
// index), exactly Kafka's OffsetIndex and TimeIndex files.
//
// While its segment is active the file is preallocated with fallocate to
// maxIndexBytes, so appending an entry can never fail for want of space, and it
// is mapped read-only at that length; entries are appended with pwrite and read
// through the mapping (one page cache, so the two agree). When the segment rolls
// or the log closes the file is trimmed to its entries. After a crash the entry
// count of an active index cannot be known from the file (the tail is zeros), so
// the log rebuilds the indexes of every segment it recovers and never trusts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/file.h"
#include "core/mapped_file.h"

namespace tidelog {

class IndexFile {
 public:
  // Opens (creating if `writable` and missing). entries() is the file's whole
  // length in entries; the caller validates and then calls SetEntries().
  static Status Open(const std::string& path, size_t entry_size, bool writable, std::unique_ptr<IndexFile>* out);

  size_t entries() const { return entries_; }
  size_t entry_size() const { return entry_size_; }
  size_t capacity() const { return capacity_; }  // entries the current allocation holds
  bool full() const { return entries_ >= capacity_; }
  const uint8_t* entry(size_t i) const { return map_->data() + i * entry_size_; }
  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<File>& file() const { return file_; }

  // Appends n entries (n * entry_size bytes). The caller checks full() first.
  Status Append(const uint8_t* data, size_t n);
  void SetEntries(size_t n) { entries_ = n; }
  // Makes room for max_bytes of entries (fallocate + remap): the active state.
  Status Activate(size_t max_bytes);
  // Trims the file to its entries and remaps it at that length: the sealed state.
  Status Seal();
  // Drops every entry and zeroes the allocation (for a rebuild).
  Status Reset(size_t max_bytes);

 private:
  IndexFile(std::shared_ptr<File> file, size_t entry_size) : file_(std::move(file)), entry_size_(entry_size) {}
  Status Remap(size_t length);

  std::shared_ptr<File> file_;
  std::shared_ptr<Mapping> map_;
  size_t entry_size_;
  size_t entries_ = 0;
  size_t capacity_ = 0;
};

}  // namespace tidelog
