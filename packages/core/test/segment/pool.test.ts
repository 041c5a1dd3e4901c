import { describe, expect, it } from 'vitest';
import { LrpsegError } from '../../src/errors.js';
import { createSegmentPool } from '../../src/node/segment-pool.js';
import { SEGMENT_METHODS, segmentMap } from '../../src/segment/segment.js';
import { levelMap } from './synthetic.js';

const H = 48;
const W = 40;
const maps = Array.from({ length: 5 }, (_, i) => levelMap(H, W, (y, x) => (Math.hypot(y - 10 - 5 * i, x - 20) < 6 ? 1 : 0.05), 0.04, 100 + i));

describe('segment pool', () => {
  it('gives the results of segmentMap, in order, for every method (2 workers)', async () => {
    const pool = createSegmentPool({ threads: 2 });
    try {
      const all = new Float32Array(maps.length * H * W);
      maps.forEach((m, i) => all.set(m, i * H * W));
      for (const method of SEGMENT_METHODS) {
        const got = await pool.segmentAll(method, all, maps.length, H, W);
        got.forEach((g, i) => {
          const want = segmentMap(method, { data: maps[i], height: H, width: W });
          expect(g.method).toBe(method);
          expect(Array.from(g.mask)).toEqual(Array.from(want.mask));
          expect(Array.from(g.score)).toEqual(Array.from(want.score));
          expect(g.mask.some((v) => v === 1)).toBe(true);
        });
      }
    } finally {
      await pool.close();
    }
  });

  it('rejects a bad map with the LrpsegError of segmentMap; the other jobs are unaffected', async () => {
    const pool = createSegmentPool({ threads: 1 });
    try {
      const bad = maps[0].slice();
      bad[3 * W + 4] = NaN;
      const [r1, r2] = await Promise.allSettled([pool.segment('bmm', { data: bad, height: H, width: W }), pool.segment('bmm', { data: maps[1], height: H, width: W })]);
      expect(r1.status).toBe('rejected');
      const err = (r1 as PromiseRejectedResult).reason;
      expect(err).toBeInstanceOf(LrpsegError);
      expect((err as LrpsegError).code).toBe('BAD_INPUT');
      expect((err as LrpsegError).message).toMatch(/row 3, column 4/);
      expect(r2.status).toBe('fulfilled');
    } finally {
      await pool.close();
    }
  });

  it('threads: 0 runs on the calling thread; after close() jobs still run', async () => {
    const inline = createSegmentPool({ threads: 0 });
    const a = await inline.segment('gmm', { data: maps[2], height: H, width: W });
    expect(Array.from(a.mask)).toEqual(Array.from(segmentMap('gmm', { data: maps[2], height: H, width: W }).mask));
    const pool = createSegmentPool({ threads: 1 });
    await pool.close();
    const b = await pool.segment('simple', { data: maps[2], height: H, width: W });
    expect(b.mask.length).toBe(H * W);
  });
});
