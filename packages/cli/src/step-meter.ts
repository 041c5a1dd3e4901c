/**
 * What the training progress bar shows after each step: the epoch's mean loss and accuracy so far and
 * its images per second, loading included (the wall time since the epoch began, not the step's own).
 */
export class StepMeter {
  private lossSum = 0;
  private correct = 0;
  private images = 0;
  private withAccuracy = false;
  private readonly started: number;

  constructor(now: number = Date.now()) {
    this.started = now;
  }

  /** Records one step of `images` images; `accuracy` is the step's share right (omit where there is none, as for the U-Net). */
  add(loss: number, images: number, accuracy?: number): void {
    this.lossSum += loss * images;
    if (accuracy !== undefined) this.correct += accuracy * images;
    this.images += images;
    this.withAccuracy ||= accuracy !== undefined;
  }

  /** e.g. "loss 0.6931, acc 51.2%, 143 img/s" */
  describe(now: number = Date.now()): string {
    if (this.images === 0) return '';
    const parts = [`loss ${(this.lossSum / this.images).toFixed(4)}`];
    if (this.withAccuracy) parts.push(`acc ${((100 * this.correct) / this.images).toFixed(1)}%`);
    const seconds = (now - this.started) / 1000;
    if (seconds > 0) parts.push(`${(this.images / seconds).toFixed(this.images / seconds < 10 ? 1 : 0)} img/s`);
    return parts.join(', ');
  }
}
