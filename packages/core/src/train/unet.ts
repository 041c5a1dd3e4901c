/** Supervised U-Net training: per-pixel binary cross-entropy with logits against the masks. */
import { scope, type Tensor } from '../tensor.js';
import type { UNet } from '../nn/unet.js';
import { Tape } from './tape.js';
import { Optimizer, type OptimizerConfig } from './optimizer.js';

export function createUNetOptimizer(unet: UNet, config: OptimizerConfig, lr = 1e-3): Optimizer {
  return new Optimizer(unet.backend, [{ name: 'unet', lr, params: [...unet.params].map(([name, tensor]) => ({ name, tensor })) }], config);
}

/** One step; `masks` (N, 1, H, W) holds 0/1 targets. `posWeight` up-weights the rare damage pixels. */
export function trainUNetStep(unet: UNet, optimizer: Optimizer, x: Tensor, masks: Tensor, opts: { posWeight?: number; lrScale?: number } = {}): { loss: Tensor } {
  const params = [...unet.params.values()];
  return scope(() => {
    const tape = new Tape(unet.backend, params);
    const logits = unet.forward(x, tape);
    const { loss, dLogits } = unet.backend.bceWithLogits(logits, masks, opts.posWeight);
    optimizer.apply(tape.backward(logits, dLogits, params), opts.lrScale ?? 1);
    return { loss };
  });
}
