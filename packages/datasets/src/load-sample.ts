/**
 * Reads one sample's files and prepares it (Node): what each loader worker runs.
 */
import * as path from 'node:path';
import { readImageFile } from './fs.js';
import type { ManifestEntry } from './manifest.js';
import type { PlanarImage } from './resize.js';
import { prepareSample, type PreparedSample, type SampleSpec } from './sample.js';
import { readMask } from './scan.js';

export interface SampleTask {
  readonly root: string;
  readonly entry: Pick<ManifestEntry, 'image' | 'mask' | 'region'>;
  readonly spec: SampleSpec;
}

/** Decodes the image and its mask (soft, values in [0, 1]) and prepares the model input. */
export async function loadSample(task: SampleTask): Promise<PreparedSample> {
  const { root, entry } = task;
  const [image, maskGrey] = await Promise.all([
    readImageFile(path.join(root, entry.image)),
    entry.mask === null ? Promise.resolve(null) : readMask(path.join(root, entry.mask)),
  ]);
  let mask: PlanarImage | null = null;
  if (maskGrey) {
    const soft = new Float32Array(maskGrey.data.length);
    for (let i = 0; i < soft.length; i++) soft[i] = maskGrey.data[i] / 255;
    mask = { width: maskGrey.width, height: maskGrey.height, channels: 1, data: soft };
  }
  const spec = entry.region ? { ...task.spec, region: entry.region } : task.spec;
  try {
    return prepareSample(image, mask, spec);
  } catch (e) {
    if (e instanceof Error && !e.message.includes(entry.image)) e.message = `${path.join(root, entry.image)}: ${e.message}`;
    throw e;
  }
}
