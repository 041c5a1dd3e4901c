// Shared by the CUDA build and the host emulation build (LRPSEG_EMULATE): the HD macro, the error type
// that the binding turns into an LrpsegError, and the per-backend launch context.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#ifdef LRPSEG_EMULATE
#define HD
#define LRPSEG_UNROLL
#else
#include <cuda_runtime.h>
#define HD __host__ __device__
#define LRPSEG_UNROLL _Pragma("unroll")
#endif

namespace lrpseg {

/** A failure with an LrpsegError code (NO_DEVICE, OUT_OF_DEVICE_MEMORY, ...) and a message naming the op. */
struct DeviceError : std::runtime_error {
  std::string code;
  DeviceError(std::string c, const std::string& msg) : std::runtime_error(msg), code(std::move(c)) {}
};

/** What every op needs to launch: the stream, the chip's size and the precision of matrix products. */
struct Ctx {
  void* stream = nullptr;        // cudaStream_t
  int numSMs = 132;
  bool fast = false;             // TF32 (fast) or 3xTF32 (accurate) matrix products
  bool syncEachOp = false;       // debug: synchronise after every launch so that errors name their op
  bool accurateSplit = false;    // experiment (LRPSEG_CUDA_ACCURATE=split): accurate mode's sums outside the MMA
  int gemmBlocksPerSM = 1;       // experiment (LRPSEG_CUDA_GEMM_BLOCKS=2): the 128-row GEMM compiled for 2 blocks per SM
  bool wgradWalk = false;        // experiment (LRPSEG_CUDA_WGRAD_WALK=1): weight gradients' operands walked, not divided
  // Device allocator hooks (the runtime owns memory); used for GEMM split-K partials.
  void* (*alloc)(void* self, size_t bytes, const char* op) = nullptr;
  void (*release)(void* self, void* p) = nullptr;
  void* owner = nullptr;
};

/** Throws a DeviceError if the last launch failed (CUDA build); nothing in the emulation. */
void checkLaunch(const Ctx& ctx, const char* op);

}  // namespace lrpseg
