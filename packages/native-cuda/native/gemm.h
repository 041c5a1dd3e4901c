// One implicit-GEMM description for every matrix product of the backend. A "conv problem" (n, c, h, w)
// input, (o, c, ks, ks) weight, stride, padding, (oh, ow) output) is read in three ways:
//   FWD   C[M = rb·o,  N = n·oh·ow] = A[M, K = kb·c·ks²] · B        (forward and modified forward passes)
//   DGRAD C[M = rb·c,  N = n·h·w]   = A[M, K = kb·o·ks²] · B        (transposed conv: data gradient, relevance)
//   WGRAD C[M = o,     N = c·ks²]   = A[M, K = n·oh·ow]  · B        (weight gradient)
// A linear layer is the 1×1 conv of 1×1 images; a 2×2 stride-2 transposed conv is the DGRAD of a
// 2×2 stride-2 conv (and its gradients the FWD and WGRAD of that conv).
// Row blocks (rb) and K blocks (kb) let one product carry the sign-split and bounded forms of the LRP
// rules: A's block (r, j) is the weight under transform wmode[r][j] (identity, W⁺, W⁻, W + γW⁺),
// B's K block j is the input under srcmode[j] (FWD: a, a⁺, a⁻, −l[c], −h[c]) or the stabilised
// quotient coef[j]·R / stab(z_j, e) (DGRAD, lrp = 1), and the epilogue multiplies each output row
// block by mulmode[r] (DGRAD: 1, a, a⁺, a⁻, −l[c], −h[c]) and adds the transformed bias (FWD).
// Loaders and epilogue are HD functions: the CUDA kernel and the host emulation use the same code.
#pragma once
#include "common.h"

