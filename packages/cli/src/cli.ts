/**
 * The `lrpseg` command line. `run(argv)` parses and executes one command and resolves to the exit
 * status (0 success, 1 failure, 2 usage error); it never calls process.exit, so tests run it in-process.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { HEATMAP_TTAS, LrpsegError, type HeatmapTta } from '@lrpseg/core';
import { TTA_HELP } from './rule-sets.js';
import { intArg, collect, parseSizeText } from './args.js';
import { BACKEND_NAMES, type BackendName } from './backends.js';
import { CliError, EXIT_FAILURE, EXIT_USAGE, isErrno, oneLine } from './errors.js';
import { processIo, type CliIo } from './io.js';
import { ARCH_CHOICES, type ArchChoice } from './model.js';
import { explainCommand, type OutputFormat } from './commands/explain.js';
import { infoCommand } from './commands/info.js';
import { benchCommand } from './commands/bench.js';
import { makeModelCommand } from './commands/make-model.js';
import { convertCommand } from './commands/convert.js';
import { dataCommand } from './commands/data.js';
import { registerSegment } from './commands/segment.js';
import { registerEval } from './commands/eval.js';
import { registerTrain } from './commands/train.js';
import { registerReproduce } from './commands/reproduce.js';
import { registerCalibrate } from './commands/calibrate.js';
import { registerPool } from './commands/pool.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const RULES_HELP =
  "composite: 'montavon', 'ours', or one rule per parameter layer in forward order, comma-separated " +
  '(zero, epsilon[:E], gamma[:G], alphabeta[:A:B], zbox; zbox first layer only)';

interface CommonFlags {
  quiet?: boolean;
  debug?: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .option('-q, --quiet', 'no progress or summary on stderr (errors are still reported)')
    .option('--debug', 'print stack traces of unexpected errors');
}

function deviceOption(): Option {
  return new Option('--device <n>', 'GPU index for the cuda backend (default 0)').argParser(intArg(0, 1023));
}

function threadsOption(): Option {
  return new Option('--threads <n>', 'CPU backend worker threads (default: LRPSEG_THREADS, else the backend chooses)').argParser(intArg(1, 1024));
}

/** Builds the program; `setResult` receives the exit status of the command that ran. */
function buildProgram(io: CliIo, setResult: (code: number) => void): Command {
  const program = new Command();
  program
    .name('lrpseg')
    .description('Weakly supervised segmentation from LRP explanations of a VGG classifier.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: (s, write) => write(`lrpseg: ${oneLine(s.replace(/^error:\s*/i, ''))}\n`),
    });

  common(
    program
      .command('explain')
      .summary('LRP heatmaps of images or a .npy batch')
      .description(
        'LRP heatmaps of a .npy batch (float32/float64/uint8 (N, C, H, W), C = the model\'s channels or 1) ' +
          'or of image files and folders (.jpg/.jpeg/.png; folders are not searched recursively). Images are ' +
          'prepared as in the paper: scaled up if smaller than the input size, then center-cropped.\n\n' +
          'Output: --out R.npy writes float32 (N, H, W) (for images: one row per processed image, in input ' +
          'order); --out DIR writes <stem>.png colour maps (red positive, blue negative) and/or <stem>.npy; ' +
          '--out FILE.png for a single image.',
      )
      .argument('[inputs...]', 'image files, folders, or one .npy (same as --input)')
      .requiredOption('--model <file>', 'model (.safetensors)')
      .option('-i, --input <path>', 'input .npy, image file or folder (repeatable)', collect)
      .requiredOption('--rules <spec>', RULES_HELP)
      .option('--target <class>', 'class to explain: index or name', '1')
      .addOption(new Option('--pool <rule>', 'max-pool relevance rule').choices(['wta', 'avg']).default('wta'))
      .addOption(new Option('--tta <how>', TTA_HELP).choices([...HEATMAP_TTAS]).default('none'))
      .addOption(new Option('--backend <name>', 'compute backend').choices([...BACKEND_NAMES]).default('cpu'))
      .addOption(threadsOption())
      .addOption(deviceOption())
      .option('--batch-size <n>', 'images per batch', intArg(1, 65536), 8)
      .requiredOption('-o, --out <path>', 'R.npy, a folder, or FILE.png')
      .addOption(new Option('--format <fmt>', 'what to write into an output folder (default png)').choices(['png', 'npy', 'both']))
      .option('--fail-fast', 'stop at the first bad input'),
  ).action(async (positional: string[], opts: Record<string, unknown> & CommonFlags) => {
    setResult(
      await explainCommand(
        {
          model: opts.model as string,
          inputs: [...((opts.input as string[] | undefined) ?? []), ...positional],
          rules: opts.rules as string,
          target: opts.target as string,
          pool: opts.pool as 'wta' | 'avg',
          tta: opts.tta as HeatmapTta,
          backend: opts.backend as BackendName,
          ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
          ...(opts.device !== undefined ? { device: opts.device as number } : {}),
          batchSize: opts.batchSize as number,
          out: opts.out as string,
          ...(opts.format !== undefined ? { format: opts.format as OutputFormat } : {}),
          failFast: Boolean(opts.failFast),
          quiet: Boolean(opts.quiet),
        },
        io,
      ),
    );
  });

  common(
    program
      .command('info')
      .summary('describe a model file and the rules of each composite')
      .description('Architecture, input, normalisation, classes, parameter count, and the parameter layers with the LRP rule each composite assigns.')
      .argument('<model>', 'model (.safetensors)')
      .option('--rules <spec>', `also show this composite (${RULES_HELP})`)
      .option('--json', 'print JSON instead of a table'),
  ).action(async (model: string, opts: { rules?: string; json?: boolean }) => {
    setResult(await infoCommand({ model, ...(opts.rules !== undefined ? { rules: opts.rules } : {}), json: Boolean(opts.json) }, io));
  });

  common(
    program
      .command('bench')
      .summary('time forward and LRP per backend')
      .description(
        'Times the forward pass and LRP with the montavon and ours composites on a seeded random batch, ' +
          'per backend; unavailable backends are listed with the reason.',
      )
      .option('--model <file>', 'model to time (.safetensors)')
      .addOption(new Option('--arch <arch>', 'time a seeded random model of this architecture instead').choices([...ARCH_CHOICES]))
      .option('--size <n>', 'input size for --arch: N or HxW (default 224)', parseSizeText)
      .option('--width-divisor <d>', 'divide the conv widths (for --arch)', intArg(1, 512), 1)
      .option('--seed <n>', 'seed of the random model and batch', intArg(0, 2 ** 32 - 1), 0)
      .option('--batch-size <n>', 'images per batch', intArg(1, 65536), 1)
      .option('--iters <n>', 'timed iterations', intArg(1, 100000), 3)
      .option('--warmup <n>', 'untimed iterations first', intArg(0, 100000), 1)
      .addOption(new Option('--pool <rule>', 'max-pool relevance rule').choices(['wta', 'avg']).default('wta'))
      .addOption(new Option('--backend <name>', "backend, or 'all'").choices([...BACKEND_NAMES, 'all']).default('cpu'))
      .addOption(threadsOption())
      .addOption(deviceOption())
      .option('--train', 'also time a training step (forward, backward, SGD with momentum)')
      .option('--json <file>', 'also write the results as JSON'),
  ).action(async (opts: Record<string, unknown> & CommonFlags) => {
    setResult(
      await benchCommand(
        {
          ...(opts.model !== undefined ? { model: opts.model as string } : {}),
          ...(opts.arch !== undefined ? { arch: opts.arch as ArchChoice } : {}),
          ...(opts.size !== undefined ? { size: opts.size as [number, number] } : {}),
          widthDivisor: opts.widthDivisor as number,
          seed: opts.seed as number,
          batchSize: opts.batchSize as number,
          iters: opts.iters as number,
          warmup: opts.warmup as number,
          pool: opts.pool as 'wta' | 'avg',
          backend: opts.backend as BackendName | 'all',
          ...(opts.threads !== undefined ? { threads: opts.threads as number } : {}),
          ...(opts.device !== undefined ? { device: opts.device as number } : {}),
          train: Boolean(opts.train),
          ...(opts.json !== undefined ? { json: opts.json as string } : {}),
          quiet: Boolean(opts.quiet),
        },
        io,
      ),
    );
  });

  common(
    program
      .command('make-model')
      .summary('write a seeded, randomly initialised VGG-11')
      .description('Writes a deterministic random-init model (torchvision\'s VGG initialisation, seeded): the same bytes for the same options on every machine.')
      .addOption(new Option('--arch <arch>', 'architecture').choices([...ARCH_CHOICES]).makeOptionMandatory())
      .option('--seed <n>', 'random seed', intArg(0, 2 ** 32 - 1), 0)
      .option('--width-divisor <d>', 'divide the conv widths (small models for tests)', intArg(1, 512), 1)
      .option('--size <hw...>', 'input size: H W, N, or HxW (default 224 224)')
      .option('--classes <names>', 'comma-separated class names (default defect-free,defect)')
      .requiredOption('-o, --out <file>', 'output .safetensors')
      .addOption(new Option('--dtype <dtype>', 'stored precision').choices(['F32', 'F16']).default('F32')),
  ).action(async (opts: Record<string, unknown> & CommonFlags) => {
    setResult(
      await makeModelCommand(
        {
          arch: opts.arch as ArchChoice,
          seed: opts.seed as number,
          widthDivisor: opts.widthDivisor as number,
          size: parseMakeModelSize(opts.size as string[] | undefined),
          ...(opts.classes !== undefined ? { classes: (opts.classes as string).split(',').map((s) => s.trim()) } : {}),
          out: opts.out as string,
          dtype: opts.dtype as 'F32' | 'F16',
          quiet: Boolean(opts.quiet),
        },
        io,
      ),
    );
  });

  common(
    program
      .command('convert')
      .summary('rewrite a model file at another precision')
      .description('Writes the model (metadata, tensor names and shapes unchanged) with its values stored as F32 or F16 (rounded to nearest): F16 halves a model to ship.')
      .argument('<model>', 'model .safetensors')
      .requiredOption('-o, --out <file>', 'output .safetensors')
      .addOption(new Option('--dtype <dtype>', 'stored precision').choices(['F32', 'F16']).default('F16')),
  ).action(async (model: string, opts: Record<string, unknown> & CommonFlags) => {
    setResult(await convertCommand({ input: model, out: opts.out as string, dtype: opts.dtype as 'F32' | 'F16', quiet: Boolean(opts.quiet) }, io));
  });

  program.addCommand(dataCommand(io, setResult));
  registerSegment(program, io, setResult);
  registerEval(program, io, setResult);
  registerTrain(program, io, setResult);
  registerCalibrate(program, io, setResult);
  registerPool(program, io, setResult);
  registerReproduce(program, io, setResult);

  return program;
}

