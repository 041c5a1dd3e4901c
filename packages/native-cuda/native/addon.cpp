// Node-API binding: one Context per backend instance (a device, a stream, a precision). Ops take their
// parameters as a Float64Array in a fixed order (src/native.ts writes the same order) and only queue
// work; read() and sync() return promises settled from a worker thread that waits on a CUDA event, so
// Node's event loop never blocks on the GPU.
#include <napi.h>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include "ops.h"
#include "runtime.h"

using namespace lrpseg;

namespace {

Napi::Error jsError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  return e;
}

/** Reads a parameter block in order; every read is bounds-checked and the block must be used up. */
struct Args {
  const double* v;
  size_t n;
  size_t i = 0;
  std::string op;
  double next() {
    if (i >= n) throw DeviceError("BAD_INPUT", "cuda " + op + ": too few parameters (" + std::to_string(n) + ")");
    return v[i++];
  }
  int i32() { return (int)next(); }
  long long i64() { return (long long)next(); }
  float f32() { return (float)next(); }
  template <class T>
  T* ptr() { return reinterpret_cast<T*>((uintptr_t)next()); }
  void done() const {
    if (i != n) throw DeviceError("BAD_INPUT", "cuda " + op + ": " + std::to_string(n) + " parameters, expected " + std::to_string(i));
  }
};

using OpFn = std::function<void(Ctx&, Args&)>;

PoolGeom poolGeom(Args& a) {
  PoolGeom g;
  g.n = a.i32(); g.c = a.i32(); g.h = a.i32(); g.w = a.i32(); g.k = a.i32(); g.stride = a.i32(); g.oh = a.i32(); g.ow = a.i32();
  return g;
}

