// Relevance ops of the CPU backend (LRP.md). Written by the LRP work; see lrp/.
import type { Conv2dParams, Pool2dParams } from '../backend.js';
import type { PoolRule, Rule } from '../lrp/rule.js';
import type { CpuTensor } from './tensor.js';
import { LrpsegError } from '../errors.js';

export function lrpConv2dCpu(
  _a: CpuTensor, _r: CpuTensor, _w: CpuTensor, _b: CpuTensor | null, _p: Conv2dParams, _rule: Rule, _z?: CpuTensor,
): Float32Array {
  throw new LrpsegError('NOT_IMPLEMENTED', 'lrpConv2d: not yet');
}
export function lrpLinearCpu(_a: CpuTensor, _r: CpuTensor, _w: CpuTensor, _b: CpuTensor | null, _rule: Rule, _z?: CpuTensor): Float32Array {
  throw new LrpsegError('NOT_IMPLEMENTED', 'lrpLinear: not yet');
}
export function lrpMaxPool2dCpu(_a: CpuTensor, _r: CpuTensor, _p: Pool2dParams, _rule: PoolRule): Float32Array {
  throw new LrpsegError('NOT_IMPLEMENTED', 'lrpMaxPool2d: not yet');
}
