/** The quick scale's seeded subsample of a split's test subset. */
import { SeededRng } from '@lrpseg/core';
import type { Manifest, ManifestEntry } from '@lrpseg/datasets';

/** A seeded choice of at most n entries per label, in manifest order. */
export function subsamplePerLabel(entries: readonly ManifestEntry[], n: number, seed: number): ManifestEntry[] {
  const chosen = new Set<ManifestEntry>();
  const seen = new Map<number, number>();
  for (const e of new SeededRng(seed).shuffle([...entries])) {
    const k = seen.get(e.label) ?? 0;
    if (k < n) chosen.add(e);
    seen.set(e.label, k + 1);
  }
  return entries.filter((e) => chosen.has(e));
}

/** Entries per class, and their total. */
export function countClasses(entries: readonly ManifestEntry[]): Record<string, number> {
  const c: Record<string, number> = { total: entries.length };
  for (const e of entries) c[e.class] = (c[e.class] ?? 0) + 1;
  return c;
}

/** The manifest with its test subset reduced to at most `perLabel` entries per label (undefined: unchanged). */
export function withTestSubsample(manifest: Manifest, perLabel: number | undefined, seed: number): Manifest {
  if (perLabel === undefined) return manifest;
  const test = subsamplePerLabel(manifest.subsets.test, perLabel, seed);
  return { ...manifest, counts: { ...manifest.counts, test: countClasses(test) }, subsets: { ...manifest.subsets, test } };
}