function parseMakeModelSize(v: string[] | undefined): [number, number] {
  if (v === undefined) return [224, 224];
  const bad = (): never => {
    throw new CliError(`--size: expected H W, N or HxW (got "${v.join(' ')}")`, EXIT_USAGE);
  };
  let size: [number, number];
  if (v.length === 1) {
    try {
      size = parseSizeText(v[0]);
    } catch {
      return bad();
    }
  } else if (v.length === 2 && v.every((s) => /^\s*\d+\s*$/.test(s))) {
    size = [Number(v[0]), Number(v[1])];
  } else {
    return bad();
  }
  return size;
}

export interface RunOptions {
  readonly io?: Partial<CliIo>;
}

/** Runs one `lrpseg` command; resolves to its exit status. */
export async function run(argv: readonly string[], opts: RunOptions = {}): Promise<number> {
  const io: CliIo = { ...processIo(), ...opts.io };
  const debug = argv.includes('--debug');
  let result = 0;
  const program = buildProgram(io, (code) => {
    result = code;
  });
  if (argv.length === 0) {
    io.stderr(program.helpInformation());
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return result;
  } catch (e) {
    return reportError(e, io, debug);
  }
}

/** Maps an error to one stderr line and an exit status. */
export function reportError(e: unknown, io: CliIo, debug: boolean): number {
  const stack = (): void => {
    if (debug && e instanceof Error && e.stack) io.stderr(`${e.stack}\n`);
  };
  if (e instanceof CommanderError) {
    // commander has already printed its message (or the help/version text)
    return e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  if (e instanceof CliError) {
    io.stderr(`lrpseg: ${oneLine(e.message)}\n`);
    stack();
    return e.exitCode;
  }
  if (e instanceof LrpsegError) {
    io.stderr(`lrpseg: ${oneLine(e.message)}\n`);
    stack();
    return EXIT_FAILURE;
  }
  if (isErrno(e)) {
    io.stderr(`lrpseg: ${oneLine(e.message)}\n`);
    stack();
    return EXIT_FAILURE;
  }
  const msg = e instanceof Error ? e.message : String(e);
  if (debug) {
    io.stderr(`lrpseg: internal error: ${oneLine(msg)}\n`);
    stack();
  } else {
    io.stderr(`lrpseg: internal error: ${oneLine(msg)} (rerun with --debug for the stack trace)\n`);
  }
  return EXIT_FAILURE;
}
