#include "core/index_file.h"

#include <fcntl.h>

namespace tidelog {

Status IndexFile::Open(const std::string& path, size_t entry_size, bool writable, std::unique_ptr<IndexFile>* out) {
  std::shared_ptr<File> f;
  TL_RETURN_IF_ERROR(File::Open(path, writable ? (O_RDWR | O_CREAT) : O_RDONLY, &f));
  std::unique_ptr<IndexFile> idx(new IndexFile(std::move(f), entry_size));
  uint64_t size;
  TL_RETURN_IF_ERROR(idx->file_->Size(&size));
  TL_RETURN_IF_ERROR(idx->Remap(static_cast<size_t>(size)));
  idx->entries_ = static_cast<size_t>(size) / entry_size;
  *out = std::move(idx);
  return Status::OK();
}

Status IndexFile::Remap(size_t length) {
  std::shared_ptr<Mapping> m;
  TL_RETURN_IF_ERROR(Mapping::Map(file_->fd(), length, file_->path(), &m));
  map_ = std::move(m);
  capacity_ = length / entry_size_;
  return Status::OK();
}

Status IndexFile::Append(const uint8_t* data, size_t n) {
  if (entries_ + n > capacity_) return Status(Code::kIoError, "index full: " + path());
  TL_RETURN_IF_ERROR(file_->PWriteAll(data, n * entry_size_, entries_ * entry_size_));
  entries_ += n;
  return Status::OK();
}

Status IndexFile::Activate(size_t max_bytes) {
  size_t length = max_bytes / entry_size_ * entry_size_;
  if (length < (entries_ + 1) * entry_size_) length = (entries_ + 1) * entry_size_;
  uint64_t size;
  TL_RETURN_IF_ERROR(file_->Size(&size));
  if (size < length) TL_RETURN_IF_ERROR(file_->Allocate(0, length));
  return Remap(length);
}

Status IndexFile::Seal() {
  TL_RETURN_IF_ERROR(file_->Truncate(entries_ * entry_size_));
  return Remap(entries_ * entry_size_);
}

Status IndexFile::Reset(size_t max_bytes) {
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
