// Mapping: a read-only, shared memory mapping of (a prefix of) a file.
//
// Ownership: a Mapping is held by std::shared_ptr. The segment that made it holds
// one reference; every zero-copy Buffer handed to JavaScript holds another,
// dropped by the Buffer's finalizer. munmap runs when the last reference goes,
// so a Buffer stays valid after its segment rolls, is deleted or the log closes.
//
// The mapping may be longer than the file (the active segment is mapped to its
// full segmentBytes up front); only bytes below the file's end may be touched,
// or the kernel raises SIGBUS. Callers keep to that by reading only below the
// segment's valid size. Two things make a shrinking file safe anyway:
//
// - In this process, every live Mapping is registered by the file's device and
//   inode. Before the log truncates a file it calls ZeroMappingsFrom(): every
//   mapping of that file, in any Log of any thread (old mappings a Buffer still
//   holds, from before an earlier truncation or a close and reopen; read-only
//   logs in worker threads), gets private zero pages from the cut on, so a
//   Buffer reads its old bytes or zeros, never SIGBUS and never the bytes a
//   later append writes at the same positions.
// - Another process can shrink a file we have mapped (a writer truncating while
//   this process reads read-only). A SIGBUS handler, installed with the first
//   mapping, looks the faulting address up in a lock-free table of our mappings:
//   inside one, the page is replaced by a zero page and the read goes on (the
//   read-only log then sees that the writer's generation changed, and reads
//   again); outside, the previous disposition runs (by default: the process dies
//   with SIGBUS, as it would have without us).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/status.h"

namespace tidelog {

class Mapping {
 public:
  static Status Map(int fd, size_t length, const std::string& path, std::shared_ptr<Mapping>* out);
  ~Mapping();
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  const uint8_t* data() const { return data_; }
  size_t length() const { return length_; }
  // Replaces the pages from the one containing `offset` to the end with private
  // anonymous pages: zeros from `offset` on, the file's bytes below it. Used
  // before truncating the mapped file, whose pages from `offset` on later
  // appends rewrite.
  void ZeroFrom(size_t offset);

 private:
  Mapping(uint8_t* data, size_t length, dev_t dev, ino_t ino) : data_(data), length_(length), dev_(dev), ino_(ino) {}
  friend void ZeroMappingsFrom(int fd, size_t offset);
  uint8_t* data_;
  size_t length_;
  dev_t dev_;
  ino_t ino_;
  int slot_ = -1;  // this mapping's entry in the SIGBUS guard's table, or -1
};

// Calls ZeroFrom(offset) on every live mapping of the file open as `fd`, in this
// process. Call before the file shrinks below `offset`'s page.
void ZeroMappingsFrom(int fd, size_t offset);

// Pages the SIGBUS guard has replaced by zeros since the process started (tests).
uint64_t SigbusPagesZeroed();

size_t PageSize();

}  // namespace tidelog
