// Op implementations shared by the CUDA build (kernels.cu) and the host emulation (kernels_emu.cpp).
// Elementwise work is written once as an HD lambda and run by forEach (a grid-stride kernel, or a host
// loop); reductions by reduceRows (one block per row with a fixed-order tree, so results never depend
// on timing or on the other rows, e.g. the other images of a batch).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>
#include "gemm.h"
#include "ops.h"
#ifndef LRPSEG_EMULATE
#include <mma.h>
#endif

namespace lrpseg {

#ifndef LRPSEG_EMULATE
template <class F>
__global__ void forEachKernel(long long n, F f) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) f(i);
}

template <class V, class F>
__global__ void __launch_bounds__(256) reduceRowsKernel(long long rows, long long len, V value, F finish) {
  __shared__ double sh[256];
  for (long long row = blockIdx.x; row < rows; row += gridDim.x) {
    double s = 0;
    for (long long j = threadIdx.x; j < len; j += 256) s += value(row, j);
    sh[threadIdx.x] = s;
    __syncthreads();
    for (int half = 128; half > 0; half >>= 1) {
      if ((int)threadIdx.x < half) sh[threadIdx.x] += sh[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) finish(row, sh[0]);
    __syncthreads();
  }
}
#endif

template <class F>
void forEach(Ctx& ctx, const char* op, long long n, F f) {
  if (n <= 0) return;
#ifdef LRPSEG_EMULATE
  (void)ctx; (void)op;
  for (long long i = 0; i < n; i++) f(i);
#else
  const long long blocks = std::min<long long>((n + 255) / 256, 1LL << 20);
  forEachKernel<<<(unsigned)blocks, 256, 0, (cudaStream_t)ctx.stream>>>(n, f);
  checkLaunch(ctx, op);
#endif
}

template <class V, class F>
void reduceRows(Ctx& ctx, const char* op, long long rows, long long len, V value, F finish) {
  if (rows <= 0) return;
#ifdef LRPSEG_EMULATE
  (void)ctx; (void)op;
  for (long long r = 0; r < rows; r++) {
    double s = 0;
    for (long long j = 0; j < len; j++) s += value(r, j);
    finish(r, s);
  }
#else
  const long long blocks = std::min<long long>(rows, 1LL << 16);
  reduceRowsKernel<<<(unsigned)blocks, 256, 0, (cudaStream_t)ctx.stream>>>(rows, len, value, finish);
  checkLaunch(ctx, op);
#endif
}

// ---- elementwise ---------------------------------------------------------------------------------

HD inline float sigmoidOf(float x) {
  if (x >= 0.f) return 1.f / (1.f + expf(-x));
  const float e = expf(x);
  return e / (1.f + e);
}

void opUnary(Ctx& ctx, int op, const float* x, float* y, long long count, float s) {
  switch (op) {
    case U_SCALE: forEach(ctx, "scale", count, [=] HD(long long i) { y[i] = x[i] * s; }); break;
    case U_RELU: forEach(ctx, "relu", count, [=] HD(long long i) { y[i] = x[i] > 0.f ? x[i] : 0.f; }); break;
    case U_SIGMOID: forEach(ctx, "sigmoid", count, [=] HD(long long i) { y[i] = sigmoidOf(x[i]); }); break;
    default: throw DeviceError("NOT_IMPLEMENTED", "unknown unary op");
  }
}

void opBinary(Ctx& ctx, int op, const float* a, const float* b, float* y, long long count) {
  switch (op) {
    case B_ADD: forEach(ctx, "add", count, [=] HD(long long i) { y[i] = a[i] + b[i]; }); break;
    case B_MUL: forEach(ctx, "mul", count, [=] HD(long long i) { y[i] = a[i] * b[i]; }); break;
    case B_RELU_BACKWARD: forEach(ctx, "reluBackward", count, [=] HD(long long i) { y[i] = b[i] > 0.f ? a[i] : 0.f; }); break;
    case B_SIGMOID_BACKWARD:
      forEach(ctx, "sigmoidBackward", count, [=] HD(long long i) { y[i] = a[i] * b[i] * (1.f - b[i]); });
      break;
    default: throw DeviceError("NOT_IMPLEMENTED", "unknown binary op");
  }
}

void opAffineChannels(Ctx& ctx, const float* x, float* y, int n, int c, long long plane, const float* scale, const float* shift) {
  forEach(ctx, "affineChannels", (long long)n * c * plane, [=] HD(long long i) {
    const int ch = (int)((i / plane) % c);
    y[i] = x[i] * scale[ch] + shift[ch];
  });
}

void opSumChannels(Ctx& ctx, const float* x, float* y, int n, int c, long long plane) {
  forEach(ctx, "sumChannels", (long long)n * plane, [=] HD(long long i) {
    const long long img = i / plane, j = i - img * plane;
    double s = 0;
    for (int ch = 0; ch < c; ch++) s += x[(img * c + ch) * plane + j];
    y[i] = (float)s;
  });
}

void opSelectClass(Ctx& ctx, const float* x, const int* target, float* y, int n, int k) {
  forEach(ctx, "selectClass", (long long)n * k, [=] HD(long long i) {
    const long long row = i / k;
    y[i] = (i - row * k) == target[row] ? x[i] : 0.f;
  });
}

void opSoftmax(Ctx& ctx, const float* x, float* y, int n, int k) {
  forEach(ctx, "softmax", n, [=] HD(long long row) {
    const float* r = x + row * k;
    float mx = r[0];
    for (int j = 1; j < k; j++) mx = r[j] > mx ? r[j] : mx;
    double sum = 0;
    for (int j = 0; j < k; j++) sum += exp((double)r[j] - mx);
    for (int j = 0; j < k; j++) y[row * k + j] = (float)(exp((double)r[j] - mx) / sum);
  });
}

HD inline double softplusOf(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

void opCrossEntropy(Ctx& ctx, const float* x, const int* labels, const float* weights, float* loss, float* d, int n, int k) {
  // One thread: batches are small (N·K logits) and the weighted mean needs Σ w[y] first.
  forEach(ctx, "crossEntropy", 1, [=] HD(long long) {
    double wSum = 0, total = 0;
    for (int i = 0; i < n; i++) wSum += weights ? weights[labels[i]] : 1.0;
    for (int i = 0; i < n; i++) {
      const float* r = x + (long long)i * k;
      const int yl = labels[i];
      const double wi = weights ? weights[yl] : 1.0;
      double mx = r[0];
      for (int j = 1; j < k; j++) mx = r[j] > mx ? r[j] : mx;
      double sum = 0;
      for (int j = 0; j < k; j++) sum += exp(r[j] - mx);
      total += wi * (mx + log(sum) - r[yl]);
      const double f = wi / wSum;
      for (int j = 0; j < k; j++) d[(long long)i * k + j] = (float)(f * (exp(r[j] - mx) / sum - (j == yl ? 1.0 : 0.0)));
    }
    loss[0] = (float)(total / wSum);
  });
}

void opBceWithLogits(Ctx& ctx, const float* x, const float* t, float posWeight, float* loss, float* d, long long count) {
  const double pw = posWeight;
  forEach(ctx, "bceWithLogits", count, [=] HD(long long i) {
    const double s = 1.0 / (1.0 + exp(-(double)x[i]));
    d[i] = (float)((pw * t[i] * (s - 1) + (1 - t[i]) * s) / count);
  });
  reduceRows(
      ctx, "bceWithLogits", 1, count,
      [=] HD(long long, long long i) { return pw * t[i] * softplusOf(-(double)x[i]) + (1 - t[i]) * softplusOf(x[i]); },
      [=] HD(long long, double s) { loss[0] = (float)(s / count); });
}

// ---- pooling -------------------------------------------------------------------------------------

/** Index within its plane of the maximum of window (oy, ox): first in row-major order on ties, NaN wins. */
HD inline int windowArgmax(const float* plane, const PoolGeom& g, int oy, int ox) {
  const int y0 = oy * g.stride, x0 = ox * g.stride;
  int best = y0 * g.w + x0;
  float bestV = plane[best];
  for (int ky = 0; ky < g.k; ky++) {
    for (int kx = 0; kx < g.k; kx++) {
      const int idx = (y0 + ky) * g.w + x0 + kx;
      const float v = plane[idx];
      if (v > bestV || (v != v && bestV == bestV)) {
        bestV = v;
        best = idx;
      }
    }
  }
  return best;
}

void opMaxPool(Ctx& ctx, const float* x, float* y, PoolGeom g) {
  const long long outPlane = (long long)g.oh * g.ow, inPlane = (long long)g.h * g.w;
  forEach(ctx, "maxPool2d", (long long)g.n * g.c * outPlane, [=] HD(long long i) {
    const long long pl = i / outPlane;
    const int p = (int)(i - pl * outPlane);
    const float* plane = x + pl * inPlane;
    y[i] = plane[windowArgmax(plane, g, p / g.ow, p % g.ow)];
  });
}

/**
 * Gathers, for input element i, the routed values of every window that contains it (no atomics:
 * deterministic). avg = false: the window's value if i is its argmax; true: a_i · r / stab(Σ window, δ).
 */
template <bool AVG>
HD inline float gatherPool(const float* xPlane, const float* rPlane, const PoolGeom& g, int iy, int ix) {
  const int oyLo = iy - g.k + 1 > 0 ? (iy - g.k + 1 + g.stride - 1) / g.stride : 0;
  const int oxLo = ix - g.k + 1 > 0 ? (ix - g.k + 1 + g.stride - 1) / g.stride : 0;
  const int oyHi = (iy / g.stride) < g.oh - 1 ? iy / g.stride : g.oh - 1;
  const int oxHi = (ix / g.stride) < g.ow - 1 ? ix / g.stride : g.ow - 1;
  const int self = iy * g.w + ix;
  double acc = 0;
  for (int oy = oyLo; oy <= oyHi; oy++) {
    for (int ox = oxLo; ox <= oxHi; ox++) {
      const double rv = rPlane[oy * g.ow + ox];
      if (AVG) {
        double s = 0;
        for (int ky = 0; ky < g.k; ky++)
          for (int kx = 0; kx < g.k; kx++) s += xPlane[(oy * g.stride + ky) * g.w + ox * g.stride + kx];
        const double st = s >= 0 ? s + 1e-9 : s - 1e-9;
        acc += xPlane[self] * (rv / st);
      } else if (windowArgmax(xPlane, g, oy, ox) == self) {
        acc += rv;
      }
    }
  }
  return (float)acc;
}

void opMaxPoolBackward(Ctx& ctx, const float* dy, const float* x, float* dx, PoolGeom g) {
  const long long outPlane = (long long)g.oh * g.ow, inPlane = (long long)g.h * g.w;
  forEach(ctx, "maxPool2dBackward", (long long)g.n * g.c * inPlane, [=] HD(long long i) {
    const long long pl = i / inPlane;
    const int q = (int)(i - pl * inPlane);
    dx[i] = gatherPool<false>(x + pl * inPlane, dy + pl * outPlane, g, q / g.w, q % g.w);
  });
}

void opLrpMaxPool(Ctx& ctx, const float* a, const float* r, float* out, PoolGeom g, bool avg) {
  const long long outPlane = (long long)g.oh * g.ow, inPlane = (long long)g.h * g.w;
  if (avg) {
    forEach(ctx, "lrpMaxPool2d", (long long)g.n * g.c * inPlane, [=] HD(long long i) {
      const long long pl = i / inPlane;
      const int q = (int)(i - pl * inPlane);
      out[i] = gatherPool<true>(a + pl * inPlane, r + pl * outPlane, g, q / g.w, q % g.w);
    });
  } else {
    opMaxPoolBackward(ctx, r, a, out, g);
  }
}

// ---- reductions ----------------------------------------------------------------------------------

void opChannelSum(Ctx& ctx, const float* dy, float* db, int n, int c, long long plane) {
  reduceRows(
      ctx, "biasGradient", c, (long long)n * plane,
      [=] HD(long long ch, long long j) {
        const long long img = j / plane;
        return (double)dy[(img * c + ch) * plane + (j - img * plane)];
      },
      [=] HD(long long ch, double s) { db[ch] = (float)s; });
}

void opRmsPerSample(Ctx& ctx, const float* z, float* e, int n, long long per, double factor, double delta) {
  reduceRows(
      ctx, "epsilonStabiliser", n, per, [=] HD(long long s, long long j) { const double v = z[s * per + j]; return v * v; },
      [=] HD(long long s, double sum) {
        const double v = factor * sqrt(sum / per);
        e[s] = (float)(v > delta ? v : delta);
      });
}

void opLrpQuotient(Ctx& ctx, const float* r, const float* z, const float* e, float eConst, const float* coef, float* q, int n, int kb, long long per) {
  // the expression of gemmLoadB / gemmLoadBAt (DGRAD, lrp), so that the product sees the same bits
  const float c0 = coef[0], c1 = kb > 1 ? coef[1] : 0.f, c2 = kb > 2 ? coef[2] : 0.f;
  forEach(ctx, "lrpQuotient", (long long)n * kb * per, [=] HD(long long i) {
    const long long img = i / (kb * per), rest = i - img * kb * per, j = rest / per, within = rest - j * per;
    const float cj = j == 0 ? c0 : j == 1 ? c1 : c2;
    q[i] = cj * (r[img * per + within] / stabilise(z[i], e ? e[img] : eConst));
  });
}

void opTransformWeights(Ctx& ctx, const float* w, float* out, long long count, int kb, const int* mode, float gamma) {
  const int m0 = mode[0], m1 = kb > 1 ? mode[1] : T_ZERO, m2 = kb > 2 ? mode[2] : T_ZERO;
  forEach(ctx, "transformWeights", count * kb, [=] HD(long long i) {
    const long long j = i / count;
    out[i] = applyTransform(j == 0 ? m0 : j == 1 ? m1 : m2, w[i - j * count], gamma);
  });
}

void opSumBlocks(Ctx& ctx, const float* t, float* out, int n, int blocks, long long size) {
  forEach(ctx, "sumBlocks", (long long)n * size, [=] HD(long long i) {
    const long long img = i / size, j = i - img * size;
    float s = 0.f;
    for (int b = 0; b < blocks; b++) s += t[(img * blocks + b) * size + j];
    out[i] = s;
  });
}

// ---- optimisers (float64 per element, as the reference) -------------------------------------------

void opSgd(Ctx& ctx, float* param, const float* grad, float* buf, long long count, double lr, double mu, double wd, bool nesterov) {
  forEach(ctx, "sgdStep", count, [=] HD(long long i) {
    double g = grad[i] + wd * param[i];
    if (mu != 0) {
      const double b = mu * buf[i] + g;
      buf[i] = (float)b;
      g = nesterov ? g + mu * b : b;
    }
    param[i] = (float)(param[i] - lr * g);
  });
}

void opAdam(Ctx& ctx, float* param, const float* grad, float* m, float* v, long long count, double lr, double beta1, double beta2,
            double eps, double wd, int step, bool decoupled) {
  const double bc1 = 1 - std::pow(beta1, step);
  const double bc2Sqrt = std::sqrt(1 - std::pow(beta2, step));
  const double stepSize = lr / bc1;
  forEach(ctx, "adamStep", count, [=] HD(long long i) {
    double theta = param[i];
    double g = grad[i];
    if (wd != 0) {
      if (decoupled) theta = theta * (1 - lr * wd);
      else g = g + wd * theta;
    }
    const double mi = beta1 * m[i] + (1 - beta1) * g;
    const double vi = beta2 * v[i] + (1 - beta2) * g * g;
    m[i] = (float)mi;
    v[i] = (float)vi;
    param[i] = (float)(theta - (stepSize * mi) / (sqrt(vi) / bc2Sqrt + eps));
  });
}

// ---- matrix products -----------------------------------------------------------------------------

constexpr int GEMM_BK = 16;
constexpr int GEMM_BN = 128;

/**
 * Split-K plan. Conv products are never split, and a linear layer's split depends only on M and K:
 * the sum order of an output element must not depend on the batch (heatmaps are batch-independent to
 * the bit). Weight gradients sum over the batch anyway and split freely.
 */
inline void planSplits(GemmParams& p, int numSMs, int bm) {
  const long long mTiles = (p.M + bm - 1) / bm, nTiles = (p.N + GEMM_BN - 1) / GEMM_BN;
  const bool dense = p.kind != GEMM_WGRAD && p.ks == 1 && p.h == 1 && p.w == 1 && p.oh == 1 && p.ow == 1;
  const long long maxByK = std::max<long long>(1, (p.K + 255) / 256);
  long long splits = 1;
  if (p.kind == GEMM_WGRAD) {
    const long long tiles = mTiles * nTiles;
    if (tiles < 2LL * numSMs) splits = std::min<long long>((2LL * numSMs + tiles - 1) / tiles, maxByK);
  } else if (dense) {
    splits = std::min<long long>(std::max<long long>(1, 2LL * numSMs / mTiles), maxByK);
  }
  splits = std::max<long long>(1, std::min<long long>(splits, 1024));
  long long chunk = (p.K + splits - 1) / splits;
  chunk = (chunk + GEMM_BK - 1) / GEMM_BK * GEMM_BK;
  if (chunk < GEMM_BK) chunk = GEMM_BK;
  p.kChunk = chunk;
  p.splits = (int)std::max<long long>(1, (p.K + chunk - 1) / chunk);
}

/** B in the nFast layout (column fixed per thread): FWD and DGRAD convolutions; not weight gradients or linear layers. */
static bool gemmNFast(const GemmParams& p) {
  const bool dense = p.kind != GEMM_WGRAD && p.ks == 1 && p.h == 1 && p.w == 1 && p.oh == 1 && p.ow == 1;
  return !(p.kind == GEMM_WGRAD || dense);
}

#ifdef LRPSEG_EMULATE
/** cvt.rna.tf32.f32: round to 10 mantissa bits, ties away from zero. */
inline float tf32Round(float x) {
  uint32_t u;
  std::memcpy(&u, &x, 4);
  if ((u & 0x7f800000u) != 0x7f800000u) {
    u += 0x1000u;
    u &= 0xffffe000u;
  }
  float r;
  std::memcpy(&r, &u, 4);
  return r;
}

/**
 * The kernel's blocks replayed on the host: each of a block's 256 threads loads its operands through
 * GemmThreadLoader in the kernel's order (so the emulation checks the device's index walks), and the
 * tile product rounds as the tensor cores do, summing k in ascending order.
 */
template <int BM, bool WALKW = false>
static void emulateTcBlocks(Ctx& ctx, GemmParams& p, bool nFast) {
  constexpr int BK = GEMM_BK, BN = GEMM_BN;
  using L = GemmThreadLoader<BM, WALKW>;
  const long long M = p.M, N = p.N, K = p.K;
  std::vector<float> partial(p.splits > 1 ? (size_t)(p.splits * M * N) : 0);
  std::vector<L> loaders(256);
  std::vector<float> aHi(BM * BK), aLo(BM * BK), bHi(BK * BN), bLo(BK * BN), acc((size_t)BM * BN);
  float ra[L::AE], rb[L::BE];
  const long long mTiles = (M + BM - 1) / BM, nTiles = (N + BN - 1) / BN;
  for (int z = 0; z < p.splits; z++) {
    const long long kBegin = z * p.kChunk, kEnd = std::min(K, kBegin + p.kChunk);
    const long long numK = kEnd > kBegin ? (kEnd - kBegin + BK - 1) / BK : 0;
    for (long long by = 0; by < mTiles; by++)
      for (long long bx = 0; bx < nTiles; bx++) {
        const long long m0 = by * BM, n0 = bx * BN;
        const int rows = (int)std::min<long long>(BM, M - m0), cols = (int)std::min<long long>(BN, N - n0);
        for (int t = 0; t < 256; t++) loaders[t].init(p, t, m0, n0, kBegin, kEnd, nFast);
        std::fill(acc.begin(), acc.end(), 0.f);
        for (long long step = 0; step < numK; step++) {
          const long long k0 = kBegin + step * BK;
          for (int t = 0; t < 256; t++) {
            loaders[t].load(p, k0, ra, rb);
            for (int i = 0; i < L::AE; i++) {
              const int idx = (t / BK + (256 / BK) * i) * BK + t % BK;
              aHi[idx] = tf32Round(ra[i]);
              aLo[idx] = tf32Round(ra[i] - aHi[idx]);
            }
            for (int i = 0; i < L::BE; i++) {
              const int idx = nFast ? (t / BN + (256 / BN) * i) * BN + t % BN : (t % BK) * BN + t / BK + (256 / BK) * i;
              bHi[idx] = tf32Round(rb[i]);
              bLo[idx] = tf32Round(rb[i] - bHi[idx]);
            }
          }
          const int kk1 = (int)std::min<long long>(BK, kEnd - k0);
          for (int mi = 0; mi < rows; mi++)
            for (int ni = 0; ni < cols; ni++) {
              float a = acc[(size_t)mi * BN + ni];
              for (int kk = 0; kk < kk1; kk++) {
                const float ah = aHi[mi * BK + kk], al = aLo[mi * BK + kk], bh = bHi[kk * BN + ni], bl = bLo[kk * BN + ni];
                if (ctx.fast) {
                  a += ah * bh;
                } else {
                  a += al * bh;
                  a += ah * bl;
                  a += ah * bh;
                }
              }
              acc[(size_t)mi * BN + ni] = a;
            }
        }
        for (int mi = 0; mi < rows; mi++)
          for (int ni = 0; ni < cols; ni++) {
            const float v = acc[(size_t)mi * BN + ni];
            if (p.splits > 1) partial[(z * M + m0 + mi) * N + n0 + ni] = v;
            else gemmEpilogue(p, m0 + mi, n0 + ni, v);
          }
      }
  }
  if (p.splits > 1)
    for (long long m = 0; m < M; m++)
      for (long long n = 0; n < N; n++) {
        float a = 0.f;
        for (int z = 0; z < p.splits; z++) a += partial[(z * M + m) * N + n];
        gemmEpilogue(p, m, n, a);
      }
}

static void gemmRun(Ctx& ctx, GemmParams& p, int bm, const char* op) {
  (void)op;
  if (p.walkWgrad) {
    if (bm == 128) emulateTcBlocks<128, true>(ctx, p, false);
    else emulateTcBlocks<32, true>(ctx, p, false);
  } else if (bm == 128) {
    emulateTcBlocks<128>(ctx, p, gemmNFast(p));
  } else {
    emulateTcBlocks<32>(ctx, p, gemmNFast(p));
  }
}
#else
/**
 * Tensor-core implicit GEMM: BM×128 tiles, BK = 16, 8 warps (WM × WN), WMMA m16n16k8 TF32 fragments with
 * FP32 accumulation. Operands are gathered through gemmLoadA/B into registers one K-step ahead and
 * staged in double-buffered shared memory. fast: one TF32 product; otherwise 3×TF32
 * (a_lo·b_hi + a_hi·b_lo + a_hi·b_hi), which recovers FP32 accuracy.
 */
template <int BM, int WM, int WN, int MINB, bool SPLIT, bool WALKW = false>
__global__ void __launch_bounds__(256, MINB) gemmTcKernel(const GemmParams p, int fast, int nFast) {
  using namespace nvcuda;
  constexpr int BN = GEMM_BN, BK = GEMM_BK, LDA = BK + 4, LDB = BN + 4;
  constexpr int TM = BM / WM, TN = BN / WN, FM = TM / 16, FN = TN / 16;
  constexpr int AE = BM * BK / 256, BE = BK * BN / 256;
  constexpr int SMEM = 2 * (BM * LDA + BK * LDB);
  static_assert(WM * WN == 8, "8 warps");
  static_assert(SMEM >= 8 * 16 * 20, "epilogue scratch fits");
  __shared__ __align__(128) float smem[SMEM];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int wm = warp / WN, wn = warp % WN;
  const long long m0 = (long long)blockIdx.y * BM, n0 = (long long)blockIdx.x * BN;
  const long long kBegin = (long long)blockIdx.z * p.kChunk;
  const long long kEnd = p.K < kBegin + p.kChunk ? p.K : kBegin + p.kChunk;
  float ra[AE], rb[BE];
  GemmThreadLoader<BM, WALKW> loader;
  loader.init(p, tid, m0, n0, kBegin, kEnd, nFast != 0);
  auto load = [&](long long k0) { loader.load(p, k0, ra, rb); };
  auto store = [&](int buf) {
    float* As = smem + buf * BM * LDA;
    float* Bs = smem + 2 * BM * LDA + buf * BK * LDB;
#pragma unroll
    for (int i = 0; i < AE; i++) As[(tid / BK + (256 / BK) * i) * LDA + tid % BK] = ra[i];
#pragma unroll
    for (int i = 0; i < BE; i++) {
      if (nFast) Bs[(tid / BN + (256 / BN) * i) * LDB + tid % BN] = rb[i];
      else Bs[(tid % BK) * LDB + tid / BK + (256 / BK) * i] = rb[i];
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; i++)
#pragma unroll
    for (int j = 0; j < FN; j++) wmma::fill_fragment(acc[i][j], 0.f);

  const long long numK = kEnd > kBegin ? (kEnd - kBegin + BK - 1) / BK : 0;
  if (numK > 0) {
    load(kBegin);
    store(0);
  }
  __syncthreads();
  for (long long t = 0; t < numK; t++) {
    const int buf = (int)(t & 1);
    if (t + 1 < numK) load(kBegin + (t + 1) * BK);
    const float* As = smem + buf * BM * LDA;
    const float* Bs = smem + 2 * BM * LDA + buf * BK * LDB;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 8) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> a[FM], al[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> b[FN], bl[FN];
#pragma unroll
      for (int i = 0; i < FM; i++) wmma::load_matrix_sync(a[i], As + (wm * TM + i * 16) * LDA + kk, LDA);
#pragma unroll
      for (int j = 0; j < FN; j++) wmma::load_matrix_sync(b[j], Bs + kk * LDB + wn * TN + j * 16, LDB);
      if (fast) {
#pragma unroll
        for (int i = 0; i < FM; i++)
#pragma unroll
          for (int e = 0; e < a[i].num_elements; e++) a[i].x[e] = wmma::__float_to_tf32(a[i].x[e]);
#pragma unroll
        for (int j = 0; j < FN; j++)
#pragma unroll
          for (int e = 0; e < b[j].num_elements; e++) b[j].x[e] = wmma::__float_to_tf32(b[j].x[e]);
#pragma unroll
        for (int i = 0; i < FM; i++)
#pragma unroll
          for (int j = 0; j < FN; j++) wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
      } else {
#pragma unroll
        for (int i = 0; i < FM; i++)
#pragma unroll
          for (int e = 0; e < a[i].num_elements; e++) {
            const float v = a[i].x[e], hi = wmma::__float_to_tf32(v);
            al[i].x[e] = wmma::__float_to_tf32(v - hi);
            a[i].x[e] = hi;
          }
#pragma unroll
        for (int j = 0; j < FN; j++)
#pragma unroll
          for (int e = 0; e < b[j].num_elements; e++) {
            const float v = b[j].x[e], hi = wmma::__float_to_tf32(v);
            bl[j].x[e] = wmma::__float_to_tf32(v - hi);
            b[j].x[e] = hi;
          }
        if constexpr (SPLIT) {
          // experiment (LRPSEG_CUDA_ACCURATE=split): the three products of this k8 step into a zeroed
          // fragment, then an FP32 add outside the tensor core, so that the running sum is not rounded
          // by the MMA's accumulation (Ootomo & Yokota's 3xTF32 scheme)
          wmma::fragment<wmma::accumulator, 16, 16, 8, float> t;
#pragma unroll
          for (int i = 0; i < FM; i++)
#pragma unroll
            for (int j = 0; j < FN; j++) {
              wmma::fill_fragment(t, 0.f);
              wmma::mma_sync(t, al[i], b[j], t);
              wmma::mma_sync(t, a[i], bl[j], t);
              wmma::mma_sync(t, a[i], b[j], t);
#pragma unroll
              for (int e = 0; e < t.num_elements; e++) acc[i][j].x[e] += t.x[e];
            }
        } else {
#pragma unroll
          for (int i = 0; i < FM; i++)
#pragma unroll
            for (int j = 0; j < FN; j++) {
              wmma::mma_sync(acc[i][j], al[i], b[j], acc[i][j]);
              wmma::mma_sync(acc[i][j], a[i], bl[j], acc[i][j]);
              wmma::mma_sync(acc[i][j], a[i], b[j], acc[i][j]);
            }
        }
      }
    }
    if (t + 1 < numK) store((t + 1) & 1);
    __syncthreads();
  }

  // Epilogue: each warp stages one 16×16 fragment at a time and writes it through gemmEpilogue (or to
  // the split-K partials), so that any output layout and fused multiplier can follow the product.
  float* scratch = smem + warp * 16 * 20;
#pragma unroll
  for (int i = 0; i < FM; i++)
#pragma unroll
    for (int j = 0; j < FN; j++) {
      wmma::store_matrix_sync(scratch, acc[i][j], 20, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int r = e >> 4, cidx = e & 15;
        const long long m = m0 + wm * TM + i * 16 + r, n = n0 + wn * TN + j * 16 + cidx;
        if (m < p.M && n < p.N) {
          const float v = scratch[r * 20 + cidx];
          if (p.splits > 1) p.partial[((long long)blockIdx.z * p.M + m) * p.N + n] = v;
          else gemmEpilogue(p, m, n, v);
        }
      }
      __syncwarp();
    }
}

static void gemmRun(Ctx& ctx, GemmParams& p, int bm, const char* op) {
  const int nFast = gemmNFast(p) ? 1 : 0;
  const int fast = ctx.fast ? 1 : 0;
  const dim3 grid((unsigned)((p.N + GEMM_BN - 1) / GEMM_BN), (unsigned)((p.M + bm - 1) / bm), (unsigned)p.splits);
  if (grid.y > 65535u || grid.z > 65535u) throw DeviceError("NOT_IMPLEMENTED", std::string(op) + ": matrix product too large for one launch");
  const cudaStream_t s = (cudaStream_t)ctx.stream;
  if (p.walkWgrad) {
    // experiment (LRPSEG_CUDA_WGRAD_WALK=1): weight gradients through their own walking loader
    if (bm == 128 && ctx.gemmBlocksPerSM == 2) gemmTcKernel<128, 2, 4, 2, false, true><<<grid, 256, 0, s>>>(p, fast, 0);
    else if (bm == 128) gemmTcKernel<128, 2, 4, 1, false, true><<<grid, 256, 0, s>>>(p, fast, 0);
    else gemmTcKernel<32, 2, 4, 1, false, true><<<grid, 256, 0, s>>>(p, fast, 0);
  } else if (!ctx.fast && ctx.accurateSplit) {
    if (bm == 128) gemmTcKernel<128, 2, 4, 1, true><<<grid, 256, 0, s>>>(p, 0, nFast);
    else gemmTcKernel<32, 2, 4, 1, true><<<grid, 256, 0, s>>>(p, 0, nFast);
  } else if (bm == 128 && ctx.gemmBlocksPerSM == 2) {
    gemmTcKernel<128, 2, 4, 2, false><<<grid, 256, 0, s>>>(p, fast, nFast);
  } else if (bm == 128) {
    gemmTcKernel<128, 2, 4, 1, false><<<grid, 256, 0, s>>>(p, fast, nFast);
  } else {
    gemmTcKernel<32, 2, 4, 1, false><<<grid, 256, 0, s>>>(p, fast, nFast);
  }
  checkLaunch(ctx, op);
}
#endif

void gemm(Ctx& ctx, GemmParams p, const char* op) {
  gemmDims(p);
  if (p.M == 0 || p.N == 0) return;
  const long long lim = 2147483647LL;
  if (p.M >= lim || p.N >= lim || p.K >= lim || (long long)p.n * p.c * p.h * p.w >= (1LL << 40)) {
    throw DeviceError("NOT_IMPLEMENTED", std::string("cuda ") + op + ": product too large (" + std::to_string(p.M) + "×" + std::to_string(p.N) + "×" + std::to_string(p.K) + "); use smaller batches");
  }
  if (p.K == 0) {
    const GemmParams q = p;
    forEach(ctx, op, q.M * q.N, [=] HD(long long i) { gemmEpilogue(q, i / q.N, i % q.N, 0.f); });
    return;
  }
  const int bm = p.M <= 32 ? 32 : 128;
  planSplits(p, ctx.numSMs, bm);
  // the walk has no split-accumulation instantiation: that experiment keeps the dividing loader
  p.walkWgrad = ctx.wgradWalk && p.kind == GEMM_WGRAD && (ctx.fast || !ctx.accurateSplit) ? 1 : 0;
  if (p.walkWgrad) {
    p.wStep = wposAt(GEMM_BK, (u32)p.oh, (u32)p.ow);
    p.wColStep = kposAt(256 / GEMM_BK, (u32)p.c, (u32)p.ks);
  }
#ifdef LRPSEG_EMULATE
  gemmRun(ctx, p, bm, op);
#else
  float* partial = nullptr;
  if (p.splits > 1) {
    partial = (float*)ctx.alloc(ctx.owner, (size_t)(p.splits * p.M * p.N) * sizeof(float), op);
    p.partial = partial;
  }
  try {
    gemmRun(ctx, p, bm, op);
    if (p.splits > 1) {
      const GemmParams q = p;
      forEach(ctx, op, q.M * q.N, [=] HD(long long i) {
        const long long m = i / q.N, n = i - (i / q.N) * q.N;
        float acc = 0.f;
        for (int s = 0; s < q.splits; s++) acc += q.partial[((long long)s * q.M + m) * q.N + n];
        gemmEpilogue(q, m, n, acc);
      });
    }
  } catch (...) {
    if (partial) ctx.release(ctx.owner, partial);
    throw;
  }
  if (partial) ctx.release(ctx.owner, partial);
#endif
}

}  // namespace lrpseg
