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
  if (data != nullptr && !data->error_factory.IsEmpty()) {
    return data->error_factory.Call({code, message});
  }
  Napi::Error err = Napi::Error::New(env, status.message());
  err.Set("code", code);
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