namespace lrpseg {

enum GemmKind { GEMM_FWD = 0, GEMM_DGRAD = 1, GEMM_WGRAD = 2 };
// T_A (epilogue only): the activation itself; T_ID in the epilogue is the constant 1.
enum Transform { T_ZERO = 0, T_ID = 1, T_POS = 2, T_NEG = 3, T_GAMMA = 4, T_CHAN0 = 5, T_CHAN1 = 6, T_A = 7 };
constexpr int MAX_BLOCKS = 3;

typedef unsigned int u32;
typedef long long i64;

/** A K index of FWD (q: input channel, radix c) or DGRAD (q: output channel, radix o), split as (j, q, kh, kw). */
struct KPos {
  u32 j, q, kh, kw;
};

/** A K index of WGRAD, k = (img, oy, ox): the output pixel whose gradient and input window are summed. */
struct WPos {
  u32 img, oy, ox;
};

struct GemmParams {
  int kind;
  int n, c, h, w, o, ks, stride, pad, oh, ow;
  int rb, kb;
  long long M, N, K;
  signed char wmode[MAX_BLOCKS][MAX_BLOCKS];
  signed char srcmode[MAX_BLOCKS];
  signed char biasmode[MAX_BLOCKS];
  signed char mulmode[MAX_BLOCKS];
  float gamma;
  const float* wt;      // weight (o, c, ks, ks)
  const float* x;       // FWD: input; DGRAD: dy or R; WGRAD: dy (A operand)
  const float* x2;      // WGRAD: the conv input (B operand)
  const float* bias;    // FWD: (o); DGRAD: (c) (transposed-conv forward)
  const float* z;       // DGRAD lrp: pre-activations, channel blocks of o
  int zC;               // channels of z (kb·o)
  const float* e;       // DGRAD lrp: stabiliser per sample, or null for eConst
  float eConst;
  float coef[MAX_BLOCKS];
  int lrp;
  const float* chan0;   // per-channel constants (zbox low), length c
  const float* chan1;   // (zbox high)
  const float* mul;     // DGRAD epilogue multiplier source (activation a), shape (n, c, h, w)
  float* out;
  int accumulate;       // epilogue adds to out instead of storing
  // experiment (LRPSEG_CUDA_WGRAD_WALK=1, set by gemm()): WGRAD operands walked by carries, not divisions;
  // the steps of 16 (BK, and the 16 columns between a thread's B elements) in their radices
  int walkWgrad;
  WPos wStep;           // 16 in (img, oh, ow)
  KPos wColStep;        // 16 in (·, c, ks, ks)
  // split-K (set by the launcher)
  int splits;
  long long kChunk;
  float* partial;
};

HD inline float applyTransform(int mode, float v, float gamma) {
  switch (mode) {
    case T_ID: return v;
    case T_POS: return v > 0.f ? v : 0.f;
    case T_NEG: return v < 0.f ? v : 0.f;
    case T_GAMMA: return v > 0.f ? v + gamma * v : v;
    default: return 0.f;
  }
}

HD inline float stabilise(float z, float e) { return z >= 0.f ? z + e : z - e; }

// Index decomposition uses 32-bit unsigned division (64-bit division is many times slower on the
// device); gemm() refuses products whose M, N or K reach 2³¹. Memory offsets are 64-bit.
HD inline float gemmLoadA(const GemmParams& p, i64 m64, i64 k64) {
  const u32 m = (u32)m64, k = (u32)k64;
  if (p.kind == GEMM_FWD) {
    const u32 ckk = (u32)(p.c * p.ks * p.ks);
    const u32 r = m / (u32)p.o, oo = m - r * (u32)p.o;
    const u32 j = k / ckk, kk = k - j * ckk;
    return applyTransform(p.wmode[r][j], p.wt[(i64)oo * ckk + kk], p.gamma);
  }
  if (p.kind == GEMM_DGRAD) {
    const u32 kk2 = (u32)(p.ks * p.ks), okk = (u32)p.o * kk2;
    const u32 r = m / (u32)p.c, cc = m - r * (u32)p.c;
    const u32 j = k / okk, rem = k - j * okk;
    const u32 oo = rem / kk2, t = rem - oo * kk2;
    return applyTransform(p.wmode[r][j], p.wt[((i64)oo * p.c + cc) * kk2 + t], p.gamma);
  }
  // WGRAD: A = dy (o, n·oh·ow)
  const u32 P = (u32)(p.oh * p.ow);
  const u32 img = k / P, pp = k - img * P;
  return p.x[((i64)img * p.o + m) * P + pp];
}

HD inline float gemmLoadB(const GemmParams& p, i64 k64, i64 n64) {
  const u32 k = (u32)k64, ncol = (u32)n64;
  const u32 ks = (u32)p.ks, kk2 = ks * ks;
  if (p.kind == GEMM_FWD) {
    const u32 ckk = (u32)p.c * kk2;
    const u32 j = k / ckk, kk = k - j * ckk;
    const u32 cc = kk / kk2, t = kk - cc * kk2;
    const u32 kh = t / ks, kw = t - kh * ks;
    const u32 P = (u32)(p.oh * p.ow);
    const u32 img = ncol / P, pp = ncol - img * P;
    const u32 oy = pp / (u32)p.ow, ox = pp - oy * (u32)p.ow;
    const int iy = (int)(oy * p.stride + kh) - p.pad, ix = (int)(ox * p.stride + kw) - p.pad;
    if (iy < 0 || ix < 0 || iy >= p.h || ix >= p.w) return 0.f;
    const int mode = p.srcmode[j];
    if (mode == T_CHAN0) return -p.chan0[cc];
    if (mode == T_CHAN1) return -p.chan1[cc];
    return applyTransform(mode, p.x[(((i64)img * p.c + cc) * p.h + iy) * p.w + ix], 0.f);
  }
  if (p.kind == GEMM_DGRAD) {
    const u32 okk = (u32)p.o * kk2;
    const u32 j = k / okk, rem = k - j * okk;
    const u32 oo = rem / kk2, t = rem - oo * kk2;
    const u32 kh = t / ks, kw = t - kh * ks;
    const u32 HW = (u32)(p.h * p.w);
    const u32 img = ncol / HW, q = ncol - img * HW;
    const u32 iy = q / (u32)p.w, ix = q - iy * (u32)p.w;
    const int ty = (int)(iy + p.pad) - (int)kh, tx = (int)(ix + p.pad) - (int)kw;
    if (ty < 0 || tx < 0) return 0.f;
    const u32 s = (u32)p.stride;
    const u32 oy = (u32)ty / s, ox = (u32)tx / s;
    if (oy * s != (u32)ty || ox * s != (u32)tx || oy >= (u32)p.oh || ox >= (u32)p.ow) return 0.f;
    const i64 opix = (i64)oy * p.ow + ox;
    const i64 P = (i64)p.oh * p.ow;
    float v = p.x[((i64)img * p.o + oo) * P + opix];
    if (p.lrp) {
      const float zz = p.z[((i64)img * p.zC + (i64)j * p.o + oo) * P + opix];
      const float e = p.e ? p.e[img] : p.eConst;
      v = p.coef[j] * (v / stabilise(zz, e));
    }
    return v;
  }
  // WGRAD: B = im2col(x2)ᵀ, k = (img, oy, ox), ncol = (c, kh, kw)
  const u32 P = (u32)(p.oh * p.ow);
  const u32 img = k / P, pp = k - img * P;
  const u32 oy = pp / (u32)p.ow, ox = pp - oy * (u32)p.ow;
  const u32 cc = ncol / kk2, t = ncol - cc * kk2;
  const u32 kh = t / ks, kw = t - kh * ks;
  const int iy = (int)(oy * p.stride + kh) - p.pad, ix = (int)(ox * p.stride + kw) - p.pad;
  if (iy < 0 || ix < 0 || iy >= p.h || ix >= p.w) return 0.f;
  return p.x2[(((i64)img * p.c + cc) * p.h + iy) * p.w + ix];
}

HD inline void gemmEpilogue(const GemmParams& p, i64 m64, i64 n64, float acc) {
  const u32 m = (u32)m64, ncol = (u32)n64;
  i64 idx;
  float v;
  if (p.kind == GEMM_FWD) {
    const u32 r = m / (u32)p.o, oo = m - r * (u32)p.o;
    const u32 P = (u32)(p.oh * p.ow);
    const u32 img = ncol / P, pp = ncol - img * P;
    v = acc;
    if (p.bias) v += applyTransform(p.biasmode[r], p.bias[oo], p.gamma);
    idx = ((i64)img * p.M + m) * P + pp;
  } else if (p.kind == GEMM_DGRAD) {
    const u32 r = m / (u32)p.c, cc = m - r * (u32)p.c;
    const u32 HW = (u32)(p.h * p.w);
    const u32 img = ncol / HW, q = ncol - img * HW;
    const i64 aIdx = ((i64)img * p.c + cc) * HW + q;
    float mult = 1.f;
    switch (p.mulmode[r]) {
      case T_ZERO: mult = 0.f; break;
      case T_ID: mult = 1.f; break;
      case T_A: mult = p.mul[aIdx]; break;
      case T_POS: case T_NEG: mult = applyTransform(p.mulmode[r], p.mul[aIdx], 0.f); break;
      case T_CHAN0: mult = -p.chan0[cc]; break;
      case T_CHAN1: mult = -p.chan1[cc]; break;
    }
    // The activation times the adjoint, a ⊙ Wᵀ(s), added to +0 as the reference accumulates into zeros
    // (so 0·(negative) gives +0, not −0).
    v = mult * acc + 0.f;
    if (p.bias) v += applyTransform(p.biasmode[r], p.bias[cc], p.gamma);
    idx = ((i64)img * p.M + m) * HW + q;
  } else {
    v = acc;
    idx = (i64)m * p.N + ncol;
  }
  if (p.accumulate) p.out[idx] += v;
  else p.out[idx] = v;
}

// ---- operand walkers -----------------------------------------------------------------------------
// The tensor-core kernel's threads read their operands along fixed strides: a thread's B column n is
// fixed and its K index grows by 2 per element (FWD and DGRAD convolutions), its A column k grows by 16
// per K-step and its A rows by 16 per element. Decomposing every index by division, as gemmLoadA/B do,
// made integer arithmetic the kernel's bottleneck (1.4 % of an H100's TF32 rate: docs/cuda.md); the
// walkers below decompose once and then advance mixed-radix counters by carries. The host emulation
// replays the kernel's per-thread walks with the same code (emulateTcBlocks in kernels_impl.h).

HD inline KPos kposAt(u32 k, u32 Q, u32 ks) {
  const u32 kk2 = ks * ks, qkk = Q * kk2;
  KPos a;
  a.j = k / qkk;
  const u32 rem = k - a.j * qkk;
  a.q = rem / kk2;
  const u32 t = rem - a.q * kk2;
  a.kh = t / ks;
  a.kw = t - a.kh * ks;
  return a;
}

/** a += s, both in the radices (·, Q, ks, ks); every digit of s is below its radix, so one carry per digit suffices. */
HD inline void kposAdd(KPos& a, const KPos& s, u32 Q, u32 ks) {
  a.kw += s.kw;
  if (a.kw >= ks) { a.kw -= ks; a.kh++; }
  a.kh += s.kh;
  if (a.kh >= ks) { a.kh -= ks; a.q++; }
  a.q += s.q;
  if (a.q >= Q) { a.q -= Q; a.j++; }
  a.j += s.j;
}

/** An M index split as (row block r, channel mm) with radix R (FWD: o, DGRAD: c). */
struct MPos {
  u32 r, mm;
};

HD inline MPos mposAt(u32 m, u32 R) {
  MPos a;
  a.r = m / R;
  a.mm = m - a.r * R;
  return a;
}

HD inline void mposAdd(MPos& a, const MPos& s, u32 R) {
  a.mm += s.mm;
  if (a.mm >= R) { a.mm -= R; a.r++; }
  a.r += s.r;
}

HD inline WPos wposAt(u32 k, u32 oh, u32 ow) {
  const u32 P = oh * ow;
  WPos a;
  a.img = k / P;
  const u32 pp = k - a.img * P;
  a.oy = pp / ow;
  a.ox = pp - a.oy * ow;
  return a;
}

HD inline void wposAdd(WPos& a, const WPos& s, u32 oh, u32 ow) {
  a.ox += s.ox;
  if (a.ox >= ow) { a.ox -= ow; a.oy++; }
  a.oy += s.oy;
  if (a.oy >= oh) { a.oy -= oh; a.img++; }
  a.img += s.img;
}

/** A of FWD or DGRAD (the weight under its row and K block's transform) at the walkers' (m, k). */
HD inline float gemmLoadAAt(const GemmParams& p, const MPos& m, const KPos& k) {
  const u32 ks = (u32)p.ks, t = k.kh * ks + k.kw;
  const i64 idx = p.kind == GEMM_FWD ? ((i64)m.mm * p.c + k.q) * (ks * ks) + t : ((i64)k.q * p.c + m.mm) * (ks * ks) + t;
  return applyTransform(p.wmode[m.r][k.j], p.wt[idx], p.gamma);
}

/** A B column of FWD or DGRAD (nFast layout): what the column's index fixes, computed once per thread. */
struct BCol {
  const float* x;  // FWD: the image's input planes; DGRAD: the image's dy or R planes
  const float* z;  // DGRAD lrp: the image's pre-activations
  float e;         // DGRAD lrp: the image's stabiliser
  int y0, x0;      // FWD: oy·stride − pad, ox·stride − pad; DGRAD: iy + pad, ix + pad
};

HD inline BCol bcolAt(const GemmParams& p, u32 ncol) {
  BCol b;
  b.z = nullptr;
  b.e = 0.f;
  if (p.kind == GEMM_FWD) {
    const u32 P = (u32)(p.oh * p.ow);
    const u32 img = ncol / P, pp = ncol - img * P;
    const u32 oy = pp / (u32)p.ow, ox = pp - oy * (u32)p.ow;
    b.x = p.x + (i64)img * p.c * p.h * p.w;
    b.y0 = (int)oy * p.stride - p.pad;
    b.x0 = (int)ox * p.stride - p.pad;
  } else {
    const u32 HW = (u32)(p.h * p.w);
    const u32 img = ncol / HW, q = ncol - img * HW;
    const u32 iy = q / (u32)p.w, ix = q - iy * (u32)p.w;
    const i64 P = (i64)p.oh * p.ow;
    b.x = p.x + (i64)img * p.o * P;
    if (p.lrp) {
      b.z = p.z + (i64)img * p.zC * P;
      b.e = p.e ? p.e[img] : p.eConst;
    }
    b.y0 = (int)iy + p.pad;
    b.x0 = (int)ix + p.pad;
  }
  return b;
}

/** B of FWD or DGRAD at the column b and the walker's k: gemmLoadB without a division (but DGRAD's stride ≠ 1). */
HD inline float gemmLoadBAt(const GemmParams& p, const BCol& b, const KPos& k) {
  if (p.kind == GEMM_FWD) {
    const int iy = b.y0 + (int)k.kh, ix = b.x0 + (int)k.kw;
    if ((unsigned)iy >= (unsigned)p.h || (unsigned)ix >= (unsigned)p.w) return 0.f;
    const int mode = p.srcmode[k.j];
    if (mode == T_CHAN0) return -p.chan0[k.q];
    if (mode == T_CHAN1) return -p.chan1[k.q];
    return applyTransform(mode, b.x[((i64)k.q * p.h + iy) * p.w + ix], 0.f);
  }
  int oy = b.y0 - (int)k.kh, ox = b.x0 - (int)k.kw;
  if (oy < 0 || ox < 0) return 0.f;
  if (p.stride != 1) {
    const int s = p.stride, qy = (int)((u32)oy / (u32)s), qx = (int)((u32)ox / (u32)s);
    if (qy * s != oy || qx * s != ox) return 0.f;
    oy = qy;
    ox = qx;
  }
  if (oy >= p.oh || ox >= p.ow) return 0.f;
  const i64 P = (i64)p.oh * p.ow, opix = (i64)oy * p.ow + ox;
  float v = b.x[(i64)k.q * P + opix];
  if (p.lrp) {
    const float zz = b.z[((i64)k.j * p.o + k.q) * P + opix];
    v = p.coef[k.j] * (v / stabilise(zz, b.e));
  }
  return v;
}

/**
 * One thread's operand loads of the tensor-core kernel: 256 threads fill a BM×16 tile of A and a 16×128
 * tile of B per K-step. A: rows m0 + tid/16 + 16i, column k0 + tid%16. B, nFast (FWD and DGRAD
 * convolutions): column n0 + tid%128, rows k0 + tid/128 + 2i; otherwise (WGRAD, linear layers) column
 * n0 + tid/16 + 16i, row k0 + tid%16, through gemmLoadB. Steps must be loaded in order from kBegin.
 * WALKW (WGRAD only; its own kernel instantiations, so that the others keep their registers): A and B
 * share the thread's k = (img, oy, ox), walked by 16 per K-step, and B's columns (c, kh, kw) are walked by
 * 16 from the first: the values of gemmLoadA/B without a division.
 */
template <int BM, bool WALKW = false>
struct GemmThreadLoader {
  static constexpr int BK = 16, BN = 128, AE = BM * BK / 256, BE = BK * BN / 256;
  int tid;
  bool nFast, walkA;
  i64 m0, n0, kEnd;
  MPos mA, mStep;   // A: the row of element 0, and the step 16 between elements
  KPos kA, kAStep;  // A: this thread's K index, and the step BK between K-steps
  BCol bc;          // B (nFast): this thread's column
  bool bValid;
  KPos kB, kBStep;  // B (nFast): the K index of the next element, and the step 2 between elements
  WPos kW;          // WALKW: this thread's K index (img, oy, ox)
  KPos colW;        // WALKW: B's first column (c, kh, kw)