const std::unordered_map<std::string, OpFn>& opTable() {
  static const std::unordered_map<std::string, OpFn> table = {
      {"unary", [](Ctx& c, Args& a) { int op = a.i32(); auto x = a.ptr<const float>(); auto y = a.ptr<float>(); auto n = a.i64(); float s = a.f32(); a.done(); opUnary(c, op, x, y, n, s); }},
      {"binary", [](Ctx& c, Args& a) { int op = a.i32(); auto x = a.ptr<const float>(); auto b = a.ptr<const float>(); auto y = a.ptr<float>(); auto n = a.i64(); a.done(); opBinary(c, op, x, b, y, n); }},
      {"affine", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto y = a.ptr<float>(); int n = a.i32(), ch = a.i32(); auto pl = a.i64(); auto sc = a.ptr<const float>(); auto sh = a.ptr<const float>(); a.done(); opAffineChannels(c, x, y, n, ch, pl, sc, sh); }},
      {"sumChannels", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto y = a.ptr<float>(); int n = a.i32(), ch = a.i32(); auto pl = a.i64(); a.done(); opSumChannels(c, x, y, n, ch, pl); }},
      {"selectClass", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto t = a.ptr<const int>(); auto y = a.ptr<float>(); int n = a.i32(), k = a.i32(); a.done(); opSelectClass(c, x, t, y, n, k); }},
      {"softmax", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto y = a.ptr<float>(); int n = a.i32(), k = a.i32(); a.done(); opSoftmax(c, x, y, n, k); }},
      {"crossEntropy", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto l = a.ptr<const int>(); auto w = a.ptr<const float>(); auto loss = a.ptr<float>(); auto d = a.ptr<float>(); int n = a.i32(), k = a.i32(); a.done(); opCrossEntropy(c, x, l, w, loss, d, n, k); }},
      {"bce", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto t = a.ptr<const float>(); float pw = a.f32(); auto loss = a.ptr<float>(); auto d = a.ptr<float>(); auto n = a.i64(); a.done(); opBceWithLogits(c, x, t, pw, loss, d, n); }},
      {"maxPool", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto y = a.ptr<float>(); PoolGeom g = poolGeom(a); a.done(); opMaxPool(c, x, y, g); }},
      {"maxPoolBackward", [](Ctx& c, Args& a) { auto dy = a.ptr<const float>(); auto x = a.ptr<const float>(); auto dx = a.ptr<float>(); PoolGeom g = poolGeom(a); a.done(); opMaxPoolBackward(c, dy, x, dx, g); }},
      {"lrpMaxPool", [](Ctx& c, Args& a) { auto x = a.ptr<const float>(); auto r = a.ptr<const float>(); auto out = a.ptr<float>(); bool avg = a.i32() != 0; PoolGeom g = poolGeom(a); a.done(); opLrpMaxPool(c, x, r, out, g, avg); }},
      {"channelSum", [](Ctx& c, Args& a) { auto dy = a.ptr<const float>(); auto db = a.ptr<float>(); int n = a.i32(), ch = a.i32(); auto pl = a.i64(); a.done(); opChannelSum(c, dy, db, n, ch, pl); }},
      {"sgd", [](Ctx& c, Args& a) { auto p = a.ptr<float>(); auto g = a.ptr<const float>(); auto b = a.ptr<float>(); auto n = a.i64(); double lr = a.next(), mu = a.next(), wd = a.next(); bool nes = a.i32() != 0; a.done(); opSgd(c, p, g, b, n, lr, mu, wd, nes); }},
      {"adam", [](Ctx& c, Args& a) { auto p = a.ptr<float>(); auto g = a.ptr<const float>(); auto m = a.ptr<float>(); auto v = a.ptr<float>(); auto n = a.i64(); double lr = a.next(), b1 = a.next(), b2 = a.next(), eps = a.next(), wd = a.next(); int step = a.i32(); bool dec = a.i32() != 0; a.done(); opAdam(c, p, g, m, v, n, lr, b1, b2, eps, wd, step, dec); }},
      {"rms", [](Ctx& c, Args& a) { auto z = a.ptr<const float>(); auto e = a.ptr<float>(); int n = a.i32(); auto per = a.i64(); double f = a.next(), d = a.next(); a.done(); opRmsPerSample(c, z, e, n, per, f, d); }},
      {"lrpQuotient", [](Ctx& c, Args& a) {
         auto r = a.ptr<const float>(); auto z = a.ptr<const float>(); auto e = a.ptr<const float>(); float ec = a.f32();
         float coef[MAX_BLOCKS];
         for (int j = 0; j < MAX_BLOCKS; j++) coef[j] = a.f32();
         auto q = a.ptr<float>(); int n = a.i32(), kb = a.i32(); auto per = a.i64(); a.done();
         if (kb < 1 || kb > MAX_BLOCKS) throw DeviceError("BAD_INPUT", "cuda lrpQuotient: 1 to 3 K blocks");
         opLrpQuotient(c, r, z, e, ec, coef, q, n, kb, per); }},
      {"transformWeights", [](Ctx& c, Args& a) {
         auto w = a.ptr<const float>(); auto out = a.ptr<float>(); auto count = a.i64(); int kb = a.i32();
         int mode[MAX_BLOCKS];
         for (int j = 0; j < MAX_BLOCKS; j++) mode[j] = a.i32();
         float gamma = a.f32(); a.done();
         if (kb < 1 || kb > MAX_BLOCKS) throw DeviceError("BAD_INPUT", "cuda transformWeights: 1 to 3 blocks");
         opTransformWeights(c, w, out, count, kb, mode, gamma); }},
      {"sumBlocks", [](Ctx& c, Args& a) { auto t = a.ptr<const float>(); auto out = a.ptr<float>(); int n = a.i32(), b = a.i32(); auto size = a.i64(); a.done(); opSumBlocks(c, t, out, n, b, size); }},
      {"gemm", [](Ctx& c, Args& a) {
         GemmParams p{};
         p.kind = a.i32();
         p.n = a.i32(); p.c = a.i32(); p.h = a.i32(); p.w = a.i32(); p.o = a.i32(); p.ks = a.i32(); p.stride = a.i32(); p.pad = a.i32(); p.oh = a.i32(); p.ow = a.i32();
         p.rb = a.i32(); p.kb = a.i32();
         for (int r = 0; r < MAX_BLOCKS; r++) for (int j = 0; j < MAX_BLOCKS; j++) p.wmode[r][j] = (signed char)a.i32();
         for (int j = 0; j < MAX_BLOCKS; j++) p.srcmode[j] = (signed char)a.i32();
         for (int j = 0; j < MAX_BLOCKS; j++) p.biasmode[j] = (signed char)a.i32();
         for (int j = 0; j < MAX_BLOCKS; j++) p.mulmode[j] = (signed char)a.i32();
         p.gamma = a.f32();
         p.wt = a.ptr<const float>(); p.x = a.ptr<const float>(); p.x2 = a.ptr<const float>(); p.bias = a.ptr<const float>();
         p.z = a.ptr<const float>(); p.zC = a.i32(); p.e = a.ptr<const float>(); p.eConst = a.f32();
         for (int j = 0; j < MAX_BLOCKS; j++) p.coef[j] = a.f32();
         p.lrp = a.i32();
         p.chan0 = a.ptr<const float>(); p.chan1 = a.ptr<const float>(); p.mul = a.ptr<const float>();
         p.out = a.ptr<float>(); p.accumulate = a.i32();
         a.done();
         if (p.rb < 1 || p.rb > MAX_BLOCKS || p.kb < 1 || p.kb > MAX_BLOCKS || p.ks < 1 || p.stride < 1) throw DeviceError("BAD_INPUT", "cuda gemm: invalid block counts or geometry");
         gemm(c, p, a.op.c_str());
       }},
  };
  return table;
}

