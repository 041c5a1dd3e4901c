/** Learning-rate multipliers over training: linear warm-up, then constant or cosine decay to `floor`. */
export interface LrSchedule {
  readonly kind: 'constant' | 'cosine';
  readonly warmupSteps: number;
  readonly totalSteps: number;
  /** Final multiplier of the cosine decay (default 0). */
  readonly floor?: number;
}

export function lrScaleAt(s: LrSchedule, step: number): number {
  if (s.warmupSteps > 0 && step < s.warmupSteps) return (step + 1) / s.warmupSteps;
  if (s.kind === 'constant') return 1;
  const span = Math.max(1, s.totalSteps - s.warmupSteps);
  const t = Math.min(1, Math.max(0, (step - s.warmupSteps) / span));
  const floor = s.floor ?? 0;
  return floor + (1 - floor) * 0.5 * (1 + Math.cos(Math.PI * t));
}