  HD void init(const GemmParams& p, int t, i64 m0_, i64 n0_, i64 kBegin, i64 kEnd_, bool nFast_) {
    tid = t;
    nFast = nFast_;
    m0 = m0_;
    n0 = n0_;
    kEnd = kEnd_;
    if constexpr (WALKW) {
      kW = wposAt((u32)(kBegin + tid % BK), (u32)p.oh, (u32)p.ow);
      colW = kposAt((u32)(n0 + tid / BK), (u32)p.c, (u32)p.ks);
      return;
    }
    walkA = p.kind != GEMM_WGRAD;
    if (walkA) {
      const u32 R = (u32)(p.kind == GEMM_FWD ? p.o : p.c), Q = (u32)(p.kind == GEMM_FWD ? p.c : p.o), ks = (u32)p.ks;
      mA = mposAt((u32)(m0 + tid / BK), R);
      mStep = mposAt(256 / BK, R);
      kA = kposAt((u32)(kBegin + tid % BK), Q, ks);
      kAStep = kposAt(BK, Q, ks);
    }
    if (nFast) {
      const u32 Q = (u32)(p.kind == GEMM_FWD ? p.c : p.o), ks = (u32)p.ks;
      const i64 n = n0 + tid % BN;
      bValid = n < p.N;
      if (bValid) bc = bcolAt(p, (u32)n);
      kB = kposAt((u32)(kBegin + tid / BN), Q, ks);
      kBStep = kposAt(256 / BN, Q, ks);
    }
  }

