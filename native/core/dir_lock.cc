#include "core/dir_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include "core/file.h"
#include "core/format.h"

namespace tidelog {

Status DirLock::Acquire(const std::string& dir, std::unique_ptr<DirLock>* out) {
  std::string path = dir + "/" + format::kLockFile;
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "open lock file", path);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      return Status(Code::kLocked, "log " + dir + " is already open for writing (lock held on " + path + ")");
    }
    return ErrnoStatus(err, "flock", path);
  }
  out->reset(new DirLock(fd));
  return Status::OK();
}

DirLock::~DirLock() {
  if (fd_ >= 0) ::close(fd_);  // closing the descriptor releases the flock
}

}  // namespace tidelog
