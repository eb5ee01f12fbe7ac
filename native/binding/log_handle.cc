#include "binding/log_handle.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "binding/addon_data.h"
#include "binding/errors.h"
#include "core/endian.h"

namespace tidelog {

namespace {

// Slots of the shared state array; src/native.ts names the same indexes.
enum StateSlot {
  kLogStartOffset = 0,
  kLogEndOffset = 1,
  kDurableOffset = 2,
  kRecoveryPoint = 3,
  kUnsyncedBytes = 4,
  kAux1 = 5,  // append: last offset; read: next offset
  kAux2 = 6,  // append: LogAppendTime used or -1
  kStateSlots = 8,
};

// getRecord / offsetForTimestamp results below zero.
constexpr double kNone = -1;
constexpr double kCompressed = -2;
constexpr double kTooLargeForScratch = -3;
constexpr double kInArena = -4;  // getRecord: key and value copied into the record arena, the rest in record_out_

// Slots of getRecord's record_out_ (kInArena); src/record/arena.ts names the same indexes.
enum RecordOutSlot {
  kOutOffset = 0,
  kOutTimestamp = 1,
  kOutKeyLength = 2,    // -1: null key
  kOutValueLength = 3,  // -1: null value
  kOutPosition = 4,     // the key's position in the arena; the value follows it
  kRecordOutSlots = 5,
};

// A record body without headers, every field checked as decodeRecordBody
// (src/record/decode.ts) checks it. false: headers, or malformed: the caller
// hands the body to that decoder, which decodes headers and names the damage.
struct PlainRecord {
  int64_t timestamp_delta;
  int32_t offset_delta;
  const uint8_t* key;
  int32_t key_length;
  const uint8_t* value;
  int32_t value_length;
};
bool ParsePlainRecord(const uint8_t* body, size_t length, PlainRecord* r) {
  const uint8_t* end = body + length;
  const uint8_t* p = body + 1;  // after the attributes byte
  size_t n;
  int32_t headers;
  if ((n = ReadVarlong(p, end, &r->timestamp_delta)) == 0) return false;
  p += n;
  if ((n = ReadVarint(p, end, &r->offset_delta)) == 0) return false;
  p += n;
  if ((n = ReadVarint(p, end, &r->key_length)) == 0 || r->key_length < -1 || r->key_length > end - (p + n)) return false;
  p += n;
  r->key = p;
  if (r->key_length > 0) p += r->key_length;
  if ((n = ReadVarint(p, end, &r->value_length)) == 0 || r->value_length < -1 || r->value_length > end - (p + n)) {
    return false;
  }
  p += n;
  r->value = p;
  if (r->value_length > 0) p += r->value_length;
  if ((n = ReadVarint(p, end, &headers)) == 0 || headers != 0) return false;
  return p + n == end;
}

constexpr size_t kScratchBytes = 64 * 1024 + format::kHeaderSize;

bool GetInt64(const Napi::Value& v, int64_t* out) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= -9007199254740991.0 && d <= 9007199254740991.0) || d != static_cast<double>(static_cast<int64_t>(d))) {
    return false;
  }
  *out = static_cast<int64_t>(d);
  return true;
}

void DeleteMappingRef(Napi::Env, uint8_t*, std::shared_ptr<Mapping>* ref) { delete ref; }

// ---- async work --------------------------------------------------------------