  /** The operands of the K-step starting at k0 (the next in order), into ra[AE] and rb[BE]. */
  HD void load(const GemmParams& p, i64 k0, float* ra, float* rb) {
    if constexpr (WALKW) {
      loadWgrad(p, k0, ra, rb);
      return;
    }
    if (walkA) {
      const u32 R = (u32)(p.kind == GEMM_FWD ? p.o : p.c), Q = (u32)(p.kind == GEMM_FWD ? p.c : p.o), ks = (u32)p.ks;
      const bool kIn = k0 + tid % BK < kEnd;
      MPos m = mA;
      LRPSEG_UNROLL
      for (int i = 0; i < AE; i++) {
        const i64 mi = m0 + tid / BK + (256 / BK) * i;
        ra[i] = (kIn && mi < p.M) ? gemmLoadAAt(p, m, kA) : 0.f;
        mposAdd(m, mStep, R);
      }
      kposAdd(kA, kAStep, Q, ks);
    } else {
      LRPSEG_UNROLL
      for (int i = 0; i < AE; i++) {
        const i64 m = m0 + tid / BK + (256 / BK) * i, k = k0 + tid % BK;
        ra[i] = (m < p.M && k < kEnd) ? gemmLoadA(p, m, k) : 0.f;
      }
    }
    if (nFast) {
      const u32 Q = (u32)(p.kind == GEMM_FWD ? p.c : p.o), ks = (u32)p.ks;
      LRPSEG_UNROLL
      for (int i = 0; i < BE; i++) {
        const i64 k = k0 + tid / BN + (256 / BN) * i;
        rb[i] = (bValid && k < kEnd) ? gemmLoadBAt(p, bc, kB) : 0.f;
        kposAdd(kB, kBStep, Q, ks);
      }
    } else {
      LRPSEG_UNROLL
      for (int i = 0; i < BE; i++) {
        const i64 k = k0 + tid % BK, n = n0 + tid / BK + (256 / BK) * i;
        rb[i] = (n < p.N && k < kEnd) ? gemmLoadB(p, k, n) : 0.f;
      }
    }
  }

