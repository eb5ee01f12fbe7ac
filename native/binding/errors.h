// Turning a core Status into the JS error class that src/errors.ts defines.
//
// src/native.ts hands the addon a factory at load time (setErrorFactory): it
// maps a stable code string ("DISK_FULL", ...) and a message to an instance of
// the right TidelogError subclass, so native and TS share one list of codes.
#pragma once

#include <napi.h>

#include "core/status.h"

namespace tidelog {

void SetErrorFactory(Napi::Env env, Napi::Function factory);
Napi::Value MakeError(Napi::Env env, const Status& status);
// Throws (as a pending JS exception) and returns undefined.
Napi::Value ThrowStatus(Napi::Env env, const Status& status);
Napi::Value ThrowInvalid(Napi::Env env, const std::string& message);

}  // namespace tidelog
