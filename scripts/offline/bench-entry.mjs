// `lrpseg bench` alone, for the offline bundle (lrpseg/bench.mjs): the same benchCommand as the CLI, with
// the same flags, but without the other commands, whose image, font and report dependencies need files
// that are not carried to the GPU machine. Exit status as the CLI's (0 ok, 1 no backend ran, 2 usage).
import { parseArgs } from 'node:util';
import { benchCommand } from '../../packages/cli/dist/commands/bench.js';
import { processIo } from '../../packages/cli/dist/io.js';
import { UsageError, oneLine } from '../../packages/cli/dist/errors.js';

const io = processIo();
const int = (name, v) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    io.stderr(`lrpseg: bench: --${name} must be a non-negative integer, not "${v}"\n`);
    process.exit(2);
  }
  return n;
};
let values;
try {
  ({ values } = parseArgs({
    options: {
      model: { type: 'string' }, arch: { type: 'string' }, size: { type: 'string' }, 'width-divisor': { type: 'string' },
      seed: { type: 'string' }, 'batch-size': { type: 'string' }, iters: { type: 'string' }, warmup: { type: 'string' },
      pool: { type: 'string' }, backend: { type: 'string' }, threads: { type: 'string' }, device: { type: 'string' },
      train: { type: 'boolean' }, json: { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
    },
  }));
} catch (e) {
  io.stderr(`lrpseg: bench: ${e.message}\n`);
  process.exit(2);
}
const size = values.size === undefined ? undefined : values.size.split('x').map((s) => int('size', s));
try {
  const code = await benchCommand(
    {
      ...(values.model !== undefined ? { model: values.model } : {}),
      ...(values.arch !== undefined ? { arch: values.arch } : {}),
      ...(size ? { size: size.length === 1 ? [size[0], size[0]] : [size[0], size[1]] } : {}),
      widthDivisor: values['width-divisor'] !== undefined ? int('width-divisor', values['width-divisor']) : 1,
      seed: values.seed !== undefined ? int('seed', values.seed) : 0,
      batchSize: values['batch-size'] !== undefined ? int('batch-size', values['batch-size']) : 1,
      iters: values.iters !== undefined ? int('iters', values.iters) : 3,
      warmup: values.warmup !== undefined ? int('warmup', values.warmup) : 1,
      pool: values.pool ?? 'wta',
      backend: values.backend ?? 'cpu',
      ...(values.threads !== undefined ? { threads: int('threads', values.threads) } : {}),
      ...(values.device !== undefined ? { device: int('device', values.device) } : {}),
      train: Boolean(values.train),
      ...(values.json !== undefined ? { json: values.json } : {}),
      quiet: Boolean(values.quiet),
    },
    io,
  );
  process.exit(code);
} catch (e) {
  // as the CLI reports errors: one line, exit 2 for usage errors, 1 otherwise
  io.stderr(`lrpseg: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
  if (process.env.LRPSEG_DEBUG === '1' && e instanceof Error) io.stderr(`${e.stack}\n`);
  process.exit(e instanceof UsageError ? 2 : 1);
}
