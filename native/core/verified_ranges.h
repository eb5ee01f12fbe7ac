// VerifiedRanges: the byte ranges of one segment whose batches passed their
// CRC-32C check during this session, so that reading them again does not pay
// for the check again (docs/architecture.md, "Corruption on read").
//
// Owned by its Segment, used on the JS thread only. A range is added only for
// whole batches: a batch whose CRC was computed or checked when it was
// appended, checked by recovery, or checked by a read. Nothing is persisted:
// a new session (or a reader's reload) checks every batch again on first read.
//
// Shape: `prefix_` covers [0, prefix_) — a sequential reader or a full recovery
// scan extends it, and testing against it is one comparison, which is what the
// hot paths (W4 sequential read, W5 point read) hit once a segment has been
// read through. Anything verified out of order (point reads, appends after a
// clean open) goes into a map of disjoint, non-adjacent ranges that merge as
// they meet; a range reaching prefix_ is folded into it. The map is bounded:
// when it holds kMaxRanges ranges it is dropped (those batches are checked
// again when next read), so its memory stays below ~4 MiB per segment.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>

namespace tidelog {

class VerifiedRanges {
 public:
  static constexpr size_t kMaxRanges = 1u << 16;

  // True when every byte of [begin, end) was verified.
  bool Contains(uint64_t begin, uint64_t end) const {
    if (end <= prefix_) return true;
    if (ranges_.empty()) return false;
    auto it = ranges_.upper_bound(begin);  // first range starting after begin
    if (it == ranges_.begin()) return false;
    --it;
    return it->second >= end;
  }

  void Add(uint64_t begin, uint64_t end) {
    if (begin >= end) return;
    if (begin <= prefix_) {
      if (end > prefix_) prefix_ = end;
      Absorb();
      return;
    }
    // Merge with every range that overlaps or touches [begin, end).
    auto it = ranges_.upper_bound(begin);
    if (it != ranges_.begin()) {
      auto prev = std::prev(it);
      if (prev->second >= begin) {
        begin = prev->first;
        if (prev->second > end) end = prev->second;
        it = ranges_.erase(prev);
      }
    }
    while (it != ranges_.end() && it->first <= end) {
      if (it->second > end) end = it->second;
      it = ranges_.erase(it);
    }
    if (ranges_.size() >= kMaxRanges) ranges_.clear();
    ranges_.emplace(begin, end);
  }

  // Forgets everything at or after `end` (the file was cut there).
  void TruncateTo(uint64_t end) {
    if (prefix_ > end) prefix_ = end;
    auto it = ranges_.lower_bound(end);
    ranges_.erase(it, ranges_.end());
    if (!ranges_.empty()) {
      auto last = std::prev(ranges_.end());
      if (last->second > end) last->second = end;
    }
  }

  void Clear() {
    prefix_ = 0;
    ranges_.clear();
  }

  uint64_t prefix() const { return prefix_; }
  size_t ranges() const { return ranges_.size(); }

 private:
  // Folds the ranges that now touch the prefix into it.
  void Absorb() {
    auto it = ranges_.begin();
    while (it != ranges_.end() && it->first <= prefix_) {
      if (it->second > prefix_) prefix_ = it->second;
      it = ranges_.erase(it);
    }
  }

  uint64_t prefix_ = 0;
  std::map<uint64_t, uint64_t> ranges_;  // begin -> end; all begins > prefix_
};

}  // namespace tidelog
