import { readFile } from 'node:fs/promises';
import { loadModel, vggVariantName, type Backend, type Model, type ModelMeta } from '@lrpseg/core';
import { fsError, withFile } from './errors.js';

export async function readModelBytes(file: string): Promise<Uint8Array> {
  try {
    return await readFile(file);
  } catch (e) {
    throw fsError('read model file', file, e);
  }
}

/** Loads a model file onto a backend; every problem is one error naming the file. */
export async function openModel(backend: Backend, file: string): Promise<Model> {
  const bytes = await readModelBytes(file);
  try {
    return loadModel(backend, bytes);
  } catch (e) {
    throw withFile(file, e);
  }
}

/** "VGG-A 128N", "VGG-A one FC", … */
export function variantName(meta: ModelMeta): string {
  return vggVariantName(meta.arch);
}

export const ARCH_CHOICES = ['vgg11-128n', 'vgg11-onefc'] as const;
export type ArchChoice = (typeof ARCH_CHOICES)[number];

export function archVariant(a: ArchChoice): '128n' | 'onefc' {
  return a === 'vgg11-128n' ? '128n' : 'onefc';
}

/** The smallest input side a VGG with this many max-pools accepts. */
export function minInputSide(meta: Pick<ModelMeta, 'arch'>): number {
  return 2 ** meta.arch.features.filter((f) => f === 'M').length;
}
