/**
 * What `lrpseg eval` evaluates: images with ground-truth masks, from folders or from a split manifest.
 * (Proper data-set loaders live in @lrpseg/datasets; this reads only the two simple layouts eval takes.)
 *
 * - A folder with `<stem>.jpg` images and `<stem>.png` masks side by side (the Magnetic Tile layout),
 *   or a folder of images plus `--truth DIR` with `<stem>.png` masks.
 * - A manifest JSON `{"root": …, "subsets": {"test": [{"image", "mask", "label", "region"?}, …]}}`:
 *   paths relative to root, root relative to the manifest's folder; a null mask is an empty one.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { LrpsegError } from '@lrpseg/core';
import { CLASSIFIER_AUGMENT, cropRegion, prepareForModel, prepareSample, readImageFile, type RgbImage } from '@lrpseg/datasets';
import { UsageError } from '../errors.js';

export interface EvalItem {
  /** Unique name in the report (the image's stem, made unique). */
  readonly id: string;
  readonly image: string;
  /** null: no damage anywhere. */
  readonly mask: string | null;
  /** 1 defective, 0 defect-free; undefined: decided from the mask (any damage pixel). */
  readonly label?: number;
  readonly region?: { readonly top: number; readonly left: number; readonly height: number; readonly width: number };
  /**
   * The manifest's group (a captured region, a photo): items of one group are not independent, so the
   * bootstrap intervals resample groups; undefined: the item is its own group.
   */
  readonly group?: string;
  /** The manifest's class name (e.g. "Crack"), where it gives one: per-view records carry it. */
  readonly class?: string;
}

/** The unit the bootstrap intervals resample: the item's group, else the item. */
export const resamplingUnit = (item: Pick<EvalItem, 'id' | 'group'>): string => (item.group !== undefined ? `group:${item.group}` : `item:${item.id}`);

export type EvalView = 'identity' | 'hflip' | 'vflip';
export const ALL_VIEWS: readonly EvalView[] = ['identity', 'hflip', 'vflip'];

export interface EvalData {
  readonly items: EvalItem[];
  /** Views the manifest asks for, if it says. */
  readonly views?: readonly EvalView[];
  readonly sources: readonly string[];
}

