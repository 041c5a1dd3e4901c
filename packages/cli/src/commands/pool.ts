/**
 * `lrpseg pool REPORT...`: the figures of several `lrpseg eval` reports on disjoint test sets (the folds
 * of `lrpseg data split --folds K`) pooled into one, with intervals over all their units and paired
 * differences between the models each fold evaluated side by side (report/pool.ts).
 */
import { readFile, stat } from 'node:fs/promises';
import * as path from 'node:path';
import type { Command } from 'commander';
import { LrpsegError } from '@lrpseg/core';
import type { EvalReport } from './eval.js';
import { poolReports, pooledMarkdown } from '../report/pool.js';
import { writeFileAtomic, type CliIo } from '../io.js';

export interface PoolOptions {
  /** metrics.json files, or report folders holding one. */
  readonly reports: readonly string[];
  readonly out?: string;
  readonly quiet: boolean;
}

async function readReport(p: string): Promise<{ name: string; report: EvalReport }> {
  let file = p;
  try {
    if ((await stat(p)).isDirectory()) file = path.join(p, 'metrics.json');
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${p}: no such file or folder`, { cause: e });
  }
  let report: EvalReport;
  try {
    report = JSON.parse(await readFile(file, 'utf8')) as EvalReport;
  } catch (e) {
    throw new LrpsegError('BAD_INPUT', `${file}: cannot read an eval report (${(e as Error).message})`, { cause: e });
  }
  return { name: file, report };
}

export async function poolCommand(o: PoolOptions, io: CliIo): Promise<number> {
  const reports = [];
  for (const r of o.reports) reports.push(await readReport(r));
  const pooled = poolReports(reports);
  const md = pooledMarkdown(pooled);
  if (o.out !== undefined) {
    await writeFileAtomic(path.join(o.out, 'pooled.json'), new TextEncoder().encode(`${JSON.stringify(pooled, null, 1)}\n`));
    await writeFileAtomic(path.join(o.out, 'pooled.md'), new TextEncoder().encode(md));
  }
  if (!o.quiet) io.stdout(md);
  return 0;
}

export function registerPool(program: Command, io: CliIo, setResult: (code: number) => void): void {
  program
    .command('pool')
    .summary('pool eval reports of disjoint test sets (k-fold)')
    .description(
      'Pools lrpseg eval reports whose test sets are disjoint — one per fold of lrpseg data split --folds K, each fold\'s models ' +
        'evaluated on that fold\'s test subset — into one set of figures: decision and pixel counts summed, 95 % bootstrap intervals ' +
        'over the groups (or images) of every fold together, and, where each report evaluated several --model side by side ' +
        '(classifiers are matched by position), the paired differences of each against the first. Prints the tables; ' +
        'with --out writes DIR/pooled.json and DIR/pooled.md. Refuses reports that test the same group twice.',
    )
    .argument('<reports...>', 'eval reports: metrics.json files or the folders holding them (two or more)')
    .option('-o, --out <dir>', 'write pooled.json and pooled.md here')
    .option('-q, --quiet', 'print nothing (with --out)')
    .option('--debug', 'print stack traces of unexpected errors')
    .action(async (reports: string[], opts: Record<string, unknown>) => {
      setResult(await poolCommand({ reports, ...(opts.out !== undefined ? { out: opts.out as string } : {}), quiet: Boolean(opts.quiet) }, io));
    });
}
