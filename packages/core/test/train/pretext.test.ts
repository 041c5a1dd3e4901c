import { describe, expect, it } from 'vitest';
import { clearlyAboveChance } from '../../src/train/pretext.js';

describe('clearlyAboveChance', () => {
  it('needs more than two binomial standard errors above 1/k', () => {
    // k = 3, 171 samples (CutPaste at 64, 57 held-out images as each class): chance 1/3, 2 SE = 0.0721
    expect(clearlyAboveChance(57, 171, 3)).toBe(false); // a collapsed network: exactly chance
    expect(clearlyAboveChance(69, 171, 3)).toBe(false); // 0.4035 < 0.4054
    expect(clearlyAboveChance(70, 171, 3)).toBe(true); // 0.4094
    // k = 4, 320 samples (rotation at 224, 80 images as each turn): 50 % is far above 25 %
    expect(clearlyAboveChance(160, 320, 4)).toBe(true);
    expect(clearlyAboveChance(80, 320, 4)).toBe(false);
    // a handful of samples proves little: 4 of 6 over three classes is not enough
    expect(clearlyAboveChance(4, 6, 3)).toBe(false);
    expect(clearlyAboveChance(6, 6, 3)).toBe(true);
  });

  it('refuses counts that cannot be', () => {
    expect(() => clearlyAboveChance(7, 6, 3)).toThrow(RangeError);
    expect(() => clearlyAboveChance(1, 0, 3)).toThrow(RangeError);
    expect(() => clearlyAboveChance(1, 6, 1)).toThrow(RangeError);
    expect(() => clearlyAboveChance(-1, 6, 3)).toThrow(RangeError);
  });
});
