#include "binding/errors.h"

#include "binding/addon_data.h"

namespace tidelog {

void SetErrorFactory(Napi::Env env, Napi::Function factory) {
  GetAddonData(env)->error_factory = Napi::Persistent(factory);
}

Napi::Value MakeError(Napi::Env env, const Status& status) {
  AddonData* data = GetAddonData(env);
  Napi::String code = Napi::String::New(env, CodeName(status.code()));
  Napi::String message = Napi::String::New(env, status.message());
  // Where the damage is, for a corruption that names it: { file, position, offset }.
  Napi::Value where = env.Undefined();
  if (!status.file().empty()) {
    Napi::Object w = Napi::Object::New(env);
    w.Set("file", status.file());
    w.Set("position", static_cast<double>(status.position()));
    w.Set("offset", static_cast<double>(status.offset()));
    where = w;
  }
  if (data != nullptr && !data->error_factory.IsEmpty()) {
    return data->error_factory.Call({code, message, where});
  }
  Napi::Error err = Napi::Error::New(env, status.message());
  err.Set("code", code);
  if (where.IsObject()) err.Set("where", where);
  return err.Value();
}

Napi::Value ThrowStatus(Napi::Env env, const Status& status) {
  Napi::Value err = MakeError(env, status);
  if (!env.IsExceptionPending()) napi_throw(env, err);
  return env.Undefined();
}

Napi::Value ThrowInvalid(Napi::Env env, const std::string& message) {
  return ThrowStatus(env, Status(Code::kInvalidArgument, message));
}

}  // namespace tidelog
