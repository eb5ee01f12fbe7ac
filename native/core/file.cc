#include "core/file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace tidelog {

Status ErrnoStatus(int err, const std::string& what, const std::string& path) {
  std::string msg = what + " " + path + ": " + strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status(Code::kDiskFull, "disk full: " + msg);
  return Status(Code::kIoError, msg);
}

Status File::Open(const std::string& path, int flags, std::shared_ptr<File>* out) {
  int fd;
  do {
    fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  out->reset(new File(fd, path));
  return Status::OK();
}

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}

Status File::Size(uint64_t* size) const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return ErrnoStatus(errno, "fstat", path_);
  *size = static_cast<uint64_t>(st.st_size);
  return Status::OK();
}

Status File::PRead(void* buf, size_t n, uint64_t offset, size_t* read) const {
  size_t done = 0;
  auto* p = static_cast<uint8_t*>(buf);
  while (done < n) {
    ssize_t r = ::pread(fd_, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "pread", path_);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  *read = done;
  return Status::OK();
}

Status File::PWriteAll(const void* buf, size_t n, uint64_t offset) {
  const auto* p = static_cast<const uint8_t*>(buf);
  while (n > 0) {
    ssize_t r = ::pwrite(fd_, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "pwrite", path_);
    }
    if (r == 0) return ErrnoStatus(ENOSPC, "pwrite", path_);
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return Status::OK();
}

Status File::PWriteVAll(std::vector<struct iovec>& iov, uint64_t offset) {
  size_t i = 0;
  while (i < iov.size()) {
    int count = static_cast<int>(std::min<size_t>(iov.size() - i, IOV_MAX));
    ssize_t r = ::pwritev(fd_, &iov[i], count, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "pwritev", path_);
    }
    if (r == 0) return ErrnoStatus(ENOSPC, "pwritev", path_);
    offset += static_cast<uint64_t>(r);
    size_t left = static_cast<size_t>(r);
    while (left > 0 && i < iov.size()) {
      if (left >= iov[i].iov_len) {
        left -= iov[i].iov_len;
        i++;
      } else {
        iov[i].iov_base = static_cast<uint8_t*>(iov[i].iov_base) + left;
        iov[i].iov_len -= left;
        left = 0;
      }
    }
    while (i < iov.size() && iov[i].iov_len == 0) i++;
  }
  return Status::OK();
}

Status File::Truncate(uint64_t size) {
  while (::ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "ftruncate", path_);
  }
  return Status::OK();
}

Status File::Allocate(uint64_t offset, uint64_t len) {
#if defined(__linux__)
  int r;
  do {
    r = ::fallocate(fd_, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
  } while (r != 0 && errno == EINTR);
  if (r == 0) return Status::OK();
  if (errno != EOPNOTSUPP && errno != ENOSYS) return ErrnoStatus(errno, "fallocate", path_);
#endif
  // No fallocate here: fall back to writing zeros, which reserves space just the same.
  uint64_t size;
  TL_RETURN_IF_ERROR(Size(&size));
  if (size >= offset + len) return Status::OK();
  std::vector<uint8_t> zeros(65536, 0);
  for (uint64_t pos = size; pos < offset + len;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(zeros.size(), offset + len - pos));
    TL_RETURN_IF_ERROR(PWriteAll(zeros.data(), n, pos));
    pos += n;
  }
  return Status::OK();
}

Status File::ZeroRange(uint64_t offset, uint64_t len) {
#if defined(__linux__) && defined(FALLOC_FL_ZERO_RANGE)
  int r;
  do {
    r = ::fallocate(fd_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(len));
  } while (r != 0 && errno == EINTR);
  if (r == 0) return Status::OK();
  if (errno != EOPNOTSUPP && errno != ENOSYS && errno != EINVAL) return ErrnoStatus(errno, "fallocate", path_);
#endif
  return WriteZeros(offset, len);
}

Status File::WriteZeros(uint64_t offset, uint64_t len) {
  static const uint8_t kZeros[256 * 1024] = {};
  while (len > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, sizeof(kZeros)));
    TL_RETURN_IF_ERROR(PWriteAll(kZeros, n, offset));
    offset += n;
    len -= n;
  }
  return Status::OK();
}

namespace {

// A thread of the process that runs small tasks in order, off the caller's
// thread. Started on first use, never stopped or destroyed (a task may still
// run while the process exits). Bounded: past max_pending, Enqueue refuses and
// the caller does the work itself or goes without.
class BackgroundQueue {
 public:
  explicit BackgroundQueue(size_t max_pending) : max_pending_(max_pending) {}

  // False when the task was not queued (queue full, no thread).
  bool Enqueue(std::function<void()> task) {
    std::unique_lock<std::mutex> g(mu_);
    if (pending_.size() >= max_pending_) return false;
    if (!started_) {
      started_ = true;
      try {
        std::thread([this] { Loop(); }).detach();
        running_ = true;
      } catch (...) {
        running_ = false;
      }
    }
    if (!running_) return false;
    pending_.push_back(std::move(task));
    enqueued_total_++;
    g.unlock();
    wake_.notify_one();
    return true;
  }

