/**
 * The page's bundled default model: the repository's bundled model (models/README.md: VGG-11 one FC,
 * widths ÷ 8, 224×224, trained on a CPU — an interim model, not the paper's), read from models/ at the
 * root. `vite build` emits it as models/default.safetensors; `vite` (dev) serves the same bytes.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

export const DEFAULT_MODEL_PATH = 'models/default.safetensors';
/** The repository's sample image, served from samples/ at the root (not copied into this package). */
export const SAMPLE_PATH = 'samples/synthetic-tile-blowhole.png';
const sampleFile = fileURLToPath(new URL('../../samples/synthetic-tile-blowhole.png', import.meta.url));

const modelFile = fileURLToPath(new URL('../../models/mt-vgg11-onefc-w8.safetensors', import.meta.url));

export async function defaultModelBytes(): Promise<Uint8Array> {
  return readFile(modelFile);
}

/** Serves (dev) and emits (build) the default model and the sample image. */
export function staticAssetsPlugin(): Plugin {
  const cache = new Map<string, Promise<Uint8Array>>();
  const sources: Record<string, () => Promise<Uint8Array>> = {
    [DEFAULT_MODEL_PATH]: defaultModelBytes,
    [SAMPLE_PATH]: () => readFile(sampleFile),
  };
  const get = (p: string): Promise<Uint8Array> => {
    let b = cache.get(p);
    if (!b) cache.set(p, (b = sources[p]()));
    return b;
  };
  return {
    name: 'lrpseg-static-assets',
    configureServer(server) {
      for (const p of Object.keys(sources)) server.middlewares.use(`/${p}`, (_req, res) => {
        get(p).then(
          (b) => {
            res.setHeader('content-type', p.endsWith('.png') ? 'image/png' : 'application/octet-stream');
            res.end(b);
          },
          (e: unknown) => {
            res.statusCode = 500;
            res.end(String(e));
          },
        );
      });
    },
    async generateBundle() {
      for (const p of Object.keys(sources)) this.emitFile({ type: 'asset', fileName: p, source: await get(p) });
    },
  };
}
