// Device memory, copies and completion for one backend instance: a CUDA stream with a stream-ordered
// memory pool (runtime_cuda.cpp), or host memory in the emulation (runtime_emu.cpp).
#pragma once
#include <string>
#include <vector>
#include "common.h"

namespace lrpseg {

struct ProbeResult {
  int devices = 0;
  std::string code;    // empty when a device is usable
  std::string reason;
};

struct DeviceInfo {
  std::string name;
  int major = 0, minor = 0;
  int numSMs = 0;
  size_t totalMemory = 0;
  int driverVersion = 0, runtimeVersion = 0;
};

class Runtime {
 public:
  /** Whether a device can be used at all (driver present, at least one device); never throws. */
  static ProbeResult probe();
  static bool emulated();

  Runtime(int device, bool fast);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Ctx ctx;
  DeviceInfo info;

  /** Makes this runtime's device current on the calling thread. */
  void activate();
  void* alloc(size_t bytes, const char* op);
  void release(void* p);
  void upload(void* dst, const void* src, size_t bytes, const char* op);
  void copy(void* dst, const void* src, size_t bytes, const char* op);
  void copy2D(void* dst, size_t dpitch, const void* src, size_t spitch, size_t width, size_t height, const char* op);
  void zero(void* p, size_t bytes, const char* op);

  /** A read (or, with src null, a completion marker) queued behind all work so far. */
  struct Pending;
  Pending* enqueueRead(const void* src, size_t bytes, const char* op);
  /** Worker thread: waits for the pending read and copies it to dst; returns "" or "CODE|message". */
  std::string wait(Pending* p, void* dst);
  /** Main thread, after wait: recycles the staging buffer. */
  void finish(Pending* p);
  /** Blocks until the stream is idle (destroy only). */
  void synchronize();

 private:
  struct Impl;
  Impl* impl_;
};

}  // namespace lrpseg
