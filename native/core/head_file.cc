#include "core/head_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>

#include "core/file.h"
#include "core/format.h"

namespace tidelog {

namespace {

constexpr uint64_t kMagic = 0x544C484541443031ull;  // "TLHEAD01"
constexpr size_t kFileSize = 4096;

struct Shared {
  std::atomic<uint64_t> magic;
  std::atomic<uint64_t> seq;
  std::atomic<int64_t> fields[10];  // HeadState in order (src/testing/power-loss.ts reads the same layout)
};
static_assert(sizeof(Shared) <= kFileSize, "head fits in a page");

// Gives the head file kFileSize allocated bytes. Extending it with ftruncate
// would leave a hole, and the first store through the shared mapping would
// then have to allocate the page: on a full disk that is a SIGBUS, not an
// error. posix_fallocate also fills a hole an earlier writer left, and never
// overwrites data; where it is missing, zeros are written past the end.
Status ReserveHead(int fd, const std::string& path) {
#if defined(__linux__)
  int err;
  do {
    err = ::posix_fallocate(fd, 0, kFileSize);
  } while (err == EINTR);
  if (err == 0) return Status::OK();
  if (err != EOPNOTSUPP && err != ENOSYS && err != EINVAL) return ErrnoStatus(err, "fallocate", path);
#endif
  static const uint8_t zeros[kFileSize] = {};
  off_t at = ::lseek(fd, 0, SEEK_END);
  if (at < 0) return ErrnoStatus(errno, "lseek", path);
  while (at < static_cast<off_t>(kFileSize)) {
    ssize_t n = ::pwrite(fd, zeros + at, kFileSize - static_cast<size_t>(at), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "pwrite", path);
    if (n == 0) return ErrnoStatus(ENOSPC, "pwrite", path);
    at += n;
  }
  return Status::OK();
}

}  // namespace

Status HeadFile::Open(const std::string& dir, bool writable, std::unique_ptr<HeadFile>* out) {
  std::string path = dir + "/" + format::kHeadFile;
  int fd = ::open(path.c_str(), (writable ? (O_RDWR | O_CREAT) : O_RDONLY) | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  if (writable) {
    Status st = ReserveHead(fd, path);
    if (!st.ok()) {
      ::close(fd);
      return st;
    }
  }
  off_t size = ::lseek(fd, 0, SEEK_END);
  if (size < static_cast<off_t>(kFileSize)) {
    ::close(fd);
    return Status(Code::kIoError, "head file " + path + " is too short; no writer has opened this log");
  }
  void* p = ::mmap(nullptr, kFileSize, writable ? (PROT_READ | PROT_WRITE) : PROT_READ, MAP_SHARED, fd, 0);
  int err = errno;
  ::close(fd);
  if (p == MAP_FAILED) return ErrnoStatus(err, "mmap", path);
  out->reset(new HeadFile(p, writable));
  return Status::OK();
}

HeadFile::~HeadFile() { ::munmap(map_, kFileSize); }

void HeadFile::Publish(const HeadState& s) {
  auto* h = static_cast<Shared*>(map_);
  uint64_t seq = h->seq.load(std::memory_order_relaxed);
  if (seq & 1) seq++;  // a writer that died mid-publish
  h->seq.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  const int64_t v[10] = {s.log_start_offset,
                         s.log_end_offset,
                         s.durable_offset,
                         s.active_base_offset,
                         static_cast<int64_t>(s.active_size),
                         static_cast<int64_t>(s.offset_index_entries),
                         static_cast<int64_t>(s.time_index_entries),
                         static_cast<int64_t>(s.generation),
                         s.durable_segment_base,
                         static_cast<int64_t>(s.durable_segment_size)};
  for (int i = 0; i < 10; i++) h->fields[i].store(v[i], std::memory_order_relaxed);
  h->magic.store(kMagic, std::memory_order_relaxed);
  h->seq.store(seq + 2, std::memory_order_release);
}

bool HeadFile::Read(HeadState* s) const {
  auto* h = static_cast<Shared*>(map_);
  for (int attempt = 0;; attempt++) {
    uint64_t before = h->seq.load(std::memory_order_acquire);
    if (h->magic.load(std::memory_order_relaxed) != kMagic) return false;
    // An odd sequence that never settles is a writer killed mid-publish: its
    // fields are whole offsets, each written atomically, so take them as they are.
    if ((before & 1) && attempt < 100000) continue;
    int64_t v[10];
    for (int i = 0; i < 10; i++) v[i] = h->fields[i].load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (h->seq.load(std::memory_order_relaxed) != before && attempt < 100000) continue;
    s->log_start_offset = v[0];
    s->log_end_offset = v[1];
    s->durable_offset = v[2];
    s->active_base_offset = v[3];
    s->active_size = static_cast<uint64_t>(v[4]);
    s->offset_index_entries = static_cast<uint64_t>(v[5]);
    s->time_index_entries = static_cast<uint64_t>(v[6]);
    s->generation = static_cast<uint64_t>(v[7]);
    s->durable_segment_base = v[8];
    s->durable_segment_size = static_cast<uint64_t>(v[9]);
    return true;
  }
}

}  // namespace tidelog
