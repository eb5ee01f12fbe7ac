// verifyLog(dir): the read-only full check of core/verify.h, on a worker thread.
#include <napi.h>

#include "binding/errors.h"
#include "core/verify.h"

namespace tidelog {
namespace {

class VerifyWorker : public Napi::AsyncWorker {
 public:
  VerifyWorker(Napi::Env env, std::string dir)
      : Napi::AsyncWorker(env, "tidelog:verify"), dir_(std::move(dir)), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { status_ = VerifyLog(dir_, &report_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!status_.ok()) {
      deferred_.Reject(MakeError(env, status_));
      return;
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("segments", report_.segments);
    o.Set("bytes", static_cast<double>(report_.bytes));
    o.Set("batches", static_cast<double>(report_.batches));
    o.Set("records", static_cast<double>(report_.records));
    o.Set("startOffset", static_cast<double>(report_.start_offset));
    o.Set("endOffset", static_cast<double>(report_.end_offset));
    Napi::Array issues = Napi::Array::New(env, report_.issues.size());
    for (size_t i = 0; i < report_.issues.size(); i++) {
      const VerifyIssue& v = report_.issues[i];
      Napi::Object e = Napi::Object::New(env);
      e.Set("file", v.file);
      e.Set("position", static_cast<double>(v.position));
      e.Set("offset", static_cast<double>(v.offset));
      e.Set("problem", v.problem);
      issues[i] = e;
    }
    o.Set("issues", issues);
    deferred_.Resolve(o);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  std::string dir_;
  Napi::Promise::Deferred deferred_;
  Status status_;
  VerifyReport report_;
};

}  // namespace

Napi::Value VerifyLogJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowInvalid(env, "verifyLog(dir: string)");
  auto* w = new VerifyWorker(env, info[0].As<Napi::String>().Utf8Value());
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

}  // namespace tidelog
