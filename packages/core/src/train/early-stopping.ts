/** When to stop a run early: the rule both trainers (classifier, U-Net) apply after each epoch. */
export interface EarlyStopping {
  /** Stop after this many epochs without a better validation figure (0: never stop early). */
  readonly patience: number;
  /**
   * Never stop before this many epochs are done (default 0). A run from scratch can sit at chance for
   * its first epochs, where a noisy validation figure sets a "best" that patience would then wait out.
   */
  readonly minEpochs?: number;
}

/** Whether to stop after the 0-based `epoch`, the best validation figure so far having come at `bestEpoch`. */
export function stopsEarly(rule: EarlyStopping, epoch: number, bestEpoch: number): boolean {
  if (rule.patience <= 0) return false;
  if (epoch + 1 < (rule.minEpochs ?? 0)) return false;
  return epoch - bestEpoch >= rule.patience;
}