  // Waits until every task queued before the call has run (and let go of what it held).
  void Drain() {
    std::unique_lock<std::mutex> g(mu_);
    uint64_t target = enqueued_total_;
    idle_.wait(g, [&] { return done_total_ >= target; });
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> g(mu_);
    for (;;) {
      wake_.wait(g, [&] { return !pending_.empty(); });
      std::function<void()> task = std::move(pending_.front());
      pending_.pop_front();
      g.unlock();
      task();
      task = nullptr;  // its captures (descriptors, files) go before it counts as done
      g.lock();
      done_total_++;
      idle_.notify_all();
    }
  }

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable wake_, idle_;
  std::deque<std::function<void()>> pending_;
  uint64_t enqueued_total_ = 0;
  uint64_t done_total_ = 0;  // tasks run and their captures released
  bool started_ = false, running_ = false;
};

// Writeback requests (File::StartWriteback) run on a thread of their own, not
// on the appending one: sync_file_range(WRITE) submits the range's dirty pages
// and, while the device's queue is full, waits for room (p50 0.55 ms per 4 MiB
// request on the dev box, but single calls of 113 ms were seen: a stall of the
// JS thread that appends). Each request holds a duplicate of the descriptor, so it
// outlives the File. Past 64 waiting requests the caller makes the call itself,
// which paces a writer that outruns the disk.
BackgroundQueue& WritebackTasks() {
  static BackgroundQueue* q = new BackgroundQueue(64);
  return *q;
}

// RunInBackground's thread: separate from the writeback one, whose calls can
// wait for the device for a long time.
BackgroundQueue& OtherTasks() {
  static BackgroundQueue* q = new BackgroundQueue(256);
  return *q;
}

}  // namespace

#if defined(__linux__)
namespace {

// Queues call(d) on the writeback thread, with d a duplicate of `fd` (closed
// after the call): the request outlives the File. False when it was not queued.
bool OnWritebackThread(int fd, void (*call)(int d, uint64_t offset, uint64_t len), uint64_t offset, uint64_t len) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return false;
  if (WritebackTasks().Enqueue([dup, call, offset, len] {
        call(dup, offset, len);
        ::close(dup);
      })) {
    return true;
  }
  ::close(dup);
  return false;
}

void WriteBack(int fd, uint64_t offset, uint64_t len) {
  ::sync_file_range(fd, static_cast<off_t>(offset), static_cast<off_t>(len), SYNC_FILE_RANGE_WRITE);
}

void DataSyncHint(int fd, uint64_t, uint64_t) { ::fdatasync(fd); }

}  // namespace
#endif

void File::StartWriteback(uint64_t offset, uint64_t len) {
#if defined(__linux__)
  if (!OnWritebackThread(fd_, WriteBack, offset, len)) WriteBack(fd_, offset, len);
#else
  (void)offset;
  (void)len;
#endif
}

void File::SyncInBackground() {
#if defined(__linux__)
  OnWritebackThread(fd_, DataSyncHint, 0, 0);  // a hint: skipped when the thread is far behind
#endif
}

bool RunInBackground(std::function<void()> task) { return OtherTasks().Enqueue(std::move(task)); }

void DrainBackground() {
  WritebackTasks().Drain();
  OtherTasks().Drain();
}

Status File::DataSync() {
#if defined(__APPLE__)
  if (::fcntl(fd_, F_FULLFSYNC) == 0) return Status::OK();
#endif
  while (::fdatasync(fd_) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "fdatasync", path_);
  }
  return Status::OK();
}

Status File::Sync() {
  while (::fsync(fd_) != 0) {
    if (errno != EINTR) return ErrnoStatus(errno, "fsync", path_);
  }
  return Status::OK();
}

Status SyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int r;
  do {
    r = ::fsync(fd);
  } while (r != 0 && errno == EINTR);
  int err = errno;
  ::close(fd);
  if (r != 0) return ErrnoStatus(err, "fsync directory", dir);
  return Status::OK();
}

Status WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& data) {
  std::string tmp = dir + "/" + name + ".tmp";
  std::string dst = dir + "/" + name;
  {
    std::shared_ptr<File> f;
    TL_RETURN_IF_ERROR(File::Open(tmp, O_WRONLY | O_CREAT | O_TRUNC, &f));
    Status st = f->PWriteAll(data.data(), data.size(), 0);
    if (st.ok()) st = f->Sync();
    if (!st.ok()) {
      ::unlink(tmp.c_str());
      return st;
    }
  }
  if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus(err, "rename", tmp);
  }
  return SyncDir(dir);
}

Status ReadSmallFile(const std::string& path, std::string* out, bool* missing) {
  *missing = false;
  if (!FileExists(path)) {
    *missing = true;
    return Status::OK();
  }
  std::shared_ptr<File> f;
  TL_RETURN_IF_ERROR(File::Open(path, O_RDONLY, &f));
  uint64_t size;
  TL_RETURN_IF_ERROR(f->Size(&size));
  if (size > (1u << 20)) return Status(Code::kCorrupt, "file too large to be a checkpoint: " + path);
  out->resize(static_cast<size_t>(size));
  size_t got = 0;
  TL_RETURN_IF_ERROR(f->PRead(&(*out)[0], out->size(), 0, &got));
  out->resize(got);
  return Status::OK();
}

Status RemoveFile(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "unlink", path);
  return Status::OK();
}

Status ListDir(const std::string& dir, std::vector<std::string>* names) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoStatus(errno, "opendir", dir);
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names->push_back(std::move(n));
  }
  ::closedir(d);
  return Status::OK();
}

Status MakeDirs(const std::string& dir) {
  if (dir.empty()) return Status::OK();
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return Status::OK();
    return Status(Code::kInvalidArgument, "not a directory: " + dir);
  }
  size_t slash = dir.find_last_of('/');
  if (slash != std::string::npos && slash > 0) TL_RETURN_IF_ERROR(MakeDirs(dir.substr(0, slash)));
  if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir", dir);
  return Status::OK();
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

}  // namespace tidelog