class OpenWorker : public Napi::AsyncWorker {
 public:
  OpenWorker(Napi::Env env, LogOptions options)
      : Napi::AsyncWorker(env, "tidelog:open"), options_(std::move(options)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { status_ = Log::Open(options_, &log_, &info_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(MakeError(env, status_));
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("log", LogHandle::NewInstance(env, std::move(log_)));
    Napi::Object rec = Napi::Object::New(env);
    rec.Set("clean", info_.clean);
    rec.Set("segments", info_.segments);
    rec.Set("segmentsRecovered", info_.segments_recovered);
    rec.Set("bytesScanned", static_cast<double>(info_.bytes_scanned));
    rec.Set("bytesTruncated", static_cast<double>(info_.bytes_truncated));
    rec.Set("recoveryPoint", static_cast<double>(info_.recovery_point));
    Napi::Array problems = Napi::Array::New(env, info_.problems.size());
    for (size_t i = 0; i < info_.problems.size(); i++) problems[i] = Napi::String::New(env, info_.problems[i]);
    rec.Set("problems", problems);
    result.Set("recovery", rec);
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  LogOptions options_;
  Napi::Promise::Deferred deferred_;
  Status status_;
  std::unique_ptr<Log> log_;
  RecoveryInfo info_;
};

}  // namespace

// Sync jobs run on a thread of the log's own, not on the libuv pool: a sync
// cycle (durable appends awaited one after another, W2) paid for an
// AsyncWorker per sync (an async resource, a work request, a wake-up of
// whichever pool thread was free). The thread sleeps on a condition variable
// between jobs; after kIdleExit without jobs it exits (the next sync starts
// it again), so an idle log holds no thread. The completion reaches the event
// loop through a thread-safe function (uv_async), as the pool's did. One job
// at a time (sync_in_flight). Spinning for the next job instead of sleeping
// was measured slower on the shared 2-core box (docs/architecture.md).
class SyncThread {
 public:
  struct Request {
    LogHandle* handle;
    std::unique_ptr<SyncJob> job;
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference owner;  // keeps the handle alive while the job runs
    Status status;
  };

  static std::shared_ptr<SyncThread> Create(napi_env env) {
    std::shared_ptr<SyncThread> t(new SyncThread());
    t->env_ = env;
    auto* holder = new std::shared_ptr<SyncThread>(t);
    napi_value name;
    if (napi_create_string_utf8(env, "tidelog:sync", NAPI_AUTO_LENGTH, &name) != napi_ok ||
        napi_create_threadsafe_function(env, nullptr, nullptr, name, 0, 1, holder, Finalized, holder, Deliver,
                                        &t->tsfn_) != napi_ok) {
      delete holder;
      return nullptr;
    }
    napi_unref_threadsafe_function(env, t->tsfn_);  // an idle log keeps no loop alive
    return t;
  }

  // JS thread. False when the thread could not be started (r is not taken).
  bool Submit(Request* r) {
    pending_.store(r, std::memory_order_release);
    std::unique_lock<std::mutex> lk(mu_);
    if (running_) {
      cv_.notify_one();
      lk.unlock();
    } else {
      running_ = true;
      lk.unlock();
      if (thread_.joinable()) thread_.join();  // it exited after kIdleExit
      try {
        thread_ = std::thread([this] { Loop(); });
      } catch (const std::system_error&) {
        pending_.store(nullptr, std::memory_order_relaxed);
        running_ = false;
        return false;
      }
    }
    napi_ref_threadsafe_function(env_, tsfn_);  // the loop waits for the job
    return true;
  }

  // JS thread, no job in flight: stops the thread and releases the
  // thread-safe function (Finalized runs later).
  void Shutdown() {
    StopThread();
    if (tsfn_ != nullptr) napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
    tsfn_ = nullptr;
  }

 private:
  static constexpr std::chrono::milliseconds kIdleExit{1000};

  void StopThread() {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_.store(true, std::memory_order_relaxed);
      cv_.notify_one();
    }
    if (thread_.joinable()) thread_.join();
  }

  // The next job, or null when stopped or idle for kIdleExit (running_ is then false).
  Request* Next() {
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      Request* r = pending_.exchange(nullptr, std::memory_order_acquire);
      if (r != nullptr || stop_.load(std::memory_order_relaxed)) return r;
      if (cv_.wait_for(lk, kIdleExit) == std::cv_status::timeout &&
          pending_.load(std::memory_order_acquire) == nullptr) {
        running_ = false;
        return nullptr;
      }
    }
  }

