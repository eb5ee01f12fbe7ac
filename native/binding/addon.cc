// The addon's whole export table. Everything here is per batch, never per record.
#include <napi.h>

#include "binding/addon_data.h"
#include "binding/errors.h"
#include "binding/log_handle.h"
#include "core/crc32c.h"
#include "core/format.h"
#include "core/mapped_file.h"
#include "core/status.h"

namespace tidelog {
Napi::Value VerifyLogJs(const Napi::CallbackInfo& info);  // verify_worker.cc
}

namespace tidelog {
namespace {

bool ArgBytes(const Napi::CallbackInfo& info, const uint8_t** data, size_t* len) {
  if (info.Length() < 1 || !info[0].IsTypedArray()) return false;
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  if (ta.TypedArrayType() != napi_uint8_array) return false;
  Napi::Uint8Array a = ta.As<Napi::Uint8Array>();
  *data = a.Data();
  *len = a.ByteLength();
  return true;
}

uint32_t ArgInit(const Napi::CallbackInfo& info) {
  return info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
}

// crc32c(bytes, init?) -> the CRC-32C of bytes, continuing from init.
Napi::Value Crc32c(const Napi::CallbackInfo& info) {
  const uint8_t* p;
  size_t n;
  if (!ArgBytes(info, &p, &n)) return ThrowInvalid(info.Env(), "crc32c(bytes: Uint8Array, init?: number)");
  return Napi::Number::New(info.Env(), crc32c::Extend(ArgInit(info), p, n));
}

Napi::Value Crc32cPortable(const Napi::CallbackInfo& info) {
  const uint8_t* p;
  size_t n;
  if (!ArgBytes(info, &p, &n)) return ThrowInvalid(info.Env(), "crc32cPortable(bytes: Uint8Array, init?: number)");
  return Napi::Number::New(info.Env(), crc32c::ExtendPortable(ArgInit(info), p, n));
}

// The hardware path, or null where the CPU has no CRC-32C instruction.
Napi::Value Crc32cHardware(const Napi::CallbackInfo& info) {
  const uint8_t* p;
  size_t n;
  if (!ArgBytes(info, &p, &n)) return ThrowInvalid(info.Env(), "crc32cHardware(bytes: Uint8Array, init?: number)");
  uint32_t out;
  if (!crc32c::ExtendHardware(ArgInit(info), p, n, &out)) return info.Env().Null();
  return Napi::Number::New(info.Env(), out);
}

Napi::Value ErrorCodes(const Napi::CallbackInfo& info) {
  Napi::Array a = Napi::Array::New(info.Env());
  uint32_t i = 0;
#define TIDELOG_PUSH(name, str) a[i++] = Napi::String::New(info.Env(), str);
  TIDELOG_STATUS_CODES(TIDELOG_PUSH)
#undef TIDELOG_PUSH
  return a;
}

Napi::Value FormatConstants(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
#define TL_CONST(name) o.Set(#name, static_cast<double>(format::name));
  TL_CONST(kBaseOffsetOffset) TL_CONST(kLengthOffset) TL_CONST(kLogOverhead) TL_CONST(kLeaderEpochOffset)
  TL_CONST(kMagicOffset) TL_CONST(kCrcOffset) TL_CONST(kAttributesOffset) TL_CONST(kLastOffsetDeltaOffset)
  TL_CONST(kBaseTimestampOffset) TL_CONST(kMaxTimestampOffset) TL_CONST(kProducerIdOffset)
  TL_CONST(kProducerEpochOffset) TL_CONST(kBaseSequenceOffset) TL_CONST(kRecordsCountOffset)
  TL_CONST(kRecordsOffset) TL_CONST(kHeaderSize) TL_CONST(kMagic) TL_CONST(kCompressionMask)
  TL_CONST(kCompressionLz4) TL_CONST(kTimestampTypeMask) TL_CONST(kTransactionalMask) TL_CONST(kControlMask)
  TL_CONST(kOffsetIndexEntrySize) TL_CONST(kTimeIndexEntrySize)
#undef TL_CONST
  return o;
}

// Pages of mapped files the SIGBUS guard replaced by zero pages (a file shrank
// under a read of this process): for tests and diagnostics.
Napi::Value SigbusPagesZeroedJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(SigbusPagesZeroed()));
}

Napi::Value SetErrorFactoryJs(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsFunction()) return ThrowInvalid(info.Env(), "setErrorFactory(fn)");
  SetErrorFactory(info.Env(), info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData(data);
  data->log_constructor = Napi::Persistent(LogHandle::Init(env));
  exports.Set("crc32c", Napi::Function::New(env, Crc32c));
  exports.Set("crc32cPortable", Napi::Function::New(env, Crc32cPortable));
  exports.Set("crc32cHardware", Napi::Function::New(env, Crc32cHardware));
  exports.Set("errorCodes", Napi::Function::New(env, ErrorCodes));
  exports.Set("formatConstants", Napi::Function::New(env, FormatConstants));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactoryJs));
  exports.Set("openLog", Napi::Function::New(env, OpenLog));
  exports.Set("verifyLog", Napi::Function::New(env, VerifyLogJs));
  exports.Set("sigbusPagesZeroed", Napi::Function::New(env, SigbusPagesZeroedJs));
  return exports;
}

}  // namespace tidelog

static Napi::Object InitTidelog(Napi::Env env, Napi::Object exports) { return tidelog::Init(env, exports); }

NODE_API_MODULE(tidelog, InitTidelog)
