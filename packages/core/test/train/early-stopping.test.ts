import { describe, expect, it } from 'vitest';
import { stopsEarly } from '../../src/train/early-stopping.js';

/** The 1-based number of epochs a run with this rule trains, given the epoch of each new best. */
function epochsRun(rule: Parameters<typeof stopsEarly>[0], bestAt: readonly number[], epochs: number): number {
  let best = -1;
  for (let e = 0; e < epochs; e++) {
    if (bestAt.includes(e)) best = e;
    if (stopsEarly(rule, e, best)) return e + 1;
  }
  return epochs;
}

describe('early stopping', () => {
  it('patience 0 never stops', () => {
    expect(epochsRun({ patience: 0 }, [0], 30)).toBe(30);
    expect(epochsRun({ patience: 0, minEpochs: 3 }, [0], 30)).toBe(30);
  });

  it('stops `patience` epochs after the last best', () => {
    expect(epochsRun({ patience: 3 }, [0], 28)).toBe(4);
    expect(epochsRun({ patience: 3 }, [0, 4, 6], 28)).toBe(4);
    expect(epochsRun({ patience: 3 }, [0, 2, 4], 28)).toBe(8);
    expect(epochsRun({ patience: 1 }, [0, 1, 2], 5)).toBe(4);
  });

  it('--min-epochs holds the stop back, then patience applies as before', () => {
    // a best at chance in epoch 1, the climb from epoch 5: patience 3 alone stops after epoch 4
    expect(epochsRun({ patience: 3, minEpochs: 8 }, [0, 4, 6, 9, 10], 28)).toBe(14);
    expect(epochsRun({ patience: 3, minEpochs: 8 }, [0], 28)).toBe(8);
    expect(epochsRun({ patience: 3, minEpochs: 2 }, [0], 28)).toBe(4);
    expect(epochsRun({ patience: 3, minEpochs: 40 }, [0], 28)).toBe(28);
  });
});
