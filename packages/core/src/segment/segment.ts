import { LrpsegError } from '../errors.js';
import { segmentBmm, type BmmSegmentation } from './bmm.js';
import { segmentGmm, type GmmSegmentation } from './gmm.js';
import type { RelevanceMap } from './map.js';
import { segmentSimple, type SimpleSegmentation } from './simple.js';

export const SEGMENT_METHODS = ['simple', 'gmm', 'bmm'] as const;
export type SegmentMethod = (typeof SEGMENT_METHODS)[number];

export type Segmentation = SimpleSegmentation | GmmSegmentation | BmmSegmentation;

export function isSegmentMethod(s: string): s is SegmentMethod {
  return (SEGMENT_METHODS as readonly string[]).includes(s);
}

/**
 * Turns a relevance map into a mask (SEGMENTATION.md). Every method also returns a per-pixel score:
 * the damage posterior for GMM and BMM, normalize01(R) for Simple. A map with a non-finite value is
 * refused (LrpsegError BAD_INPUT); a constant map gives an empty mask.
 */
export function segmentMap(method: SegmentMethod, map: RelevanceMap): Segmentation {
  switch (method) {
    case 'simple':
      return segmentSimple(map);
    case 'gmm':
      return segmentGmm(map);
    case 'bmm':
      return segmentBmm(map);
    default:
      throw new LrpsegError('BAD_INPUT', `unknown segmentation method "${String(method)}" (simple, gmm or bmm)`);
  }
}
