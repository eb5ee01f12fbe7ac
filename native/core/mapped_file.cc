#include "core/mapped_file.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

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
  size_t start = (offset + page - 1) / page * page;
  if (start >= length_) return;
  // MAP_FIXED over our own range: atomically swaps the file pages for zero pages.
  ::mmap(data_ + start, length_ - start, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
}

}  // namespace tidelog
