/**
 * `lrpseg convert`: a model file rewritten at another stored precision (F16 halves a model to ship, as
 * the bundled default is). The metadata and every tensor's name and shape are kept; values are rounded
 * to the nearest F16 (loading widens them back to float32).
 */
import { CpuBackend, saveModel } from '@lrpseg/core';
import { fmtInt, writeFileAtomic, type CliIo } from '../io.js';
import { openModel, variantName } from '../model.js';
import { UsageError } from '../errors.js';
import * as path from 'node:path';

export interface ConvertOptions {
  readonly input: string;
  readonly out: string;
  readonly dtype: 'F32' | 'F16';
  readonly quiet: boolean;
}

export async function convertCommand(o: ConvertOptions, io: CliIo): Promise<number> {
  if (path.resolve(o.input) === path.resolve(o.out)) throw new UsageError('convert: --out must differ from the input file');
  const model = await openModel(new CpuBackend(), o.input);
  try {
    const bytes = await saveModel(model, { dtype: o.dtype });
    await writeFileAtomic(o.out, bytes);
    if (!o.quiet) io.stdout(`${o.out}: ${variantName(model.meta)}, ${fmtInt(model.parameterCount())} parameters, ${o.dtype}, ${fmtInt(bytes.length)} bytes\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