const stemOf = (f: string): string => path.basename(f, path.extname(f));
const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function listFolder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${dir}: cannot list folder (${(e as Error).message})`, { cause: e });
  }
}

/** Items of one folder (images and masks side by side, or masks in truthDir). */
export async function folderItems(dir: string, truthDir?: string): Promise<EvalItem[]> {
  const names = await listFolder(dir);
  const items: EvalItem[] = [];
  if (truthDir === undefined || path.resolve(truthDir) === path.resolve(dir)) {
    // every .jpg/.jpeg is an image; its mask is the .png of the same stem (a missing one is reported for that image)
    for (const n of names) {
      const ext = path.extname(n).toLowerCase();
      if (ext !== '.jpg' && ext !== '.jpeg') continue;
      items.push({ id: stemOf(n), image: path.join(dir, n), mask: path.join(dir, `${stemOf(n)}.png`) });
    }
    if (items.length === 0) {
      throw new LrpsegError('BAD_INPUT', `${dir}: no .jpg/.jpeg images with <stem>.png masks beside them (give --truth DIR for masks in another folder)`);
    }
    return items;
  }
  for (const n of names) {
    if (!IMAGE_EXT.has(path.extname(n).toLowerCase())) continue;
    const stem = stemOf(n);
    items.push({ id: stem, image: path.join(dir, n), mask: path.join(truthDir, `${stem}.png`) });
  }
  if (items.length === 0) throw new LrpsegError('BAD_INPUT', `${dir}: folder contains no .jpg, .jpeg or .png images`);
  return items;
}

interface ManifestJson {
  root?: unknown;
  evalViews?: unknown;
  subsets?: Record<string, unknown>;
}

/** Items of a manifest's subset. */
export async function manifestItems(file: string, subset: string): Promise<{ items: EvalItem[]; views?: EvalView[] }> {
  let json: ManifestJson;
  try {
    json = JSON.parse(await readFile(file, 'utf8')) as ManifestJson;
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${file}: cannot read the manifest (${(e as Error).message})`, { cause: e });
  }
  const entries = json.subsets?.[subset];
  if (!Array.isArray(entries)) {
    const have = json.subsets && typeof json.subsets === 'object' ? Object.keys(json.subsets).join(', ') : 'none';
    throw new LrpsegError('BAD_INPUT', `${file}: no "subsets.${subset}" list (subsets: ${have})`);
  }
  const root = path.resolve(path.dirname(file), typeof json.root === 'string' ? json.root : '.');
  const at = (p: string): string => (path.isAbsolute(p) ? p : path.join(root, ...p.split('/')));
  const items: EvalItem[] = entries.map((e: unknown, i: number) => {
    const o = e as { image?: unknown; mask?: unknown; label?: unknown; region?: unknown; group?: unknown; class?: unknown };
    if (typeof o?.image !== 'string') throw new LrpsegError('BAD_INPUT', `${file}: subsets.${subset}[${i}] has no "image" path`);
    if (o.mask !== null && o.mask !== undefined && typeof o.mask !== 'string') {
      throw new LrpsegError('BAD_INPUT', `${file}: subsets.${subset}[${i}].mask must be a path or null`);
    }
    const region = o.region as EvalItem['region'] | undefined;
    return {
      id: stemOf(o.image),
      image: at(o.image),
      mask: typeof o.mask === 'string' ? at(o.mask) : null,
      ...(typeof o.label === 'number' ? { label: o.label > 0 ? 1 : 0 } : typeof o.label === 'boolean' ? { label: o.label ? 1 : 0 } : {}),
      ...(region && typeof region === 'object' ? { region } : {}),
      ...(typeof o.group === 'string' ? { group: o.group } : {}),
      ...(typeof o.class === 'string' ? { class: o.class } : {}),
    };
  });
  const views = Array.isArray(json.evalViews) ? (json.evalViews.filter((v) => ALL_VIEWS.includes(v as EvalView)) as EvalView[]) : undefined;
  return { items, ...(views && views.length > 0 ? { views } : {}) };
}

/** Reads every --data source (folder or manifest .json); ids are made unique ("-2", "-3", … on collisions). */
export async function readEvalData(sources: readonly string[], truthDir: string | undefined, subset: string): Promise<EvalData> {
  if (sources.length === 0) throw new UsageError('eval: no --data given (a folder of images and masks, or a manifest .json)');
  const items: EvalItem[] = [];
  let views: EvalView[] | undefined;
  for (const s of sources) {
    if (s.toLowerCase().endsWith('.json')) {
      const m = await manifestItems(s, subset);
      items.push(...m.items);
      if (m.views) views = m.views;
    } else if (await isDir(s)) {
      items.push(...(await folderItems(s, truthDir)));
    } else {
      throw new LrpsegError('BAD_INPUT', `${s}: neither a folder nor a manifest .json`);
    }
  }
  const used = new Map<string, number>();
  const unique = items.map((it) => {
    const k = (used.get(it.id) ?? 0) + 1;
    used.set(it.id, k);
    return k === 1 ? it : { ...it, id: `${it.id}-${k}` };
  });
  return { items: unique, ...(views ? { views } : {}), sources };
}

