export { run, reportError, type RunOptions } from './cli.js';
export type { CliIo } from './io.js';
export { createBackend, backendAvailability, BACKEND_NAMES, type BackendName, type BackendAvailability } from './backends.js';
export { describeModel, formatModelInfo, type ModelInfo, type LayerInfo } from './commands/info.js';
export type { BenchReport } from './commands/bench.js';
