import { describe, expect, it } from 'vitest';
import { StepMeter } from '../src/step-meter.js';

describe('StepMeter', () => {
  it('shows the mean loss and accuracy over the images so far and images per second since the epoch began', () => {
    const m = new StepMeter(1000);
    expect(m.describe(1000)).toBe('');
    m.add(0.7, 32, 0.5);
    m.add(0.5, 32, 0.75);
    // (0.7·32 + 0.5·32) / 64, (16 + 24) / 64, 64 images in 0.5 s
    expect(m.describe(1500)).toBe('loss 0.6000, acc 62.5%, 128 img/s');
    expect(m.describe(20000)).toBe('loss 0.6000, acc 62.5%, 3.4 img/s');
  });

  it('leaves accuracy out where the steps have none (U-Net)', () => {
    const m = new StepMeter(0);
    m.add(0.25, 4);
    expect(m.describe(2000)).toBe('loss 0.2500, 2.0 img/s');
  });
});
