import type { Tensor } from '../tensor.js';

/** Layers of a sequential network. `name` is the torchvision module path (e.g. `features.0`). */
export interface Conv2dLayer {
  readonly kind: 'conv2d';
  readonly name: string;
  /** Human label as in the paper: conv1_1, conv2_1, … */
  readonly label: string;
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly stride: number;
  readonly padding: number;
}
export interface LinearLayer {
  readonly kind: 'linear';
  readonly name: string;
  /** fc1, fc2, … */
  readonly label: string;
  readonly weight: Tensor;
  readonly bias: Tensor;
}
export interface ReluLayer {
  readonly kind: 'relu';
  readonly name: string;
}
export interface MaxPoolLayer {
  readonly kind: 'maxpool';
  readonly name: string;
  readonly kernel: number;
  readonly stride: number;
}
export interface FlattenLayer {
  readonly kind: 'flatten';
  readonly name: string;
}
/** Identity at inference; kept so that torchvision indices line up. */
export interface DropoutLayer {
  readonly kind: 'dropout';
  readonly name: string;
  readonly p: number;
}

export type Layer = Conv2dLayer | LinearLayer | ReluLayer | MaxPoolLayer | FlattenLayer | DropoutLayer;
export type ParamLayer = Conv2dLayer | LinearLayer;

export function isParamLayer(l: Layer): l is ParamLayer {
  return l.kind === 'conv2d' || l.kind === 'linear';
}
