// File: an owned file descriptor with the few operations the log needs.
//
// Every operation returns a Status; ENOSPC and EDQUOT become kDiskFull so that
// a full disk is a typed error at the call that hit it. Files are shared
// (std::shared_ptr) between the log, which appends on the JS thread, and sync
// jobs, which fdatasync on a worker thread: the descriptor closes only when the
// last owner lets go.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace tidelog {

Status ErrnoStatus(int err, const std::string& what, const std::string& path);

class File {
 public:
  // flags as for open(2); O_CLOEXEC is always added.
  static Status Open(const std::string& path, int flags, std::shared_ptr<File>* out);
  ~File();
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

  Status Size(uint64_t* size) const;
  Status PRead(void* buf, size_t n, uint64_t offset, size_t* read) const;
  Status PWriteAll(const void* buf, size_t n, uint64_t offset);
  // Writes every iovec at `offset`. On failure the caller truncates back.
  Status PWriteVAll(std::vector<struct iovec>& iov, uint64_t offset);
  Status Truncate(uint64_t size);
  // Reserves [offset, offset+len) on disk (fallocate), so later writes there cannot hit ENOSPC.
  Status Allocate(uint64_t offset, uint64_t len);
  // Zeroes [offset, offset + len) of the file in place, keeping its size and blocks.
  Status ZeroRange(uint64_t offset, uint64_t len);
  // Writes `len` zero bytes at `offset`: real writes, not a hole or an
  // unwritten extent (see Segment's zero tail).
  Status WriteZeros(uint64_t offset, uint64_t len);
  // Starts writing back [offset, offset+len) (sync_file_range WRITE on Linux,
  // else nothing): a hint, so that a later fdatasync finds less to do. Made by
  // a background thread of the process, so the caller does not wait for the
  // device's queue (the caller makes it itself only when that thread is far behind).
  void StartWriteback(uint64_t offset, uint64_t len);
  // An fdatasync made by the writeback thread, after the writeback requests
  // queued before it, whose result nobody waits for: the device persists what
  // it holds now, so a later sync has less to wait for. A hint, never a
  // guarantee (acknowledgements come from DataSync in a sync job). Linux only.
  void SyncInBackground();
  Status DataSync();
  Status Sync();

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

// Runs `task` on a background thread of the process (one thread, tasks in
// order). False when it was not queued (too many waiting, no thread): the
// caller does without. The task must own what it uses (shared_ptr captures).
bool RunInBackground(std::function<void()> task);
// Waits until every writeback request (StartWriteback) and background task
// made so far is done and has let go of what it held: a closed log then holds
// no descriptor.
void DrainBackground();
// fsync a directory so that creates, renames and unlinks in it are durable.
Status SyncDir(const std::string& dir);
// Write `data` to dir/name atomically: temp file, fsync, rename, fsync dir.
Status WriteFileAtomic(const std::string& dir, const std::string& name, const std::string& data);
// Reads a whole (small) file. kIoError with errno ENOENT reported via *missing.
Status ReadSmallFile(const std::string& path, std::string* out, bool* missing);
Status RemoveFile(const std::string& path);  // ENOENT is not an error
Status ListDir(const std::string& dir, std::vector<std::string>* names);
Status MakeDirs(const std::string& dir);
bool FileExists(const std::string& path);

}  // namespace tidelog
