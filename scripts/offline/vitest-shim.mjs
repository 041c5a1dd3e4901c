// A minimal stand-in for the parts of vitest that @lrpseg/core/testing uses (describe/it/hooks/expect),
// so that the offline bundle can run the shared conformance suites on a machine without a registry.
// Suites run in order; each test gets the hooks of its enclosing describes. run() prints failures and
// one closing line "N passed, M failed, K skipped".
import { inspect } from 'node:util';

const root = { name: '', children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] };
let current = root;
let currentTestName = '';

function suite(name, fn, skip) {
  const s = { name, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [], skip, parent: current };
  current.children.push(s);
  const prev = current;
  current = s;
  try {
    fn();
  } finally {
    current = prev;
  }
}

export function describe(name, fn) { suite(name, fn, false); }
describe.skip = (name, fn) => suite(name, fn, true);
describe.runIf = (cond) => (cond ? describe : describe.skip);
describe.skipIf = (cond) => (cond ? describe.skip : describe);

export function it(name, fn) { current.children.push({ name, fn, skip: false }); }
it.skip = (name, fn) => current.children.push({ name, fn, skip: true });
it.runIf = (cond) => (cond ? it : it.skip);
it.skipIf = (cond) => (cond ? it.skip : it);
export const test = it;

export const beforeAll = (fn) => current.beforeAll.push(fn);
export const afterAll = (fn) => current.afterAll.push(fn);
export const beforeEach = (fn) => current.beforeEach.push(fn);
export const afterEach = (fn) => current.afterEach.push(fn);

class AssertionError extends Error {}

function deepEqual(a, b) {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a), kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => deepEqual(a[k], b[k]));
}

function matchers(actual, message, negate) {
  const check = (ok, what) => {
    if (ok === negate) throw new AssertionError(`${message ? message + ': ' : ''}expected ${inspect(actual, { depth: 2, maxArrayLength: 20 })} ${negate ? 'not ' : ''}${what}`);
  };
  return {
    toBe: (v) => check(Object.is(actual, v), `to be ${inspect(v)}`),
    toEqual: (v) => check(deepEqual(actual, v), `to equal ${inspect(v, { depth: 2, maxArrayLength: 20 })}`),
    toBeLessThan: (v) => check(actual < v, `to be < ${v}`),
    toBeLessThanOrEqual: (v) => check(actual <= v, `to be <= ${v}`),
    toBeGreaterThan: (v) => check(actual > v, `to be > ${v}`),
    toBeNull: () => check(actual === null, 'to be null'),
    toBeInstanceOf: (c) => check(actual instanceof c, `to be an instance of ${c.name}`),
    toContain: (v) => check(actual != null && actual.includes(v), `to contain ${inspect(v)}`),
    toMatch: (re) => check(typeof actual === 'string' && (typeof re === 'string' ? actual.includes(re) : re.test(actual)), `to match ${re}`),
    toThrow: (pattern) => {
      let thrown;
      try {
        actual();
      } catch (e) {
        thrown = e ?? new Error('undefined thrown');
      }
      const msg = thrown instanceof Error ? thrown.message : String(thrown);
      const ok = thrown !== undefined && (pattern === undefined || (typeof pattern === 'string' ? msg.includes(pattern) : pattern.test(msg)));
      check(ok, `to throw ${pattern ?? ''} (threw: ${thrown === undefined ? 'nothing' : msg})`);
    },
  };
}

export function expect(actual, message) {
  const m = matchers(actual, message, false);
  m.not = matchers(actual, message, true);
  return m;
}
expect.getState = () => ({ currentTestName });

const withTimeout = (p, ms, what) =>
  Promise.race([p, new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: timed out after ${ms / 1000} s`)), ms).unref())]);

export async function run({ timeoutMs = 120000, log = (s) => process.stdout.write(s) } = {}) {
  const counts = { passed: 0, failed: 0, skipped: 0 };
  const failures = [];
  async function visit(s, path, eachBefore, eachAfter, skipped) {
    const skip = skipped || s.skip;
    const before = [...eachBefore, ...s.beforeEach];
    const after = [...s.afterEach, ...eachAfter];
    let setupError;
    if (!skip) {
      for (const h of s.beforeAll) {
        try {
          await withTimeout(Promise.resolve(h()), timeoutMs, 'beforeAll');
        } catch (e) {
          setupError = e;
          break;
        }
      }
    }
    const started = Date.now();
    const before0 = { ...counts };
    for (const c of s.children) {
      const names = c.name ? [...path, c.name] : path;
      if (c.children) {
        await visit(c, names, before, after, skip);
        continue;
      }
      if (skip || c.skip) {
        counts.skipped++;
        continue;
      }
      currentTestName = names.join(' > ');
      try {
        if (setupError) throw setupError;
        for (const h of before) await h();
        await withTimeout(Promise.resolve(c.fn()), timeoutMs, currentTestName);
        counts.passed++;
      } catch (e) {
        counts.failed++;
        failures.push(currentTestName);
        log(`  FAIL ${currentTestName}\n       ${e instanceof Error ? e.message.split('\n').slice(0, 3).join('\n       ') : String(e)}\n`);
      } finally {
        for (const h of after) {
          try {
            await h();
          } catch {
            /* reported by the test itself */
          }
        }
      }
    }
    if (!skip) for (const h of s.afterAll) await Promise.resolve(h()).catch(() => undefined);
    if (path.length === 1 && !skip) {
      const p = counts.passed - before0.passed, f = counts.failed - before0.failed;
      log(`${f ? '✗' : '✓'} ${path[0]}: ${p} passed, ${f} failed (${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
    }
  }
  await visit(root, [], [], [], false);
  log(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  return { ...counts, failures };
}
