#include "core/index_file.h"

#include <fcntl.h>
#include <sys/mman.h>

#include <cstring>

namespace tidelog {

Status IndexFile::Open(const std::string& path, size_t entry_size, bool writable, std::unique_ptr<IndexFile>* out) {
  std::shared_ptr<File> f;
  TL_RETURN_IF_ERROR(File::Open(path, writable ? (O_RDWR | O_CREAT) : O_RDONLY, &f));
  std::unique_ptr<IndexFile> idx(new IndexFile(std::move(f), entry_size, writable));
  uint64_t size;
  TL_RETURN_IF_ERROR(idx->file_->Size(&size));
  TL_RETURN_IF_ERROR(idx->Remap(static_cast<size_t>(size)));
  idx->entries_ = static_cast<size_t>(size) / entry_size;
  *out = std::move(idx);
  return Status::OK();
}

// Unmapped before file_ (a member) closes the descriptor.
IndexFile::~IndexFile() { UnmapWritable(); }

Status IndexFile::Remap(size_t length) {
  std::shared_ptr<Mapping> m;
  TL_RETURN_IF_ERROR(Mapping::Map(file_->fd(), length, file_->path(), &m));
  map_ = std::move(m);
  capacity_ = length / entry_size_;
  return Status::OK();
}

// The writable mapping is deliberately not a Mapping: it is not registered
// with the live mappings of mapped_file.cc nor in the SIGBUS guard's table.
// - ZeroMappingsFrom (a cut of a .log) must never swap its pages for private
//   ones: stores would then silently stop reaching the file. (It only ever
//   names .log files, but a registered mapping would be exposed to it.)
// - The guard's remedy for SIGBUS is a read-only zero page, which absorbs a
//   read but not a store: a store there would fault again (SIGSEGV). And no
//   SIGBUS is expected: the file is at least `length` long and allocated
//   before this is mapped (Activate), only this IndexFile ever shrinks it and
//   it unmaps first (Seal; Reset zeroes without shrinking), and no other
//   process writes to it (the writer holds the directory lock; readers map it
//   read-only). A file cut behind the writer's back, or an I/O error reading a
//   page in, kills the process with SIGBUS, as for any writer through a mapping.
// - It never leaves the IndexFile (no Buffer refers to it), so it needs no
//   reference count: it lives from Activate to Seal/Reset/destruction.
void IndexFile::MapWritable(size_t length) {
  UnmapWritable();
  if (!writable_ || length == 0) return;
  void* p = ::mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, file_->fd(), 0);
  if (p == MAP_FAILED) return;  // e.g. ENOMEM, or too many mappings: Append pwrites instead
  // No read-around: the first store into a fresh (fallocated, never written)
  // file otherwise faults in a whole readahead window of zero pages, a major
  // fault costing more than the pwrites it replaces for a young segment (8
  // logs x 1,000 appends of 125 records, /tmp A/B of bench/micro/append-size.js's
  // loop: system time 123-153 ms with pwrite, 164-207 ms mapped, 115-146 ms
  // mapped with MADV_RANDOM, where each page faults in alone).
  ::madvise(p, length, MADV_RANDOM);
  wmap_ = static_cast<uint8_t*>(p);
  wmap_length_ = length;
}

void IndexFile::UnmapWritable() {
  if (wmap_ == nullptr) return;
  // Dirty pages stay in the page cache (munmap moves the dirty bits to them):
  // a later fdatasync of the file writes them.
  ::munmap(wmap_, wmap_length_);
  wmap_ = nullptr;
  wmap_length_ = 0;
}

Status IndexFile::Append(const uint8_t* data, size_t n) {
  if (entries_ + n > capacity_) return Status(Code::kIoError, "index full: " + path());
  size_t begin = entries_ * entry_size_;
  size_t bytes = n * entry_size_;
  if (wmap_ != nullptr && begin + bytes <= wmap_length_) {
    // Readers elsewhere (other threads' and processes' read-only mappings) use
    // an entry only once the log publishes an entry count covering it
    // (Log::Publish, after this returns): the head's sequence store has release
    // semantics, so these stores are visible before the count is.
    std::memcpy(wmap_ + begin, data, bytes);
  } else {
    TL_RETURN_IF_ERROR(file_->PWriteAll(data, bytes, begin));
  }
  entries_ += n;
  return Status::OK();
}

Status IndexFile::Activate(size_t max_bytes) {
  size_t length = max_bytes / entry_size_ * entry_size_;
  if (length < (entries_ + 1) * entry_size_) length = (entries_ + 1) * entry_size_;
  uint64_t size;
  TL_RETURN_IF_ERROR(file_->Size(&size));
  if (size < length) TL_RETURN_IF_ERROR(file_->Allocate(0, length));
  TL_RETURN_IF_ERROR(Remap(length));
  // Only now that every byte of [0, length) is allocated: see MapWritable.
  MapWritable(length);
  return Status::OK();
}

Status IndexFile::Seal() {
  // Unmapped before the trim: no writable page may lie past the file's end.
  UnmapWritable();
  TL_RETURN_IF_ERROR(file_->Truncate(entries_ * entry_size_));
  return Remap(entries_ * entry_size_);
}

Status IndexFile::Reset(size_t max_bytes) {
  UnmapWritable();  // mapped again, over the zeroed file, by Activate
  entries_ = 0;
  // Zeroed in place, never shrunk: read-only logs (other threads and processes)
  // may have it mapped, and a zero entry only sends their lookups to the start
  // of the segment (a lower bound is all an index entry promises).
  uint64_t size;
  TL_RETURN_IF_ERROR(file_->Size(&size));
  if (size > 0) TL_RETURN_IF_ERROR(file_->ZeroRange(0, size));
  return Activate(max_bytes);
}

}  // namespace tidelog
