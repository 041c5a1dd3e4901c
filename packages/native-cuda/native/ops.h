// The backend's device operations (everything but memory management, which runtime.h owns).
// Each op only queues work on the context's stream (the emulation runs it at once on the host).
#pragma once
#include "common.h"
#include "gemm.h"

namespace lrpseg {

struct PoolGeom {
  int n, c, h, w, k, stride, oh, ow;
};

enum UnaryOp { U_SCALE = 0, U_RELU = 1, U_SIGMOID = 2 };
enum BinaryOp { B_ADD = 0, B_MUL = 1, B_RELU_BACKWARD = 2, B_SIGMOID_BACKWARD = 3 };

void opUnary(Ctx&, int op, const float* x, float* y, long long count, float s);
void opBinary(Ctx&, int op, const float* a, const float* b, float* y, long long count);
void opAffineChannels(Ctx&, const float* x, float* y, int n, int c, long long plane, const float* scale, const float* shift);
void opSumChannels(Ctx&, const float* x, float* y, int n, int c, long long plane);
void opSelectClass(Ctx&, const float* x, const int* target, float* y, int n, int k);
void opSoftmax(Ctx&, const float* x, float* y, int n, int k);
void opCrossEntropy(Ctx&, const float* x, const int* labels, const float* weights, float* loss, float* d, int n, int k);
void opBceWithLogits(Ctx&, const float* x, const float* t, float posWeight, float* loss, float* d, long long count);
void opMaxPool(Ctx&, const float* x, float* y, PoolGeom g);
void opMaxPoolBackward(Ctx&, const float* dy, const float* x, float* dx, PoolGeom g);
void opLrpMaxPool(Ctx&, const float* a, const float* r, float* out, PoolGeom g, bool avg);
/** db[c] = Σ over images and positions of dy[n, c, plane]. */
void opChannelSum(Ctx&, const float* dy, float* db, int n, int c, long long plane);
void opSgd(Ctx&, float* param, const float* grad, float* buf, long long count, double lr, double momentum, double wd, bool nesterov);
void opAdam(Ctx&, float* param, const float* grad, float* m, float* v, long long count, double lr, double beta1, double beta2,
            double eps, double wd, int step, bool decoupled);
/** e[s] = max(delta, factor · sqrt(mean over the sample of z²)). */
void opRmsPerSample(Ctx&, const float* z, float* e, int n, long long per, double factor, double delta);
/** q[s, j, i] = coef[j] · (r[s, i] / stab(z[s, j, i], e[s] or eConst)) for z and q (n, kb, per), r (n, per): the
 * quotients the relevance product's loader would compute at each read, computed once (LRPSEG_CUDA_LRP_QUOTIENT=1). */
void opLrpQuotient(Ctx&, const float* r, const float* z, const float* e, float eConst, const float* coef, float* q, int n, int kb, long long per);
/** out[j, i] = transform mode[j] of w[i] (the weight transforms of native/gemm.h), j < kb. */
void opTransformWeights(Ctx&, const float* w, float* out, long long count, int kb, const int* mode, float gamma);
/** out[s, i] = Σ_b t[s, b, i] for t (n, blocks, size). */
void opSumBlocks(Ctx&, const float* t, float* out, int n, int blocks, long long size);

}  // namespace lrpseg
