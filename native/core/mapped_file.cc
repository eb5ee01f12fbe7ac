#include "core/mapped_file.h"

#include <errno.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "core/file.h"

namespace tidelog {

size_t PageSize() {
  static const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  return page;
}

namespace {

// ---- The SIGBUS guard ------------------------------------------------------
// A fixed table the signal handler can read without locks: slot i holds the
// [start, end) of one live mapping, or start 0. Slots are claimed with a CAS on
// `start` (from 0 to a placeholder 1, then the real range) and freed before the
// munmap. A mapping that finds no free slot is simply unguarded.
constexpr size_t kGuardSlots = 1 << 15;
struct GuardSlot {
  std::atomic<uintptr_t> start{0};
  std::atomic<uintptr_t> end{0};
};
GuardSlot g_slots[kGuardSlots];
std::atomic<size_t> g_slots_used{0};  // slots at or above this were never claimed
std::atomic<uint64_t> g_zeroed{0};
struct sigaction g_previous;
std::once_flag g_install_once;
uintptr_t g_page_mask = 0;  // set before the handler is installed: no lazy init inside it

void ChainPrevious(int sig, siginfo_t* info, void* context) {
  if (g_previous.sa_flags & SA_SIGINFO) {
    if (g_previous.sa_sigaction != nullptr) {
      g_previous.sa_sigaction(sig, info, context);
      return;
    }
  } else if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  // Default: die of SIGBUS as if no handler were installed (the faulting access
  // repeats once we return, and now kills the process).
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGBUS, &dfl, nullptr);
}

void OnSigbus(int sig, siginfo_t* info, void* context) {
  int saved_errno = errno;
  uintptr_t addr = reinterpret_cast<uintptr_t>(info->si_addr);
  size_t used = g_slots_used.load(std::memory_order_acquire);
  for (size_t i = 0; i < used; i++) {
    uintptr_t start = g_slots[i].start.load(std::memory_order_acquire);
    if (start <= 1 || addr < start || addr >= g_slots[i].end.load(std::memory_order_acquire)) continue;
    // Our read-only mapping of a file that shrank under it: a zero page instead.
    uintptr_t page = addr & g_page_mask;
    void* p = ::mmap(reinterpret_cast<void*>(page), ~g_page_mask + 1, PROT_READ,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    errno = saved_errno;
    if (p != MAP_FAILED) {
      g_zeroed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    break;
  }
  errno = saved_errno;
  ChainPrevious(sig, info, context);
}

void InstallGuard() {
  std::call_once(g_install_once, [] {
    g_page_mask = ~(static_cast<uintptr_t>(PageSize()) - 1);
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = OnSigbus;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    ::sigaction(SIGBUS, &sa, &g_previous);
  });
}

int ClaimSlot(uintptr_t start, uintptr_t end) {
  for (size_t i = 0; i < kGuardSlots; i++) {
    uintptr_t expected = 0;
    if (g_slots[i].start.load(std::memory_order_relaxed) != 0) continue;
    if (!g_slots[i].start.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) continue;
    g_slots[i].end.store(end, std::memory_order_release);
    g_slots[i].start.store(start, std::memory_order_release);
    size_t used = g_slots_used.load(std::memory_order_acquire);
    while (used < i + 1 && !g_slots_used.compare_exchange_weak(used, i + 1, std::memory_order_acq_rel)) {
    }
    return static_cast<int>(i);
  }
  return -1;
}

void ReleaseSlot(int slot) {
  if (slot < 0) return;
  g_slots[slot].end.store(0, std::memory_order_release);
  g_slots[slot].start.store(0, std::memory_order_release);
}

// ---- Live mappings by file -------------------------------------------------
std::mutex g_live_mu;
std::vector<std::weak_ptr<Mapping>>* g_live = new std::vector<std::weak_ptr<Mapping>>();  // never destroyed

}  // namespace

Status Mapping::Map(int fd, size_t length, const std::string& path, std::shared_ptr<Mapping>* out) {
  InstallGuard();
  if (length == 0) length = PageSize();
  struct stat st;
  if (::fstat(fd, &st) != 0) return ErrnoStatus(errno, "fstat", path);
  void* p = ::mmap(nullptr, length, PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return ErrnoStatus(errno, "mmap", path);
  std::shared_ptr<Mapping> m(new Mapping(static_cast<uint8_t*>(p), length, st.st_dev, st.st_ino));
  m->slot_ = ClaimSlot(reinterpret_cast<uintptr_t>(p), reinterpret_cast<uintptr_t>(p) + length);
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    // Drop the entries of mappings gone since, then add this one.
    size_t kept = 0;
    for (size_t i = 0; i < g_live->size(); i++) {
      if ((*g_live)[i].expired()) continue;
      if (kept != i) (*g_live)[kept] = std::move((*g_live)[i]);  // never self-move: it empties a weak_ptr
      kept++;
    }
    g_live->resize(kept);
    g_live->push_back(m);
  }
  *out = std::move(m);
  return Status::OK();
}

Mapping::~Mapping() {
  ReleaseSlot(slot_);
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

void ZeroMappingsFrom(int fd, size_t offset) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return;
  std::vector<std::shared_ptr<Mapping>> same;
  {
    std::lock_guard<std::mutex> lock(g_live_mu);
    for (const std::weak_ptr<Mapping>& w : *g_live) {
      std::shared_ptr<Mapping> m = w.lock();
      if (m && m->dev_ == st.st_dev && m->ino_ == st.st_ino) same.push_back(std::move(m));
    }
  }
  for (const std::shared_ptr<Mapping>& m : same) m->ZeroFrom(offset);
}

uint64_t SigbusPagesZeroed() { return g_zeroed.load(std::memory_order_relaxed); }

}  // namespace tidelog
