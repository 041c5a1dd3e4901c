/**
 * Loader worker thread: prepares the samples the main thread asks for and sends them back with their
 * buffers transferred (no copy).
 */
import { parentPort } from 'node:worker_threads';
import { loadSample, type SampleTask } from './load-sample.js';

interface Request {
  readonly id: number;
  readonly task: SampleTask;
}

const port = parentPort;
if (port) {
  port.on('message', (msg: Request) => {
    loadSample(msg.task).then(
      (s) => port.postMessage({ id: msg.id, data: s.data, mask: s.mask, maskHasDefect: s.maskHasDefect }, [s.data.buffer as ArrayBuffer, s.mask.buffer as ArrayBuffer]),
      (e: unknown) => {
        const err = e as { message?: string; code?: string };
        port.postMessage({ id: msg.id, error: err?.message ?? String(e), code: err?.code });
      },
    );
  });
}
