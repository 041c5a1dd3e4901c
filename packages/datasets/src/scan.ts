/**
 * One pass over a data set's files (Node): decode every image and mask (sharp, several at a time),
 * check that they fit together, and collect what inspect and split need: sizes, defect areas and
 * boxes, and the texture fingerprints for grouping. Files that fail are left out and reported.
 */
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import type { Box } from './augment.js';
import { readFileBytes, readGreyFile } from './fs.js';
import { captureFeatures, DEFAULT_GROUPING, type CaptureFeatures, type GroupingParams } from './grouping.js';
import type { DatasetIndex } from './magnetic-tile.js';
import type { DatasetEntry } from './manifest.js';
import { centerCropOffset } from './resize.js';
import { scaledSize } from './sample.js';
import { parseSeg } from './seg.js';

export interface GreyImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export interface EntryScan {
  readonly entry: DatasetEntry;
  /** Size of the image (or of the patch). */
  readonly width: number;
  readonly height: number;
  /** Pixels with mask ≥ 128. */
  readonly defectPixels: number;
  readonly box: Box | null;
  /** Whether the evaluation centre crop (after scale-up) keeps any defect pixel. */
  readonly centreCropHasDefect: boolean;
  /** Texture fingerprint (only when asked for, and only for whole images). */
  readonly features?: CaptureFeatures;
  /** Binary mask (1 = defect), only with features and only when not empty. */
  readonly binaryMask?: Uint8Array;
}

export interface ScanOptions {
  /** Compute grouping fingerprints. */
  readonly features?: boolean;
  readonly grouping?: GroupingParams;
  /** Model input size, for the centre-crop check. */
  readonly inputSize?: readonly [number, number];
  /** Files decoded at the same time. */
  readonly concurrency?: number;
  readonly onProgress?: (done: number, total: number) => void;
}

export interface ScanResult {
  readonly index: DatasetIndex;
  readonly scans: readonly EntryScan[];
  /** The index's problems and those found while decoding, one line each, naming the file. */
  readonly problems: readonly string[];
}

/** Reads a mask file: a PNG (or JPEG) as 8-bit grey, or a Berkeley .seg (crack = 255). */
export async function readMask(file: string): Promise<GreyImage> {
  if (file.toLowerCase().endsWith('.seg')) {
    const bytes = await readFileBytes(file);
    return parseSeg(new TextDecoder().decode(bytes), file);
  }
  return readGreyFile(file);
}

function cropGrey(img: GreyImage, r: { top: number; left: number; height: number; width: number }): GreyImage {
  const data = new Uint8Array(r.width * r.height);
  for (let y = 0; y < r.height; y++) data.set(img.data.subarray((r.top + y) * img.width + r.left, (r.top + y) * img.width + r.left + r.width), y * r.width);
  return { width: r.width, height: r.height, data };
}

function maskStats(mask: GreyImage, inputSize: readonly [number, number]): { defectPixels: number; box: Box | null; centre: boolean } {
  const { width: W, height: H, data } = mask;
  const [h, w] = scaledSize(H, W, inputSize[0], inputSize[1]);
  const sy = h / H;
  const sx = w / W;
  const t = centerCropOffset(h, Math.min(h, inputSize[0])) / sy;
  const l = centerCropOffset(w, Math.min(w, inputSize[1])) / sx;
  const b = t + inputSize[0] / sy;
  const r = l + inputSize[1] / sx;
  let n = 0;
  let top = H;
  let left = W;
  let bottom = -1;
  let right = -1;
  let centre = false;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      if (data[y * W + x] >= 128) {
        n++;
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
        if (!centre && y + 0.5 >= t && y + 0.5 < b && x + 0.5 >= l && x + 0.5 < r) centre = true;
      }
    }
  }
  return { defectPixels: n, box: n > 0 ? { top, left, bottom: bottom + 1, right: right + 1 } : null, centre };
}

async function scanImage(root: string, entries: readonly DatasetEntry[], opts: ScanOptions, out: EntryScan[], problems: string[]): Promise<void> {
  const first = entries[0];
  const imageFile = path.join(root, first.image);
  const inputSize = opts.inputSize ?? [224, 224];
  let image: GreyImage;
  let mask: GreyImage | null = null;
  try {
    image = await readGreyFile(imageFile);
    if (first.mask !== null) {
      mask = await readMask(path.join(root, first.mask));
      if (mask.width !== image.width || mask.height !== image.height) {
        throw new LrpsegError('BAD_INPUT', `${path.join(root, first.mask)}: mask of ${mask.width}×${mask.height} does not match its image ${first.image} of ${image.width}×${image.height}`);
      }
    }
  } catch (e) {
    problems.push(e instanceof Error ? e.message : String(e));
    return;
  }
  for (const entry of entries) {
    const r = entry.region;
    if (r && (r.top + r.height > image.height || r.left + r.width > image.width)) {
      problems.push(`${imageFile}: region ${r.height}×${r.width} at (${r.top}, ${r.left}) is outside the ${image.height}×${image.width} image`);
      continue;
    }
    const img = r ? cropGrey(image, r) : image;
    const msk = mask && r ? cropGrey(mask, r) : mask;
    const stats = msk ? maskStats(msk, inputSize) : { defectPixels: 0, box: null, centre: false };
    let features: CaptureFeatures | undefined;
    let binaryMask: Uint8Array | undefined;
    if (opts.features && !r) {
      features = captureFeatures(img, opts.grouping ?? DEFAULT_GROUPING);
      if (msk && stats.defectPixels > 0) binaryMask = msk.data.map((v) => (v >= 128 ? 1 : 0));
    }
    out.push({
      entry,
      width: img.width,
      height: img.height,
      defectPixels: stats.defectPixels,
      box: stats.box,
      centreCropHasDefect: stats.centre,
      ...(features ? { features } : {}),
      ...(binaryMask ? { binaryMask } : {}),
    });
  }
}

/** Scans every entry of an index; entries keep their index order. */
export async function scanDataset(index: DatasetIndex, opts: ScanOptions = {}): Promise<ScanResult> {
  // entries of one image (patches) are decoded together
  const byImage = new Map<string, DatasetEntry[]>();
  for (const e of index.entries) {
    const list = byImage.get(e.image);
    if (list) list.push(e);
    else byImage.set(e.image, [e]);
  }
  const jobs = [...byImage.values()];
  const results: EntryScan[][] = jobs.map(() => []);
  const problemsOf: string[][] = jobs.map(() => []);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const k = next++;
      await scanImage(index.root, jobs[k], opts, results[k], problemsOf[k]);
      done++;
      opts.onProgress?.(done, jobs.length);
    }
  };
  const n = Math.max(1, Math.min(opts.concurrency ?? 4, jobs.length));
  await Promise.all(Array.from({ length: n }, worker));
  const order = new Map(index.entries.map((e, i) => [e, i]));
  const scans = results.flat().sort((a, b) => (order.get(a.entry) ?? 0) - (order.get(b.entry) ?? 0));
  return { index, scans, problems: [...index.problems, ...problemsOf.flat()] };
}