  void Loop() {
    for (;;) {
      Request* r = Next();
      if (r == nullptr) return;
      r->status = r->job->Run();
      // Fails only while the environment goes away: nobody waits for the result then.
      napi_call_threadsafe_function(tsfn_, r, napi_tsfn_nonblocking);
    }
  }

  // JS thread (the thread-safe function's call_js): completes the job.
  static void Deliver(napi_env env, napi_value, void* context, void* data) {
    auto* r = static_cast<Request*>(data);
    if (env == nullptr) return;  // teardown: its references belong to the dying environment
    std::unique_ptr<Request> req(r);
    SyncThread* self = static_cast<std::shared_ptr<SyncThread>*>(context)->get();
    if (self->tsfn_ != nullptr) napi_unref_threadsafe_function(env, self->tsfn_);
    Napi::Env e(env);
    LogHandle* h = req->handle;
    h->sync_in_flight = false;
    if (!req->status.ok()) {
      req->deferred.Reject(MakeError(e, req->status));
      return;
    }
    if (!h->log()->closed()) {
      h->log()->CompleteSync(*req->job);
      h->UpdateState();
    }
    req->deferred.Resolve(Napi::Boolean::New(e, true));
  }

  // JS thread: the thread-safe function is gone (released, or the environment's teardown).
  static void Finalized(napi_env, void* data, void*) {
    auto* holder = static_cast<std::shared_ptr<SyncThread>*>(data);
    (*holder)->StopThread();
    (*holder)->tsfn_ = nullptr;
    delete holder;
  }

  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;  // JS thread only
  std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<Request*> pending_{nullptr};
  std::atomic<bool> stop_{false};
  bool running_ = false;  // under mu_
  std::thread thread_;
};

namespace {

class CloseWorker : public Napi::AsyncWorker {
 public:
  CloseWorker(Napi::Env env, Napi::Object owner, LogHandle* handle)
      : Napi::AsyncWorker(env, "tidelog:close"), handle_(handle), deferred_(Napi::Promise::Deferred::New(env)) {
    owner_ = Napi::Persistent(owner);
  }
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { status_ = handle_->log()->Close(); }
  void OnOK() override {
    handle_->UpdateState();
    if (!status_.ok()) {
      deferred_.Reject(MakeError(Env(), status_));
    } else {
      deferred_.Resolve(Env().Undefined());
    }
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::ObjectReference owner_;
  LogHandle* handle_;
  Napi::Promise::Deferred deferred_;
  Status status_;
};

}  // namespace

// ---- LogHandle -----------------------------------------------------------------

Napi::Function LogHandle::Init(Napi::Env env) {
  return DefineClass(env, "NativeLog",
                     {
                         InstanceMethod<&LogHandle::Append>("append"),
                         InstanceMethod<&LogHandle::Read>("read"),
                         InstanceMethod<&LogHandle::BatchAt>("batchAt"),
                         InstanceMethod<&LogHandle::GetRecord>("getRecord"),
                         InstanceMethod<&LogHandle::SetRecordArena>("setRecordArena"),
                         InstanceMethod<&LogHandle::OffsetForTimestamp>("offsetForTimestamp"),
                         InstanceMethod<&LogHandle::BatchForTimestamp>("batchForTimestamp"),
                         InstanceMethod<&LogHandle::Sync>("sync"),
                         InstanceMethod<&LogHandle::TruncateTo>("truncateTo"),
                         InstanceMethod<&LogHandle::Segments>("segments"),
                         InstanceMethod<&LogHandle::Refresh>("refresh"),
                         InstanceMethod<&LogHandle::Close>("close"),
                         InstanceMethod<&LogHandle::Noop>("noop"),
                     });
}

Napi::Object LogHandle::NewInstance(Napi::Env env, std::unique_ptr<Log> log) {
  Napi::External<Log> ext = Napi::External<Log>::New(env, log.release());
  return GetAddonData(env)->log_constructor.New({ext});
}

LogHandle::LogHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<LogHandle>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal()) {
    ThrowInvalid(env, "NativeLog is created by openLog()");
    return;
  }
  log_.reset(info[0].As<Napi::External<Log>>().Data());
  Napi::Float64Array state = Napi::Float64Array::New(env, kStateSlots);
  state_ = state.Data();
  state_ref_ = Napi::Persistent(state);
  Napi::Buffer<uint8_t> scratch = Napi::Buffer<uint8_t>::New(env, kScratchBytes);
  scratch_ = scratch.Data();
  scratch_size_ = kScratchBytes;
  scratch_ref_ = Napi::Persistent(scratch);
  info.This().As<Napi::Object>().Set("state", state);
  info.This().As<Napi::Object>().Set("scratch", scratch);
  UpdateState();
}

