// IndexFile: one sparse index of a segment, `.index` or `.timeindex`.
//
// Fixed-size big-endian entries (8 bytes: relativeOffset i32, position i32 for
// the offset index; 12 bytes: timestamp i64, relativeOffset i32 for the time
// index), exactly Kafka's OffsetIndex and TimeIndex files.
//
// While its segment is active the file is preallocated with fallocate to
// maxIndexBytes, so appending an entry can never fail for want of space, and it
// has two mappings at that length: the read-only Mapping that lookups use (and
// that may outlive the IndexFile, like every Mapping), and a writable shared
// one, owned by the IndexFile alone, that Append copies entries into (as
// Kafka's active OffsetIndex writes through a MappedByteBuffer). One page
// cache: readers of the file in this or another process see an entry as soon
// as it is stored; the log publishes entry counts (`.head`) after the stores.
// Because the whole length is allocated before it is mapped writable, a store
// never needs a block: a full disk cannot turn it into SIGBUS. fdatasync of the
// file writes back pages dirtied through the mapping, as it does pwrite's.
// It is MADV_RANDOM: each page faults in alone when first stored to, not a
// readahead window of zeros. If the writable mapping cannot be made, Append
// falls back to pwrite (the old path). The writable mapping is unmapped before
// the file is trimmed (Seal), zeroed (Reset) or closed. Read-only opens never
// map it writable. Why, with measurements: docs/architecture.md, "Indexes"
// (one pwrite per index per batch that earned an entry: 16,000 pwrite64 calls
// per million records in 8-partition, 125-record batches).
//
// When the segment rolls or the log closes the file is trimmed to its entries.
// After a crash the entry count of an active index cannot be known from the
// file (the tail is zeros), so the log rebuilds the indexes of every segment it
// recovers and never trusts them.
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
  ~IndexFile();
  IndexFile(const IndexFile&) = delete;
  IndexFile& operator=(const IndexFile&) = delete;

  size_t entries() const { return entries_; }
  size_t entry_size() const { return entry_size_; }
  size_t capacity() const { return capacity_; }  // entries the current allocation holds
  bool full() const { return entries_ >= capacity_; }
  const uint8_t* entry(size_t i) const { return map_->data() + i * entry_size_; }
  const std::string& path() const { return file_->path(); }
  const std::shared_ptr<File>& file() const { return file_; }

  // Appends n entries (n * entry_size bytes): a copy into the writable mapping,
  // or a pwrite without one. The caller checks full() first.
  Status Append(const uint8_t* data, size_t n);
  void SetEntries(size_t n) { entries_ = n; }
  // Makes room for max_bytes of entries (fallocate + remap): the active state.
  Status Activate(size_t max_bytes);
  // Trims the file to its entries and remaps it at that length: the sealed state.
  Status Seal();
  // Drops every entry and zeroes the allocation (for a rebuild).
  Status Reset(size_t max_bytes);

 private:
  IndexFile(std::shared_ptr<File> file, size_t entry_size, bool writable)
      : file_(std::move(file)), entry_size_(entry_size), writable_(writable) {}
  Status Remap(size_t length);
  // Maps [0, length) of the file writable (best effort: on failure Append uses pwrite).
  void MapWritable(size_t length);
  void UnmapWritable();

  std::shared_ptr<File> file_;
  std::shared_ptr<Mapping> map_;
  size_t entry_size_;
  size_t entries_ = 0;
  size_t capacity_ = 0;
  bool writable_;
  // The writable shared mapping of the active file (nullptr: none; Append pwrites).
  uint8_t* wmap_ = nullptr;
  size_t wmap_length_ = 0;
};

}  // namespace tidelog
