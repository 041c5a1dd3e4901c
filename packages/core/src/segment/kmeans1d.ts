/**
 * Lloyd's k-means on 1-D samples, run on the sorted samples: in one dimension every cluster is a
 * contiguous run of the sorted values, so an assignment is a few boundaries found by binary search and a
 * centre update is a difference of prefix sums. Each round costs O(k log n) instead of O(k n), which is
 * what keeps the GMM within its time budget; the result is the assignment Lloyd's algorithm makes.
 */

/** Value at quantile p of ascending sorted samples, interpolated linearly (NumPy's default). */
export function quantileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = p * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, n - 1);
  const frac = pos - lo;
  return frac === 0 ? sorted[lo] : sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

/** One cluster: the sorted samples [start, end), and their count, mean and (biased) variance. */
export interface Cluster1d {
  readonly start: number;
  readonly end: number;
  readonly count: number;
  /** The centre (for an empty cluster, the centre it kept). */
  readonly mean: number;
  /** Mean squared deviation from the mean; 0 for an empty cluster. */
  readonly variance: number;
}

export interface KMeans1dResult {
  /** Indexed by cluster id (the order of the initial centres). */
  readonly clusters: readonly Cluster1d[];
  /** Update rounds run. */
  readonly rounds: number;
  /** Whether the assignment stopped changing within maxRounds. */
  readonly converged: boolean;
}

/**
 * Nearest-centre assignment of sorted samples: ranges[2k], ranges[2k+1] = [start, end) of cluster k.
 * Distances are squared differences; a tie goes to the lower cluster id (as an argmin over ids does).
 * Clusters sharing a centre with a lower id get no samples.
 */
function assign(sorted: Float64Array, centres: Float64Array): Int32Array {
  const k = centres.length;
  const n = sorted.length;
  const ids = Array.from({ length: k }, (_, i) => i).sort((a, b) => centres[a] - centres[b] || a - b);
  const owners: number[] = [];
  for (const id of ids) if (owners.length === 0 || centres[owners[owners.length - 1]] !== centres[id]) owners.push(id);
  const ranges = new Int32Array(2 * k);
  let start = 0;
  for (let j = 0; j < owners.length; j++) {
    let end = n;
    if (j + 1 < owners.length) {
      const lo = owners[j];
      const up = owners[j + 1];
      const cl = centres[lo];
      const cu = centres[up];
      // first index (≥ start) whose sample goes to the upper centre
      let a = start;
      let b = n;
      while (a < b) {
        const m = (a + b) >>> 1;
        const x = sorted[m];
        const du = (x - cu) * (x - cu);
        const dl = (x - cl) * (x - cl);
        if (du < dl || (du === dl && up < lo)) b = m;
        else a = m + 1;
      }
      end = a;
    }
    ranges[2 * owners[j]] = start;
    ranges[2 * owners[j] + 1] = end;
    start = end;
  }
  return ranges;
}

function sameRanges(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Lloyd's algorithm from the given centres on ascending sorted samples, until the assignment stops
 * changing or after maxRounds updates. An empty cluster keeps its centre.
 */
export function kmeans1dSorted(sorted: Float64Array, initialCentres: ArrayLike<number>, maxRounds = 300): KMeans1dResult {
  const n = sorted.length;
  const k = initialCentres.length;
  const prefix = new Float64Array(n + 1);
  for (let i = 0; i < n; i++) prefix[i + 1] = prefix[i] + sorted[i];
  const centres = Float64Array.from(initialCentres);
  let ranges = assign(sorted, centres);
  let rounds = 0;
  let converged = false;
  while (rounds < maxRounds) {
    for (let c = 0; c < k; c++) {
      const s = ranges[2 * c];
      const e = ranges[2 * c + 1];
      if (e > s) centres[c] = (prefix[e] - prefix[s]) / (e - s);
    }
    rounds++;
    const next = assign(sorted, centres);
    if (sameRanges(next, ranges)) {
      converged = true;
      break;
    }
    ranges = next;
  }
  const clusters: Cluster1d[] = [];
  for (let c = 0; c < k; c++) {
    const start = ranges[2 * c];
    const end = ranges[2 * c + 1];
    const count = end - start;
    if (count === 0) {
      clusters.push({ start, end, count, mean: centres[c], variance: 0 });
      continue;
    }
    let s = 0;
    for (let i = start; i < end; i++) s += sorted[i];
    const mean = s / count;
    let ss = 0;
    for (let i = start; i < end; i++) ss += (sorted[i] - mean) * (sorted[i] - mean);
    clusters.push({ start, end, count, mean, variance: ss / count });
  }
  return { clusters, rounds, converged };
}