LogHandle::~LogHandle() {
  if (sync_thread_) sync_thread_->Shutdown();
  // A handle collected without close(): release the lock and files, but never
  // mark the shutdown clean (nothing was synced).
  log_.reset();
}

void LogHandle::UpdateState() {
  state_[kLogStartOffset] = static_cast<double>(log_->log_start_offset());
  state_[kLogEndOffset] = static_cast<double>(log_->log_end_offset());
  state_[kDurableOffset] = static_cast<double>(log_->durable_offset());
  state_[kRecoveryPoint] = static_cast<double>(log_->recovery_point());
  state_[kUnsyncedBytes] = static_cast<double>(log_->unsynced_bytes());
}

bool LogHandle::CheckOpen(Napi::Env env) {
  if (log_->closed()) {
    ThrowStatus(env, Status(Code::kClosed, "log " + log_->options().dir + " is closed"));
    return false;
  }
  return true;
}

Napi::Value LogHandle::Append(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber()) {
    return ThrowInvalid(env, "append(batches: Uint8Array, flags: number)");
  }
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return ThrowInvalid(env, "append: batches must be a Uint8Array");
  Napi::Uint8Array buf = ta.As<Napi::Uint8Array>();
  AppendResult r;
  Status st = log_->Append(buf.Data(), buf.ByteLength(), info[1].As<Napi::Number>().Int32Value(), &r);
  if (!st.ok()) return ThrowStatus(env, st);
  UpdateState();
  state_[kAux1] = static_cast<double>(r.last_offset);
  state_[kAux2] = static_cast<double>(r.append_time);
  return Napi::Number::New(env, static_cast<double>(r.base_offset));
}

// A read-only log reads bytes a writer in another thread or process may remove
// or rewrite at any moment (truncateTo, recovery). Its reads copy what they
// return, and the copy counts only if the writer's generation did not change
// while it was made (the writer bumps it before and after every cut): else the
// view is reloaded and the read made again. The writer's own log reads in the
// thread that writes, and runs `attempt` once.
template <typename Attempt>
Napi::Value LogHandle::Consistent(Napi::Env env, Attempt attempt) {
  constexpr int kAttempts = 64;
  for (int i = 1;; i++) {
    Napi::Value out = env.Null();
    Status st = attempt(&out);
    if (log_->read_only() && !log_->ViewCurrent()) {
      if (i < kAttempts) continue;
      st = Status(Code::kIoError, "the writer of " + log_->options().dir + " changed the log " +
                                      std::to_string(kAttempts) + " times during one read; read again");
    }
    if (!st.ok()) return ThrowStatus(env, st);
    return out;
  }
}

Napi::Value LogHandle::WrapRead(Napi::Env env, const ReadResult& r) {
  state_[kAux1] = static_cast<double>(r.next_offset);
  if (r.length == 0) return env.Null();
  if (log_->read_only()) return Napi::Buffer<uint8_t>::Copy(env, r.data, r.length);
  auto* ref = new std::shared_ptr<Mapping>(r.mapping);
  return Napi::Buffer<uint8_t>::New(env, const_cast<uint8_t*>(r.data), r.length, DeleteMappingRef, ref);
}