class Context;

class ReadWorker : public Napi::AsyncWorker {
 public:
  ReadWorker(Napi::Env env, Context* owner, Runtime* rt, Runtime::Pending* p, void* dst, Napi::Value keep, std::string op)
      : Napi::AsyncWorker(env), owner_(owner), rt_(rt), p_(p), dst_(dst), deferred_(Napi::Promise::Deferred::New(env)), op_(std::move(op)) {
    if (!keep.IsUndefined()) keep_ = Napi::Persistent(keep.As<Napi::Object>());
  }
  /** Keeps the Context object alive until the read settles. */
  void holdOwner(Napi::Object o) { ownerRef_ = Napi::Persistent(o); }
  Napi::Promise promise() { return deferred_.Promise(); }
  void Execute() override { err_ = rt_->wait(p_, dst_); }
  void OnOK() override;
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Context* owner_;
  Runtime* rt_;
  Runtime::Pending* p_;
  void* dst_;
  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference keep_;
  Napi::ObjectReference ownerRef_;
  std::string op_;
  std::string err_;
};

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Context", {
        InstanceMethod("info", &Context::Info),
        InstanceMethod("alloc", &Context::Alloc),
        InstanceMethod("free", &Context::Free),
        InstanceMethod("upload", &Context::Upload),
        InstanceMethod("copy", &Context::Copy),
        InstanceMethod("copy2D", &Context::Copy2D),
        InstanceMethod("zero", &Context::Zero),
        InstanceMethod("read", &Context::Read),
        InstanceMethod("sync", &Context::Sync),
        InstanceMethod("op", &Context::Op),
        InstanceMethod("setSyncEachOp", &Context::SetSyncEachOp),
        InstanceMethod("destroy", &Context::Destroy),
    });
  }

  explicit Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
    const int device = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 0;
    const bool fast = info.Length() > 1 && info[1].ToBoolean().Value();
    try {
      rt_ = new Runtime(device, fast);
    } catch (const DeviceError& e) {
      throw jsError(info.Env(), e.code, e.what());
    }
  }

  ~Context() override { release(); }

  void readSettled() {
    pending_--;
    if (destroyed_ && pending_ == 0) release();
  }

 private:
  Runtime* rt_ = nullptr;
  int pending_ = 0;
  bool destroyed_ = false;

  void release() {
    if (rt_ && pending_ == 0) {
      delete rt_;
      rt_ = nullptr;
    }
  }

  Runtime& live(Napi::Env env, const char* op) {
    if (!rt_ || destroyed_) throw jsError(env, "NO_DEVICE", std::string("cuda ") + op + ": the backend was destroyed");
    rt_->activate();
    return *rt_;
  }

  template <class F>
  Napi::Value guard(const Napi::CallbackInfo& info, const char* op, F f) {
    try {
      return f(live(info.Env(), op));
    } catch (const DeviceError& e) {
      throw jsError(info.Env(), e.code, e.what());
    }
  }

  static void* ptrArg(const Napi::CallbackInfo& info, size_t i) { return reinterpret_cast<void*>((uintptr_t)info[i].As<Napi::Number>().DoubleValue()); }
  static size_t sizeArg(const Napi::CallbackInfo& info, size_t i) { return (size_t)info[i].As<Napi::Number>().DoubleValue(); }

  Napi::Value Info(const Napi::CallbackInfo& info) {
    return guard(info, "info", [&](Runtime& rt) -> Napi::Value {
      Napi::Object o = Napi::Object::New(info.Env());
      o.Set("name", rt.info.name);
      o.Set("computeCapability", std::to_string(rt.info.major) + "." + std::to_string(rt.info.minor));
      o.Set("multiprocessors", rt.info.numSMs);
      o.Set("totalMemory", (double)rt.info.totalMemory);
      o.Set("driverVersion", rt.info.driverVersion);
      o.Set("runtimeVersion", rt.info.runtimeVersion);
      o.Set("emulated", Runtime::emulated());
      return o;
    });
  }

  Napi::Value Alloc(const Napi::CallbackInfo& info) {
    return guard(info, "alloc", [&](Runtime& rt) -> Napi::Value {
      const std::string op = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "alloc";
      return Napi::Number::New(info.Env(), (double)(uintptr_t)rt.alloc(sizeArg(info, 0), op.c_str()));
    });
  }

  Napi::Value Free(const Napi::CallbackInfo& info) {
    if (!rt_ || destroyed_) return info.Env().Undefined();  // everything was released with the context
    return guard(info, "free", [&](Runtime& rt) -> Napi::Value {
      rt.release(ptrArg(info, 0));
      return info.Env().Undefined();
    });
  }

  Napi::Value Upload(const Napi::CallbackInfo& info) {
    return guard(info, "upload", [&](Runtime& rt) -> Napi::Value {
      Napi::TypedArray src = info[1].As<Napi::TypedArray>();
      const char* data = static_cast<const char*>(src.ArrayBuffer().Data()) + src.ByteOffset();
      rt.upload(ptrArg(info, 0), data, src.ByteLength(), "upload");
      return info.Env().Undefined();
    });
  }

  Napi::Value Copy(const Napi::CallbackInfo& info) {
    return guard(info, "copy", [&](Runtime& rt) -> Napi::Value {
      rt.copy(ptrArg(info, 0), ptrArg(info, 1), sizeArg(info, 2), "copy");
      return info.Env().Undefined();
    });
  }

  Napi::Value Copy2D(const Napi::CallbackInfo& info) {
    return guard(info, "copy2D", [&](Runtime& rt) -> Napi::Value {
      rt.copy2D(ptrArg(info, 0), sizeArg(info, 1), ptrArg(info, 2), sizeArg(info, 3), sizeArg(info, 4), sizeArg(info, 5), "copy2D");
      return info.Env().Undefined();
    });
  }

  Napi::Value Zero(const Napi::CallbackInfo& info) {
    return guard(info, "zero", [&](Runtime& rt) -> Napi::Value {
      rt.zero(ptrArg(info, 0), sizeArg(info, 1), "zeros");
      return info.Env().Undefined();
    });
  }

  Napi::Value queueRead(const Napi::CallbackInfo& info, Runtime& rt, const void* src, size_t bytes, void* dst, Napi::Value keep, const char* op) {
    Runtime::Pending* p = rt.enqueueRead(src, bytes, op);
    auto* w = new ReadWorker(info.Env(), this, rt_, p, dst, keep, op);
    Napi::Promise promise = w->promise();
    w->holdOwner(Value());
    pending_++;
    w->Queue();
    return promise;
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    return guard(info, "read", [&](Runtime& rt) -> Napi::Value {
      Napi::TypedArray out = info[1].As<Napi::TypedArray>();
      char* dst = static_cast<char*>(out.ArrayBuffer().Data()) + out.ByteOffset();
      return queueRead(info, rt, ptrArg(info, 0), out.ByteLength(), dst, out, "read");
    });
  }

  Napi::Value Sync(const Napi::CallbackInfo& info) {
    return guard(info, "sync", [&](Runtime& rt) -> Napi::Value { return queueRead(info, rt, nullptr, 0, nullptr, info.Env().Undefined(), "sync"); });
  }

  Napi::Value Op(const Napi::CallbackInfo& info) {
    const std::string name = info[0].As<Napi::String>().Utf8Value();
    return guard(info, name.c_str(), [&](Runtime& rt) -> Napi::Value {
      const auto& table = opTable();
      auto it = table.find(name);
      if (it == table.end()) throw DeviceError("NOT_IMPLEMENTED", "cuda: no op named " + name);
      Napi::Float64Array params = info[1].As<Napi::Float64Array>();
      Args a{params.Data(), params.ElementLength(), 0, info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : name};
      it->second(rt.ctx, a);
      return info.Env().Undefined();
    });
  }

  Napi::Value SetSyncEachOp(const Napi::CallbackInfo& info) {
    return guard(info, "setSyncEachOp", [&](Runtime& rt) -> Napi::Value {
      rt.ctx.syncEachOp = info[0].ToBoolean().Value();
      return info.Env().Undefined();
    });
  }

  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    if (!destroyed_) {
      destroyed_ = true;
      release();
    }
    return info.Env().Undefined();
  }
};

void ReadWorker::OnOK() {
  rt_->finish(p_);
  if (err_.empty()) {
    deferred_.Resolve(Env().Undefined());
  } else {
    const size_t bar = err_.find('|');
    const std::string code = err_.substr(0, bar), msg = err_.substr(bar + 1);
    deferred_.Reject(jsError(Env(), code, "cuda " + op_ + ": " + msg + " (reported when waiting for the queued work; LRPSEG_CUDA_SYNC=1 names the failing op)").Value());
  }
  owner_->readSettled();
}

Napi::Value Probe(const Napi::CallbackInfo& info) {
  const ProbeResult r = Runtime::probe();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("devices", r.devices);
  o.Set("code", r.code);
  o.Set("reason", r.reason);
  o.Set("emulated", Runtime::emulated());
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("probe", Napi::Function::New(env, Probe));
  exports.Set("Context", Context::Define(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(lrpseg_cuda, Init)
