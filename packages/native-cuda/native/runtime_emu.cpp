// Host emulation of the runtime: device memory is host memory and every op has finished when it returns.
#include <cstdlib>
#include <cstring>
#include "runtime.h"

namespace lrpseg {

void checkLaunch(const Ctx&, const char*) {}

struct Runtime::Pending {
  std::vector<char> data;  // copied at enqueue time: the tensor may be disposed before the promise settles
};
struct Runtime::Impl {};

ProbeResult Runtime::probe() {
  ProbeResult r;
  r.devices = 1;
  return r;
}

bool Runtime::emulated() { return true; }

static void* allocHook(void* self, size_t bytes, const char* op) { return static_cast<Runtime*>(self)->alloc(bytes, op); }
static void releaseHook(void* self, void* p) { static_cast<Runtime*>(self)->release(p); }

Runtime::Runtime(int device, bool fast) : impl_(new Impl) {
  if (device != 0) {
    delete impl_;
    throw DeviceError("NO_DEVICE", "the emulated CUDA backend has only device 0");
  }
  info.name = "host emulation (no GPU)";
  info.numSMs = 132;
  ctx.numSMs = 132;
  ctx.fast = fast;
  // the experiments that change what the emulation replays (the others only change device compilation)
  if (const char* w = std::getenv("LRPSEG_CUDA_WGRAD_WALK")) ctx.wgradWalk = std::strcmp(w, "1") == 0;
  ctx.alloc = allocHook;
  ctx.release = releaseHook;
  ctx.owner = this;
}

Runtime::~Runtime() { delete impl_; }
void Runtime::activate() {}

void* Runtime::alloc(size_t bytes, const char* op) {
  void* p = std::malloc(bytes < 16 ? 16 : bytes);
  if (!p) throw DeviceError("OUT_OF_DEVICE_MEMORY", std::string("cuda ") + op + ": out of (host) memory for " + std::to_string(bytes) + " bytes");
  // Poison: an op that forgets to write an element shows NaNs instead of stale zeros.
  std::memset(p, 0xff, bytes);
  return p;
}

void Runtime::release(void* p) { std::free(p); }
void Runtime::upload(void* dst, const void* src, size_t bytes, const char*) { if (bytes) std::memcpy(dst, src, bytes); }
void Runtime::copy(void* dst, const void* src, size_t bytes, const char*) { if (bytes) std::memmove(dst, src, bytes); }
void Runtime::copy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height, const char*) {
  for (size_t r = 0; r < height; r++) std::memcpy(static_cast<char*>(dst) + r * dpitch, static_cast<const char*>(src) + r * spitch, width);
}
void Runtime::zero(void* p, size_t bytes, const char*) { if (bytes) std::memset(p, 0, bytes); }

Runtime::Pending* Runtime::enqueueRead(const void* src, size_t bytes, const char*) {
  auto* p = new Pending;
  if (src && bytes) p->data.assign(static_cast<const char*>(src), static_cast<const char*>(src) + bytes);
  return p;
}

std::string Runtime::wait(Pending* p, void* dst) {
  if (dst && !p->data.empty()) std::memcpy(dst, p->data.data(), p->data.size());
  return "";
}

void Runtime::finish(Pending* p) { delete p; }
void Runtime::synchronize() {}

}  // namespace lrpseg
