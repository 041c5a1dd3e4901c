#include <cstdlib>
#include <cuda_runtime.h>
#include <algorithm>
#include <cstring>
#include <mutex>
#include "runtime.h"

namespace lrpseg {

static std::string errorCodeOf(cudaError_t e) {
  return e == cudaErrorMemoryAllocation ? "OUT_OF_DEVICE_MEMORY" : "NO_DEVICE";
}

static DeviceError cudaFailure(cudaError_t e, const std::string& what) {
  cudaGetLastError();  // clear a non-sticky error so that it is not reported again by the next op
  std::string msg = what + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  if (e == cudaErrorMemoryAllocation) msg = what + ": out of device memory";
  return DeviceError(errorCodeOf(e), msg);
}

static void check(cudaError_t e, const std::string& what) {
  if (e != cudaSuccess) throw cudaFailure(e, what);
}

void checkLaunch(const Ctx& ctx, const char* op) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess && ctx.syncEachOp) e = cudaStreamSynchronize((cudaStream_t)ctx.stream);
  if (e != cudaSuccess) throw cudaFailure(e, std::string("cuda ") + op + ": kernel failed");
}

struct Runtime::Pending {
  void* host = nullptr;     // pinned staging (null for a marker)
  size_t capacity = 0;
  size_t bytes = 0;
  cudaEvent_t event = nullptr;
};

struct Runtime::Impl {
  int device = 0;
  cudaStream_t stream = nullptr;
  std::vector<Pending*> freeStaging;  // pinned buffers (and events) ready for reuse
  std::mutex mu;
};

ProbeResult Runtime::probe() {
  ProbeResult r;
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    cudaGetLastError();
    r.code = "NO_DEVICE";
    if (e == cudaErrorInsufficientDriver) r.reason = "no usable NVIDIA driver (cudaErrorInsufficientDriver: the driver is missing or older than CUDA 13 needs)";
    else if (e == cudaErrorNoDevice) r.reason = "no CUDA device (cudaErrorNoDevice)";
    else r.reason = std::string("CUDA is not usable: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    return r;
  }
  r.devices = n;
  if (n == 0) {
    r.code = "NO_DEVICE";
    r.reason = "no CUDA device";
  }
  return r;
}

bool Runtime::emulated() { return false; }

static void* allocHook(void* self, size_t bytes, const char* op) { return static_cast<Runtime*>(self)->alloc(bytes, op); }
static void releaseHook(void* self, void* p) { static_cast<Runtime*>(self)->release(p); }

Runtime::Runtime(int device, bool fast) : impl_(new Impl) {
  const ProbeResult pr = probe();
  if (!pr.code.empty()) {
    delete impl_;
    throw DeviceError(pr.code, pr.reason);
  }
  if (device < 0 || device >= pr.devices) {
    delete impl_;
    throw DeviceError("NO_DEVICE", "no CUDA device " + std::to_string(device) + " (this machine has " + std::to_string(pr.devices) + ")");
  }
  try {
    impl_->device = device;
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp prop;
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    info.name = prop.name;
    info.major = prop.major;
    info.minor = prop.minor;
    info.numSMs = prop.multiProcessorCount;
    info.totalMemory = prop.totalGlobalMem;
    cudaDriverGetVersion(&info.driverVersion);
    cudaRuntimeGetVersion(&info.runtimeVersion);
    if (prop.major < 8) throw DeviceError("NO_DEVICE", "CUDA device " + std::to_string(device) + " (" + info.name + ") has compute capability " + std::to_string(prop.major) + "." + std::to_string(prop.minor) + "; lrpseg's kernels need 8.0 or newer");
    check(cudaStreamCreateWithFlags(&impl_->stream, cudaStreamNonBlocking), "cudaStreamCreate");
    // Keep freed blocks in the stream-ordered pool instead of returning them to the driver.
    cudaMemPool_t pool;
    check(cudaDeviceGetDefaultMemPool(&pool, device), "cudaDeviceGetDefaultMemPool");
    uint64_t threshold = UINT64_MAX;
    check(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &threshold), "cudaMemPoolSetAttribute");
  } catch (...) {
    if (impl_->stream) cudaStreamDestroy(impl_->stream);
    delete impl_;
    throw;
  }
  ctx.stream = impl_->stream;
  ctx.numSMs = info.numSMs;
  ctx.fast = fast;
  if (const char* b = std::getenv("LRPSEG_CUDA_GEMM_BLOCKS")) ctx.gemmBlocksPerSM = std::atoi(b) == 2 ? 2 : 1;
  if (const char* a = std::getenv("LRPSEG_CUDA_ACCURATE")) ctx.accurateSplit = std::strcmp(a, "split") == 0;
  if (const char* w = std::getenv("LRPSEG_CUDA_WGRAD_WALK")) ctx.wgradWalk = std::strcmp(w, "1") == 0;
  ctx.alloc = allocHook;
  ctx.release = releaseHook;
  ctx.owner = this;
}

