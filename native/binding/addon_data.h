// Per-addon-instance state (worker threads each load their own instance).
#pragma once

#include <napi.h>

namespace tidelog {

struct AddonData {
  Napi::FunctionReference error_factory;
  Napi::FunctionReference log_constructor;
};

inline AddonData* GetAddonData(Napi::Env env) { return env.GetInstanceData<AddonData>(); }

}  // namespace tidelog
