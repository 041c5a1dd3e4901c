/**
 * `--shard K/N`: the K-th of N deterministic parts of an input list (K counts from 0), so that a large
 * batch runs as N jobs of an existing scheduler (a Kubernetes Indexed Job's JOB_COMPLETION_INDEX, a
 * Slurm array's SLURM_ARRAY_TASK_ID). Part K holds the inputs whose position i in the expanded,
 * sorted input list has i mod N = K: the parts are disjoint, cover the list, and differ in size by at
 * most one.
 */
import { UsageError } from '../errors.js';

export interface Shard {
  readonly index: number;
  readonly count: number;
}

export function parseShard(text: string): Shard {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text);
  if (!m) throw new UsageError(`--shard: expected K/N, e.g. 0/4 (got "${text}")`);
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (!Number.isSafeInteger(count) || count < 1) throw new UsageError(`--shard ${text}: N must be at least 1`);
  if (!Number.isSafeInteger(index) || index >= count) throw new UsageError(`--shard ${text}: K must be between 0 and ${count - 1} (K counts from 0)`);
  return { index, count };
}

/** Positions of the list that belong to the shard. */
export function shardPositions(length: number, shard: Shard | undefined): number[] {
  const out: number[] = [];
  for (let i = 0; i < length; i++) if (shard === undefined || i % shard.count === shard.index) out.push(i);
  return out;
}

/** "summary.json", or "summary.shard-K-of-N.json" so that the parts of a sharded run do not overwrite each other. */
export function summaryName(shard: Shard | undefined): string {
  return shard === undefined ? 'summary.json' : `summary.shard-${shard.index}-of-${shard.count}.json`;
}
