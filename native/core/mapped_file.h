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
// segment's valid size. When the log truncates a file while Buffers still point
// past the new end, ZeroFrom() first replaces those pages with anonymous zero
// pages, so such a Buffer reads zeros instead of killing the process.
#pragma once

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
  Mapping(uint8_t* data, size_t length) : data_(data), length_(length) {}
  uint8_t* data_;
  size_t length_;
};

size_t PageSize();

}  // namespace tidelog
