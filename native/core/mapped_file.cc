#include "core/mapped_file.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "core/file.h"

namespace tidelog {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

Status Mapping::Map(int fd, size_t length, const std::string& path, std::shared_ptr<Mapping>* out) {
  if (length == 0) length = PageSize();
  void* p = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap", path);
  out->reset(new Mapping(static_cast<uint8_t*>(p), length));
  return Status::OK();
}

Mapping::~Mapping() {
  if (data_ != nullptr) ::munmap(data_, length_);
}

void Mapping::ZeroFrom(size_t offset) {
  size_t page = PageSize();
  size_t floor = offset / page * page;
  if (floor >= length_) return;
  // The page holding `offset` is shared with the file: later appends rewrite its
  // bytes past `offset`, and a Buffer over them would see those new bytes. So it
  // becomes a private copy too: its bytes below `offset` (still in the file) are
  // saved, and written back into the anonymous page.
  size_t keep = offset - floor;
  std::vector<uint8_t> saved(data_ + floor, data_ + offset);
  // MAP_FIXED over our own range: atomically swaps the file pages for zero pages.
  void* p = ::mmap(data_ + floor, length_ - floor, keep > 0 ? PROT_READ | PROT_WRITE : PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  if (p == MAP_FAILED || keep == 0) return;
  std::memcpy(data_ + floor, saved.data(), keep);
  ::mprotect(data_ + floor, page, PROT_READ);
}

}  // namespace tidelog