Napi::Value LogHandle::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int64_t offset, max_bytes, upper;
  if (info.Length() < 3 || !GetInt64(info[0], &offset) || !GetInt64(info[1], &max_bytes) ||
      !GetInt64(info[2], &upper) || max_bytes < 0) {
    return ThrowInvalid(env, "read(offset, maxBytes, upperOffset) takes integers");
  }
  return Consistent(env, [&](Napi::Value* out) {
    ReadResult r;
    Status st = log_->Refresh();
    if (st.ok()) st = log_->Read(offset, static_cast<size_t>(max_bytes), upper, &r);
    UpdateState();
    if (st.ok()) *out = WrapRead(env, r);
    return st;
  });
}

Napi::Value LogHandle::BatchAt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int64_t offset;
  if (info.Length() < 1 || !GetInt64(info[0], &offset)) return ThrowInvalid(env, "batchAt(offset) takes an integer");
  return Consistent(env, [&](Napi::Value* out) {
    PlacedBatch b;
    ReadResult r;
    Status st = log_->Refresh();
    if (st.ok()) st = log_->ReadBatchAt(offset, &b, &r);
    UpdateState();
    if (st.ok()) *out = WrapRead(env, r);
    return st;
  });
}

Napi::Value LogHandle::GetRecord(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int64_t offset;
  if (info.Length() < 1 || !GetInt64(info[0], &offset)) return ThrowInvalid(env, "getRecord(offset) takes an integer");
  const size_t arena_start = arena_used_;
  return Consistent(env, [&](Napi::Value* out) {
    arena_used_ = arena_start;  // a retry (read-only log) writes over what the attempt before it copied
    PlacedBatch b;
    ReadResult r;
    Status st = log_->Refresh();
    if (st.ok()) st = log_->ReadBatchAt(offset, &b, &r);
    if (!st.ok()) return st;
    *out = Napi::Number::New(env, kNone);
    if (r.length == 0) return st;
    // A control record (transaction marker) is not data: like Kafka's consumer, skip it.
    if (b.header.attributes & format::kControlMask) return st;
    if (b.header.compression() != format::kCompressionNone) {
      *out = Napi::Number::New(env, kCompressed);
      return st;
    }
    RecordRef rec;
    bool found;
    st = log_->FindRecord(b, offset, &rec, &found);
    if (!st.ok() || !found) return st;
    PlainRecord pr;
    if (arena_ != nullptr && ParsePlainRecord(rec.data, rec.length, &pr)) {
      size_t kl = pr.key_length > 0 ? static_cast<size_t>(pr.key_length) : 0;
      size_t vl = pr.value_length > 0 ? static_cast<size_t>(pr.value_length) : 0;
      if (kl + vl <= arena_size_ - arena_used_) {
        uint8_t* dst = arena_ + arena_used_;
        std::memcpy(dst, pr.key, kl);
        std::memcpy(dst + kl, pr.value, vl);
        record_out_[kOutOffset] = static_cast<double>(b.header.base_offset) + pr.offset_delta;
        // The same sums, in doubles, as decodeRecordBody's.
        record_out_[kOutTimestamp] = (b.header.attributes & format::kTimestampTypeMask)
                                         ? static_cast<double>(b.header.max_timestamp)
                                         : static_cast<double>(b.header.base_timestamp) +
                                               static_cast<double>(pr.timestamp_delta);
        record_out_[kOutKeyLength] = pr.key_length;
        record_out_[kOutValueLength] = pr.value_length;
        record_out_[kOutPosition] = static_cast<double>(arena_used_);
        arena_used_ += kl + vl;
        *out = Napi::Number::New(env, kInArena);
        return st;
      }
    }
    if (rec.length + format::kHeaderSize > scratch_size_) {
      *out = Napi::Number::New(env, kTooLargeForScratch);
      return st;
    }
    std::memcpy(scratch_, r.data, format::kHeaderSize);
    std::memcpy(scratch_ + format::kHeaderSize, rec.data, rec.length);
    *out = Napi::Number::New(env, static_cast<double>(rec.length));
    return st;
  });
}