Runtime::~Runtime() {
  if (!impl_) return;
  cudaSetDevice(impl_->device);
  cudaStreamSynchronize(impl_->stream);
  for (Pending* p : impl_->freeStaging) {
    if (p->host) cudaFreeHost(p->host);
    if (p->event) cudaEventDestroy(p->event);
    delete p;
  }
  cudaStreamDestroy(impl_->stream);
  cudaMemPool_t pool;
  if (cudaDeviceGetDefaultMemPool(&pool, impl_->device) == cudaSuccess) cudaMemPoolTrimTo(pool, 0);
  cudaGetLastError();
  delete impl_;
}

void Runtime::activate() {
  static thread_local int current = -1;
  if (current != impl_->device) {
    check(cudaSetDevice(impl_->device), "cudaSetDevice");
    current = impl_->device;
  }
}

void* Runtime::alloc(size_t bytes, const char* op) {
  void* p = nullptr;
  const cudaError_t e = cudaMallocAsync(&p, std::max<size_t>(bytes, 16), impl_->stream);
  if (e != cudaSuccess) {
    throw cudaFailure(e, std::string("cuda ") + op + ": allocating " + std::to_string(bytes) + " bytes");
  }
  return p;
}

void Runtime::release(void* p) {
  if (p) cudaFreeAsync(p, impl_->stream);
}

/** A staging buffer of at least `bytes`, reused once the copy that last used it has completed. */
static Runtime::Pending* acquireStaging(std::vector<Runtime::Pending*>& pool, size_t bytes, const char* op) {
  for (size_t i = 0; i < pool.size(); i++) {
    Runtime::Pending* p = pool[i];
    if (p->capacity >= bytes && (p->capacity <= 4 * std::max<size_t>(bytes, 1 << 16)) && cudaEventQuery(p->event) == cudaSuccess) {
      pool.erase(pool.begin() + (long)i);
      return p;
    }
  }
  cudaGetLastError();
  auto* p = new Runtime::Pending;
  size_t cap = 1 << 16;
  while (cap < bytes) cap <<= 1;
  if (bytes > 0) {
    const cudaError_t e = cudaHostAlloc(&p->host, cap, cudaHostAllocDefault);
    if (e != cudaSuccess) {
      delete p;
      throw cudaFailure(e, std::string("cuda ") + op + ": pinned staging buffer of " + std::to_string(cap) + " bytes");
    }
    p->capacity = cap;
  }
  const cudaError_t e = cudaEventCreateWithFlags(&p->event, cudaEventDisableTiming);
  if (e != cudaSuccess) {
    if (p->host) cudaFreeHost(p->host);
    delete p;
    throw cudaFailure(e, std::string("cuda ") + op + ": cudaEventCreate");
  }
  return p;
}

void Runtime::upload(void* dst, const void* src, size_t bytes, const char* op) {
  if (bytes == 0) return;
  // Through pinned memory: a pageable cudaMemcpyAsync may wait for the stream, which would block Node.
  Pending* st = acquireStaging(impl_->freeStaging, bytes, op);
  std::memcpy(st->host, src, bytes);
  cudaError_t e = cudaMemcpyAsync(dst, st->host, bytes, cudaMemcpyHostToDevice, impl_->stream);
  if (e == cudaSuccess) e = cudaEventRecord(st->event, impl_->stream);
  impl_->freeStaging.push_back(st);
  check(e, std::string("cuda ") + op + ": upload");
}

void Runtime::copy(void* dst, const void* src, size_t bytes, const char* op) {
  if (bytes == 0) return;
  check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, impl_->stream), std::string("cuda ") + op + ": copy");
}

void Runtime::copy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height, const char* op) {
  if (width == 0 || height == 0) return;
  check(cudaMemcpy2DAsync(dst, dpitch, src, spitch, width, height, cudaMemcpyDeviceToDevice, impl_->stream), std::string("cuda ") + op + ": copy");
}

void Runtime::zero(void* p, size_t bytes, const char* op) {
  if (bytes == 0) return;
  check(cudaMemsetAsync(p, 0, bytes, impl_->stream), std::string("cuda ") + op + ": memset");
}

Runtime::Pending* Runtime::enqueueRead(const void* src, size_t bytes, const char* op) {
  Pending* st = acquireStaging(impl_->freeStaging, src ? bytes : 0, op);
  st->bytes = src ? bytes : 0;
  cudaError_t e = cudaSuccess;
  if (src && bytes) e = cudaMemcpyAsync(st->host, src, bytes, cudaMemcpyDeviceToHost, impl_->stream);
  if (e == cudaSuccess) e = cudaEventRecord(st->event, impl_->stream);
  if (e != cudaSuccess) {
    impl_->freeStaging.push_back(st);
    throw cudaFailure(e, std::string("cuda ") + op);
  }
  return st;
}

std::string Runtime::wait(Pending* p, void* dst) {
  const cudaError_t e = cudaEventSynchronize(p->event);
  if (e != cudaSuccess) {
    const std::string code = errorCodeOf(e);
    return code + "|" + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
  }
  if (dst && p->bytes) std::memcpy(dst, p->host, p->bytes);
  return "";
}

void Runtime::finish(Pending* p) { impl_->freeStaging.push_back(p); }

void Runtime::synchronize() { cudaStreamSynchronize(impl_->stream); }

}  // namespace lrpseg