  /** WALKW: A = dy[img, m, oy, ox], B = x2[img, c, oy·stride − pad + kh, ox·stride − pad + kw]. */
  HD void loadWgrad(const GemmParams& p, i64 k0, float* ra, float* rb) {
    const bool kIn = k0 + tid % BK < kEnd;
    const i64 P = (i64)p.oh * p.ow;
    const i64 mFirst = m0 + tid / BK;
    const float* dy = p.x + ((i64)kW.img * p.o + mFirst) * P + (i64)kW.oy * p.ow + kW.ox;
    LRPSEG_UNROLL
    for (int i = 0; i < AE; i++) {
      const i64 mi = mFirst + (256 / BK) * i;
      ra[i] = (kIn && mi < p.M) ? dy[(i64)(256 / BK) * i * P] : 0.f;
    }
    const int y0 = (int)kW.oy * p.stride - p.pad, x0 = (int)kW.ox * p.stride - p.pad;
    const float* x2 = p.x2 + (i64)kW.img * p.c * p.h * p.w;
    const u32 c = (u32)p.c, ks = (u32)p.ks;
    KPos col = colW;
    LRPSEG_UNROLL
    for (int i = 0; i < BE; i++) {
      const i64 n = n0 + tid / BK + (256 / BK) * i;
      float v = 0.f;
      if (kIn && n < p.N) {
        const int iy = y0 + (int)col.kh, ix = x0 + (int)col.kw;
        if ((unsigned)iy < (unsigned)p.h && (unsigned)ix < (unsigned)p.w) v = x2[((i64)col.q * p.h + iy) * p.w + ix];
      }
      rb[i] = v;
      kposAdd(col, p.wColStep, c, ks);
    }
    wposAdd(kW, p.wStep, (u32)p.oh, (u32)p.ow);
  }
};

/** Fills M, N, K from the kind, the geometry and the block counts. */
inline void gemmDims(GemmParams& p) {
  const long long kk2 = (long long)p.ks * p.ks;
  if (p.kind == GEMM_FWD) {
    p.M = (long long)p.rb * p.o; p.N = (long long)p.n * p.oh * p.ow; p.K = (long long)p.kb * p.c * kk2;
  } else if (p.kind == GEMM_DGRAD) {
    p.M = (long long)p.rb * p.c; p.N = (long long)p.n * p.h * p.w; p.K = (long long)p.kb * p.o * kk2;
  } else {
    p.M = p.o; p.N = (long long)p.c * kk2; p.K = (long long)p.n * p.oh * p.ow;
  }
}

/** Runs the product (tensor cores on the device; a float loop that rounds like them in the emulation). */
void gemm(Ctx& ctx, GemmParams p, const char* op);

}  // namespace lrpseg