Napi::Value LogHandle::SetRecordArena(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsTypedArray() ||
      info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::Float64Array>().ElementLength() < kRecordOutSlots) {
    return ThrowInvalid(env, "setRecordArena(arena: Uint8Array, out: Float64Array of 5)");
  }
  Napi::Uint8Array arena = info[0].As<Napi::Uint8Array>();
  Napi::Float64Array out = info[1].As<Napi::Float64Array>();
  arena_ref_ = Napi::Persistent(arena);
  arena_ = arena.Data();
  arena_size_ = arena.ByteLength();
  arena_used_ = 0;
  out_ref_ = Napi::Persistent(out);
  record_out_ = out.Data();
  return env.Undefined();
}

Napi::Value LogHandle::OffsetForTimestamp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int64_t ts;
  if (info.Length() < 1 || !GetInt64(info[0], &ts)) {
    return ThrowInvalid(env, "offsetForTimestamp(timestamp) takes an integer");
  }
  return Consistent(env, [&](Napi::Value* out) {
    Log::TimestampLookup what;
    int64_t offset = 0;
    Status st = log_->Refresh();
    if (st.ok()) st = log_->OffsetForTimestamp(ts, &what, &offset);
    if (!st.ok()) return st;
    if (what == Log::TimestampLookup::kCompressed) *out = Napi::Number::New(env, kCompressed);
    else if (what != Log::TimestampLookup::kFound) *out = Napi::Number::New(env, kNone);
    else *out = Napi::Number::New(env, static_cast<double>(offset));
    return st;
  });
}

Napi::Value LogHandle::BatchForTimestamp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int64_t ts;
  if (info.Length() < 1 || !GetInt64(info[0], &ts)) {
    return ThrowInvalid(env, "batchForTimestamp(timestamp) takes an integer");
  }
  return Consistent(env, [&](Napi::Value* out) {
    bool found;
    ReadResult r;
    BatchHeader h;
    Status st = log_->Refresh();
    if (st.ok()) st = log_->FindBatchByTimestamp(ts, &found, &r, &h);
    if (st.ok()) *out = WrapRead(env, r);
    return st;
  });
}

Napi::Value LogHandle::Sync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  if (log_->read_only()) return ThrowStatus(env, Status(Code::kReadOnly, "a read-only log cannot sync"));
  if (sync_in_flight) return ThrowInvalid(env, "a sync is already running on this log");
  bool force = info.Length() > 0 && info[0].ToBoolean().Value();
  std::unique_ptr<SyncJob> job = log_->PrepareSync(force);
  if (!job) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(Napi::Boolean::New(env, false));
    return d.Promise();
  }
  if (!sync_thread_) sync_thread_ = SyncThread::Create(env);
  if (!sync_thread_) return ThrowStatus(env, Status(Code::kIoError, "cannot create the sync thread's completion handle"));
  auto* r = new SyncThread::Request{this, std::move(job), Napi::Promise::Deferred::New(env),
                                    Napi::Persistent(info.This().As<Napi::Object>()), Status::OK()};
  Napi::Promise p = r->deferred.Promise();
  if (!sync_thread_->Submit(r)) {
    delete r;
    return ThrowStatus(env, Status(Code::kIoError, "cannot start the sync thread"));
  }
  sync_in_flight = true;
  return p;
}

Napi::Value LogHandle::TruncateTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  int64_t offset;
  if (info.Length() < 1 || !GetInt64(info[0], &offset)) return ThrowInvalid(env, "truncateTo(offset) takes an integer");
  if (sync_in_flight) return ThrowInvalid(env, "truncateTo while a sync is running");
  Status st = log_->TruncateTo(offset);
  UpdateState();
  if (!st.ok()) return ThrowStatus(env, st);
  return Napi::Number::New(env, static_cast<double>(log_->log_end_offset()));
}

