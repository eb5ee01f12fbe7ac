// Status: the result of every fallible operation in the storage core.
//
// The core never throws: each call returns a Status. The binding turns a
// non-OK Status into a JS error of the matching class; the code names below are
// the stable `code` strings of src/errors.ts and a test checks the two lists agree.
#pragma once

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

class Status {
 public:
  Status() : code_(Code::kOk) {}
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status OK() { return Status(); }
  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  Code code_;
  std::string message_;
};

// Return early with the status of `expr` if it failed.
#define TL_RETURN_IF_ERROR(expr)          \
  do {                                    \
    ::tidelog::Status _st = (expr);       \
    if (!_st.ok()) return _st;            \
  } while (0)

}  // namespace tidelog
