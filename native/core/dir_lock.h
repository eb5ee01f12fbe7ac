// DirLock: the single-writer lock of a partition directory.
//
// An exclusive, non-blocking flock(2) on `<dir>/.lock`. flock locks belong to an
// open file description, so a second writer is refused whether it is another
// process or another Log in this one. The kernel drops the lock when the holder
// dies, even by SIGKILL: a crashed writer never leaves a stale lock behind.
// Readers do not take it.
#pragma once

#include <memory>
#include <string>

#include "core/status.h"

namespace tidelog {

class DirLock {
 public:
  static Status Acquire(const std::string& dir, std::unique_ptr<DirLock>* out);
  ~DirLock();
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

 private:
  explicit DirLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace tidelog