Napi::Value LogHandle::Segments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Status st = log_->Refresh();
  if (!st.ok()) return ThrowStatus(env, st);
  std::vector<SegmentInfo> segs = log_->Segments();
  Napi::Array out = Napi::Array::New(env, segs.size());
  for (size_t i = 0; i < segs.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("baseOffset", static_cast<double>(segs[i].base_offset));
    o.Set("nextOffset", static_cast<double>(segs[i].next_offset));
    o.Set("sizeBytes", static_cast<double>(segs[i].size));
    o.Set("maxTimestamp", static_cast<double>(segs[i].max_timestamp));
    o.Set("active", segs[i].active);
    out[i] = o;
  }
  return out;
}

Napi::Value LogHandle::Refresh(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!CheckOpen(env)) return env.Undefined();
  Status st = log_->Refresh();
  UpdateState();
  if (!st.ok()) return ThrowStatus(env, st);
  return env.Undefined();
}

Napi::Value LogHandle::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (log_->closed()) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  if (sync_in_flight) return ThrowInvalid(env, "close while a sync is running");
  if (sync_thread_) {
    sync_thread_->Shutdown();
    sync_thread_.reset();
  }
  auto* w = new CloseWorker(env, info.This().As<Napi::Object>(), this);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// The cheapest possible call: the baseline of what crossing N-API costs (bench/micro).
Napi::Value LogHandle::Noop(const Napi::CallbackInfo& info) { return info.Env().Undefined(); }

// ---- openLog ---------------------------------------------------------------------

Napi::Value OpenLog(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowInvalid(env, "openLog(options) takes an object");
  Napi::Object o = info[0].As<Napi::Object>();
  LogOptions opts;
  Napi::Value dir = o.Get("dir");
  if (!dir.IsString()) return ThrowInvalid(env, "openLog: dir must be a string");
  opts.dir = dir.As<Napi::String>().Utf8Value();
  struct NumOpt {
    const char* name;
    int64_t min;
    int64_t max;
    int64_t* out;
  };
  int64_t segment_bytes = static_cast<int64_t>(opts.segment.segment_bytes);
  int64_t index_interval = opts.segment.index_interval_bytes;
  int64_t max_index = opts.segment.max_index_bytes;
  int64_t max_message = opts.max_message_bytes;
  int64_t checkpoint_interval = static_cast<int64_t>(opts.checkpoint_interval_bytes);
  int64_t sync_hint = static_cast<int64_t>(opts.segment.sync_hint_bytes);
  NumOpt nums[] = {
      {"segmentBytes", 14, 2147483647, &segment_bytes},
      {"indexIntervalBytes", 0, 2147483647, &index_interval},
      {"maxIndexBytes", 64, 2147483647, &max_index},
      {"segmentMs", 1, 9007199254740991, &opts.segment_ms},
      {"maxMessageBytes", 0, 2147483647, &max_message},
      {"checkpointIntervalBytes", 0, 9007199254740991, &checkpoint_interval},
      {"syncHintBytes", 0, 9007199254740991, &sync_hint},
  };
  for (const NumOpt& n : nums) {
    Napi::Value v = o.Get(n.name);
    if (v.IsUndefined()) continue;
    int64_t x;
    if (!GetInt64(v, &x) || x < n.min || x > n.max) {
      return ThrowInvalid(env, std::string("openLog: ") + n.name + " must be an integer in [" + std::to_string(n.min) +
                                   ", " + std::to_string(n.max) + "]");
    }
    *n.out = x;
  }
  opts.segment.segment_bytes = static_cast<uint64_t>(segment_bytes);
  opts.segment.index_interval_bytes = static_cast<uint32_t>(index_interval);
  opts.segment.max_index_bytes = static_cast<uint32_t>(max_index);
  opts.max_message_bytes = static_cast<uint32_t>(max_message);
  opts.checkpoint_interval_bytes = static_cast<uint64_t>(checkpoint_interval);
  opts.segment.sync_hint_bytes = static_cast<uint64_t>(sync_hint);
  opts.read_only = o.Get("readOnly").ToBoolean().Value();
  auto* w = new OpenWorker(env, std::move(opts));
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace tidelog
