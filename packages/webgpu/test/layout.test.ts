import { describe, expect, it } from 'vitest';
import { bucketSize } from '../src/buffer-pool.js';
import { chooseTile, chooseTiles, pickTile, tileBytes } from '../src/wgsl/gemm.js';
import { packParams, paramBytes } from '../src/wgsl/kernel.js';

describe('buffer pool buckets', () => {
  it('powers of two up to 1 MiB, eighths of a power of two above; never smaller than asked', () => {
    expect(bucketSize(0)).toBe(256);
    expect(bucketSize(4)).toBe(256);
    expect(bucketSize(257)).toBe(512);
    expect(bucketSize(1 << 20)).toBe(1 << 20);
    expect(bucketSize((1 << 20) + 1)).toBe((1 << 20) + (1 << 17));
    for (const bytes of [1, 300, 5000, 70_000, 1_500_000, 3_000_001, 123_456_789]) {
      const b = bucketSize(bytes);
      expect(b).toBeGreaterThanOrEqual(bytes);
      if (bytes > 1 << 20) expect(b / bytes).toBeLessThanOrEqual(1.125 + 1e-9);
      expect(bucketSize(b)).toBe(b); // a bucket size is its own bucket
    }
  });
});

describe('tiles sized from the adapter limits', () => {
  const limits = (inv: number, storage: number) => ({
    maxComputeInvocationsPerWorkgroup: inv, maxComputeWorkgroupSizeX: Math.min(inv, 256), maxComputeWorkgroupSizeY: Math.min(inv, 256), maxComputeWorkgroupStorageSize: storage,
  });
  it('SwiftShader (256 invocations, 32 KiB): 16×16 threads, 64×64 tile, k-step 64', () => {
    const t = chooseTile(limits(256, 32768));
    expect(t).toEqual({ wx: 16, wy: 16, rm: 4, rn: 4, tk: 64, f16: false });
    expect(tileBytes(t)).toBeLessThanOrEqual(32768);
  });
  it('WebGPU default limits (16 KiB): k-step 32; f16 tiles fit a deeper step', () => {
    expect(chooseTile(limits(256, 16384)).tk).toBe(32);
    expect(chooseTile(limits(256, 16384), true).tk).toBe(64);
  });
  it('wide and tall tiles for products with few rows or columns', () => {
    const tiles = chooseTiles(limits(256, 32768));
    expect([tiles.wide.wy * tiles.wide.rm, tiles.wide.wx * tiles.wide.rn]).toEqual([16, 256]);
    expect([tiles.tall.wy * tiles.tall.rm, tiles.tall.wx * tiles.tall.rn]).toEqual([256, 16]);
    for (const t of [tiles.wide, tiles.tall]) expect(tileBytes(t)).toBeLessThanOrEqual(32768);
    expect(pickTile(tiles, 3, 50176)).toBe(tiles.wide); // adjoint of conv1_1: 3 input channels
    expect(pickTile(tiles, 128, 1)).toBe(tiles.tall); // a linear layer at batch 1
    expect(pickTile(tiles, 512, 16)).toBe(tiles.tall); // conv5 of a 64×64 image
    expect(pickTile(tiles, 64, 3136)).toBe(tiles.square);
    expect(pickTile(tiles, 8, 8)).toBe(tiles.square);
  });
  it('fewer invocations: 8×8 threads', () => {
    const t = chooseTile(limits(64, 16384));
    expect([t.wx, t.wy]).toEqual([8, 8]);
    expect(tileBytes(t)).toBeLessThanOrEqual(16384);
  });
});

describe('uniform parameters', () => {
  it('pack in declaration order, 4 bytes each, struct padded to 16', () => {
    const fields = [['M', 'u32'], ['x', 'f32'], ['N', 'u32']] as const;
    expect(paramBytes(fields)).toBe(16);
    expect(paramBytes([...fields, ['a', 'u32'], ['b', 'u32']])).toBe(32);
    const view = new DataView(new ArrayBuffer(272));
    packParams(fields, { M: 7, x: 0.5, N: 4000000000 }, view, 256);
    expect([view.getUint32(256, true), view.getFloat32(260, true), view.getUint32(264, true)]).toEqual([7, 0.5, 4000000000]);
    expect(() => packParams(fields, { M: 1, x: 2 }, view, 0)).toThrow(/N missing/);
  });
});
