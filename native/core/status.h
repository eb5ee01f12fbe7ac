// Status: the result of every fallible operation in the storage core.
//
// The core never throws: each call returns a Status. The binding turns a
// non-OK Status into a JS error of the matching class; the code names below are
// the stable `code` strings of src/errors.ts and a test checks the two lists agree.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

namespace tidelog {

// X(enumerator, code string shared with TypeScript)
#define TIDELOG_STATUS_CODES(X)                  \
  X(kOk, "OK")                                   \
  X(kIoError, "IO_ERROR")                        \
  X(kDiskFull, "DISK_FULL")                      \
  X(kCorrupt, "CORRUPT_RECORD")                  \
  X(kInvalidArgument, "INVALID_ARGUMENT")        \
  X(kInvalidBatch, "INVALID_BATCH")              \
  X(kBatchTooLarge, "BATCH_TOO_LARGE")           \
  X(kOffsetOutOfRange, "OFFSET_OUT_OF_RANGE")    \
  X(kLocked, "LOG_LOCKED")                       \
  X(kClosed, "LOG_CLOSED")                       \
  X(kReadOnly, "READ_ONLY")

enum class Code : int {
#define TIDELOG_ENUM(name, str) name,
  TIDELOG_STATUS_CODES(TIDELOG_ENUM)
#undef TIDELOG_ENUM
};

const char* CodeName(Code code);

// An OK Status is one null pointer: hot paths (a point read makes a dozen)
// pay nothing for the message and the location an error carries.
class Status {
 public:
  Status() = default;
  Status(Code code, std::string message) {
    if (code != Code::kOk) rep_.reset(new Rep{code, std::move(message), std::string(), -1, -1});
  }
  Status(const Status& o) : rep_(o.rep_ ? new Rep(*o.rep_) : nullptr) {}
  Status(Status&&) noexcept = default;
  Status& operator=(const Status& o) {
    if (this != &o) rep_.reset(o.rep_ ? new Rep(*o.rep_) : nullptr);
    return *this;
  }
  Status& operator=(Status&&) noexcept = default;

  static Status OK() { return Status(); }
  // kCorrupt naming where: the file, the byte position in it and the record
  // offset concerned (-1 when unknown). The binding copies the three onto the
  // CorruptRecordError it throws.
  static Status Corrupt(std::string message, std::string file, int64_t position, int64_t offset) {
    Status s;
    s.rep_.reset(new Rep{Code::kCorrupt, std::move(message), std::move(file), position, offset});
    return s;
  }
  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  const std::string& message() const { return rep_ ? rep_->message : Empty(); }
  const std::string& file() const { return rep_ ? rep_->file : Empty(); }
  int64_t position() const { return rep_ ? rep_->position : -1; }
  int64_t offset() const { return rep_ ? rep_->offset : -1; }

 private:
  struct Rep {
    Code code;
    std::string message;
    std::string file;
    int64_t position;
    int64_t offset;
  };
  static const std::string& Empty() {
    static const std::string empty;
    return empty;
  }
  std::unique_ptr<Rep> rep_;  // null: OK
};

// Return early with the status of `expr` if it failed.
#define TL_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::tidelog::Status _st = (expr);       \
    if (!_st.ok()) return _st;            \
  } while (0)

}  // namespace tidelog
