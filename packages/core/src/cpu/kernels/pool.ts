/** Max pooling (square window, any stride, no padding) on NCHW Float32Array data. */

export interface PoolGeometry {
  readonly n: number;
  readonly c: number;
  readonly h: number;
  readonly w: number;
  readonly k: number;
  readonly stride: number;
  readonly oh: number;
  readonly ow: number;
}

export function poolGeometry(xShape: readonly number[], p: { kernel: number; stride: number }): PoolGeometry {
  const [n, c, h, w] = xShape;
  const k = p.kernel;
  return { n, c, h, w, k, stride: p.stride, oh: Math.floor((h - k) / p.stride) + 1, ow: Math.floor((w - k) / p.stride) + 1 };
}

/**
 * For every output position, the index within its (H·W) input plane of the window's maximum. Ties go to
 * the first maximum in row-major window order; a NaN wins (as in PyTorch).
 */
export function maxPool2dArgmax(x: Float32Array, g: PoolGeometry): Int32Array {
  const idx = new Int32Array(g.n * g.c * g.oh * g.ow);
  scanWindows(x, g, idx, null);
  return idx;
}

/** The windows' maxima (the values at maxPool2dArgmax's positions), without the index array. */
export function maxPool2dForward(x: Float32Array, g: PoolGeometry): Float32Array {
  const y = new Float32Array(g.n * g.c * g.oh * g.ow);
  scanWindows(x, g, null, y);
  return y;
}

/** Finds each window's maximum as maxPool2dArgmax defines it; writes its position into idx and/or its value into y. */
function scanWindows(x: Float32Array, g: PoolGeometry, idx: Int32Array | null, y: Float32Array | null): void {
  const { n, c, h, w, k, stride, oh, ow } = g;
  const hw = h * w;
  let o = 0;
  for (let plane = 0; plane < n * c; plane++) {
    const base = plane * hw;
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const y0 = oy * stride;
        const x0 = ox * stride;
        let best = y0 * w + x0;
        let bestV = x[base + best];
        for (let ky = 0; ky < k; ky++) {
          const r = (y0 + ky) * w + x0;
          for (let kx = 0; kx < k; kx++) {
            const v = x[base + r + kx];
            if (v > bestV || (v !== v && bestV === bestV)) {
              bestV = v;
              best = r + kx;
            }
          }
        }
        if (idx) idx[o] = best;
        if (y) y[o] = bestV;
        o++;
      }
    }
  }
}

/** dx: each output's gradient routed to its window's argmax (accumulating where windows overlap). */
export function maxPool2dBackward(dy: Float32Array, x: Float32Array, g: PoolGeometry): Float32Array {
  const idx = maxPool2dArgmax(x, g);
  const plane = g.oh * g.ow;
  const hw = g.h * g.w;
  const dx = new Float32Array(x.length);
  for (let base = 0, i = 0; i < idx.length; base += hw) for (const end = i + plane; i < end; i++) dx[base + idx[i]] += dy[i];
  return dx;
}