/** A ground-truth mask file as 0/1 damage (≥ 128 of 255) at its own size; null mask: all 0 at the image size. */
export async function readTruth(item: EvalItem, fallbackSize: readonly [number, number]): Promise<RgbImage> {
  if (item.mask === null) {
    const [h, w] = fallbackSize;
    return { width: w, height: h, channels: 1, data: new Float32Array(h * w) };
  }
  if (!IMAGE_EXT.has(path.extname(item.mask).toLowerCase())) {
    throw new LrpsegError('BAD_INPUT', `${item.mask}: eval reads PNG/JPEG masks only (convert other ground truth, e.g. .seg files, first)`);
  }
  const m = await readImageFile(item.mask);
  if (m.channels !== 1) {
    // a colour mask: damage where its mean is bright
    const hw = m.width * m.height;
    const grey = new Float32Array(hw);
    for (let p = 0; p < hw; p++) grey[p] = (m.data[p] + m.data[hw + p] + m.data[2 * hw + p]) / 3;
    return { width: m.width, height: m.height, channels: 1, data: grey };
  }
  return m;
}

/** Damage (1) where a [0, 1] mask is at least 128/255, i.e. 8-bit value ≥ 128 (halfway between 127 and 128). */
export function binarizeTruth(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i] >= 127.5 / 255 ? 1 : 0;
  return out;
}

export interface PreparedItem {
  /** channels × H × W at the model input size, values in [0, 1]. */
  readonly image: { readonly data: Float32Array };
  /** 0/1 damage at the model input size, prepared (scaled, cropped) exactly as the image. */
  readonly truth: Uint8Array;
  readonly label: number;
}

/**
 * How the model-sized window is chosen: 'center' is the paper's centre crop (section 3.4), which on the
 * public Magnetic Tile images misses the defect of about half the crack and blowhole images (the paper
 * had hand-cropped them so that any crop holds it); 'defect' centres the window on the defect's
 * bounding box instead, which is what that hand-cropping amounts to (docs/datasets.md).
 */
export type EvalCrop = 'center' | 'defect';

/** Decodes an item's image and mask and prepares both for a model input of `size` (section 3.4). */
export async function prepareItem(item: EvalItem, size: readonly [number, number], channels: number, crop: EvalCrop = 'center'): Promise<PreparedItem> {
  let img: RgbImage = await readImageFile(item.image);
  let truth = await readTruth(item, [img.height, img.width]);
  if (truth.width !== img.width || truth.height !== img.height) {
    throw new LrpsegError('BAD_INPUT', `${item.mask}: mask of ${truth.width}×${truth.height} does not match its image ${item.image} (${img.width}×${img.height})`);
  }
  if (item.region) {
    const r = item.region;
    img = cropRegion(img, r.top, r.left, r.height, r.width);
    truth = cropRegion(truth, r.top, r.left, r.height, r.width);
  }
  if (crop === 'defect') {
    const sample = prepareSample(img, truth, {
      mode: 'eval', size, channels, seed: 0, augment: CLASSIFIER_AUGMENT, view: 'identity', evalCrop: 'defect',
    });
    return { image: { data: sample.data }, truth: sample.mask, label: item.label ?? (sample.maskHasDefect ? 1 : 0) };
  }
  const image = prepareForModel(img, size, channels);
  const t = binarizeTruth(prepareForModel(truth, size, 1).data);
  // without a label, an item is defective when the part the model sees (the prepared crop) holds damage
  const label = item.label ?? (t.some((v) => v === 1) ? 1 : 0);
  return { image, truth: t, label };
}

/** Flips a planar (C, H, W) array horizontally or vertically (identity: unchanged). */
export function flipPlanar<T extends Float32Array | Uint8Array>(data: T, channels: number, height: number, width: number, view: EvalView): T {
  if (view === 'identity') return data;
  const out = new (data.constructor as new (n: number) => T)(data.length);
  for (let c = 0; c < channels; c++) {
    for (let y = 0; y < height; y++) {
      const sy = view === 'vflip' ? height - 1 - y : y;
      for (let x = 0; x < width; x++) {
        const sx = view === 'hflip' ? width - 1 - x : x;
        out[(c * height + y) * width + x] = data[(c * height + sy) * width + sx];
      }
    }
  }
  return out;
}
