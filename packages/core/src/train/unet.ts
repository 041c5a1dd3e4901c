/** Supervised U-Net training: per-pixel binary cross-entropy with logits against the masks, optionally plus soft Dice. */
import { scope, type Tensor } from '../tensor.js';
import { softDiceWithLogits } from './loss.js';
import type { UNet } from '../nn/unet.js';
import { Tape } from './tape.js';
import { Optimizer, type OptimizerConfig } from './optimizer.js';

export function createUNetOptimizer(unet: UNet, config: OptimizerConfig, lr = 1e-3): Optimizer {
  return new Optimizer(unet.backend, [{ name: 'unet', lr, params: [...unet.params].map(([name, tensor]) => ({ name, tensor })) }], config);
}

export interface UNetStepOptions {
  /** BCE weight of the damage pixels (they are rare). */
  readonly posWeight?: number;
  /** Weight of the soft Dice loss added to the BCE (0 or absent: BCE alone). */
  readonly diceWeight?: number;
  readonly lrScale?: number;
}

/**
 * One step; `masks` (N, 1, H, W) holds 0/1 targets. Loss: BCE + diceWeight · soft Dice. The Dice term
 * needs per-image sums read back, which a tape cannot wait for, so it comes from a forward pass of its
 * own before the taped one (the same logits: the forward pass is deterministic); without it the step
 * is what it always was.
 */
export async function trainUNetStep(unet: UNet, optimizer: Optimizer, x: Tensor, masks: Tensor, opts: UNetStepOptions = {}): Promise<{ loss: Tensor }> {
  const params = [...unet.params.values()];
  const diceWeight = opts.diceWeight ?? 0;
  let dice: { loss: Tensor; dLogits: Tensor } | null = null;
  if (diceWeight > 0) {
    const logits = scope(() => unet.forward(x));
    try {
      dice = await softDiceWithLogits(unet.backend, logits, masks);
    } finally {
      logits.dispose();
    }
  }
  try {
    return scope(() => {
      const tape = new Tape(unet.backend, params);
      const logits = unet.forward(x, tape);
      const bce = unet.backend.bceWithLogits(logits, masks, opts.posWeight);
      const b = unet.backend;
      const loss = dice ? b.add(bce.loss, b.scale(dice.loss, diceWeight)) : bce.loss;
      const dLogits = dice ? b.add(bce.dLogits, b.scale(dice.dLogits, diceWeight)) : bce.dLogits;
      optimizer.apply(tape.backward(logits, dLogits, params), opts.lrScale ?? 1);
      return { loss };
    });
  } finally {
    dice?.loss.dispose();
    dice?.dLogits.dispose();
  }
}
