// LogHandle: the JS object that owns one core Log.
//
// Hot calls (append, read, getRecord, offsetForTimestamp) return numbers or a
// Buffer; the log's offsets are mirrored into `state`, a Float64Array the handle
// owns, after every call that can change them, so reading logEndOffset from JS
// costs no native call. Records fetched one at a time (getRecord) without
// headers have key and value copied into the record arena JS sets
// (setRecordArena); others are copied into `scratch`, a Buffer set up once per handle.
//
// Zero-copy reads: read() returns a Buffer that points into the segment's
// mapping and holds a reference to it; the mapping is unmapped only after every
// such Buffer has been collected. A log opened read-only returns copies instead
// (the writer in another process may truncate the file under a mapping).
#pragma once

#include <napi.h>

#include <memory>

#include "core/log.h"

namespace tidelog {

class SyncThread;

class LogHandle : public Napi::ObjectWrap<LogHandle> {
 public:
  static Napi::Function Init(Napi::Env env);
  static Napi::Object NewInstance(Napi::Env env, std::unique_ptr<Log> log);
  explicit LogHandle(const Napi::CallbackInfo& info);
  ~LogHandle() override;

  Log* log() { return log_.get(); }
  void UpdateState();
  bool sync_in_flight = false;

 private:
  Napi::Value Append(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value BatchAt(const Napi::CallbackInfo& info);
  Napi::Value GetRecord(const Napi::CallbackInfo& info);
  Napi::Value SetRecordArena(const Napi::CallbackInfo& info);
  Napi::Value OffsetForTimestamp(const Napi::CallbackInfo& info);
  Napi::Value BatchForTimestamp(const Napi::CallbackInfo& info);
  Napi::Value Sync(const Napi::CallbackInfo& info);
  Napi::Value TruncateTo(const Napi::CallbackInfo& info);
  Napi::Value Segments(const Napi::CallbackInfo& info);
  Napi::Value Refresh(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Noop(const Napi::CallbackInfo& info);

  Napi::Value WrapRead(Napi::Env env, const ReadResult& r);
  template <typename Attempt>
  Napi::Value Consistent(Napi::Env env, Attempt attempt);
  bool CheckOpen(Napi::Env env);

  std::unique_ptr<Log> log_;
  std::shared_ptr<SyncThread> sync_thread_;  // runs sync jobs (log_handle.cc), started by the first sync
  Napi::Reference<Napi::Float64Array> state_ref_;
  double* state_ = nullptr;
  Napi::Reference<Napi::Buffer<uint8_t>> scratch_ref_;
  uint8_t* scratch_ = nullptr;
  size_t scratch_size_ = 0;
  // getRecord's record arena (setRecordArena): key and value bytes of records
  // without headers are copied to arena_[arena_used_..], and JS hands out views
  // of them. JS never gives back a region: when the arena fills it sets a new
  // one, and the old one lives as long as a view of it does. The record's other
  // fields go to record_out_ (RecordOutSlot).
  Napi::Reference<Napi::Uint8Array> arena_ref_;
  uint8_t* arena_ = nullptr;
  size_t arena_size_ = 0;
  size_t arena_used_ = 0;
  Napi::Reference<Napi::Float64Array> out_ref_;
  double* record_out_ = nullptr;
};

// Opens a log on a worker thread (recovery may read a long tail) and resolves
// to { log, recovery }.
Napi::Value OpenLog(const Napi::CallbackInfo& info);

}  // namespace tidelog
