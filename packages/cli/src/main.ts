#!/usr/bin/env node
import { run } from './cli.js';

// A closed pipe (`lrpseg info m | head`) is not an error.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw e;
});

const code = await run(process.argv.slice(2));
process.exitCode = code;
// Never hang: if a backend left a handle open, leave anyway once the output is flushed.
setTimeout(() => process.exit(code), 2000).unref();
