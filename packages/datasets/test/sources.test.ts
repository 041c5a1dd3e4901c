import { createServer, type Server } from 'node:http';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LrpsegError } from '@lrpseg/core';
import { downloadFile, encodePngGrey, extractZip, indexMagneticTile, resolveDatasetSource, scanDataset, unsafeEntryReason } from '../src/index.js';
import { HAVE_MT, MT_DIR } from './shared.js';

const dir = mkdtempSync(path.join(tmpdir(), 'lrpseg-src-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const PICK: Record<string, string[]> = {
  Crack: ['exp1_num_3191', 'exp4_num_85602', 'exp4_num_85998'],
  Free: ['exp1_num_106151', 'exp2_num_106169', 'exp0_num_743', 'exp3_num_913'],
};

/** A small copy of the data set in the authors' layout. */
function miniDataset(into: string): void {
  for (const [cls, stems] of Object.entries(PICK)) {
    const d = path.join(into, `MT_${cls}`, 'Imgs');
    mkdirSync(d, { recursive: true });
    for (const s of stems) for (const ext of ['.jpg', '.png']) copyFileSync(path.join(MT_DIR, `MT_${cls}`, 'Imgs', s + ext), path.join(d, s + ext));
  }
}

/** The files of a folder as a zip, under a top-level folder as GitHub archives have it. */
function zipFolder(folder: string, top: string): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(path.join(d, e.name), `${rel}${e.name}/`);
      else files[`${top}/${rel}${e.name}`] = readFileSync(path.join(d, e.name));
    }
  };
  walk(folder, '');
  return zipSync(files, { level: 0 });
}

function listAll(d: string): string[] {
  if (!existsSync(d)) return [];
  return readdirSync(d, { recursive: true }).map(String).sort();
}

describe('archive entry paths', () => {
  it('refuses paths that could leave the target folder', () => {
    expect(unsafeEntryReason('MT_Crack/Imgs/a.jpg')).toBeNull();
    expect(unsafeEntryReason('top/')).toBeNull();
    for (const bad of ['../evil.txt', 'a/../../evil', '/etc/passwd', 'C:/x', 'a\\..\\b', 'a//b', './a', '']) {
      expect(unsafeEntryReason(bad), bad).not.toBeNull();
    }
  });

  it('an archive with a "../" entry is refused whole: nothing is written inside or outside the target', async () => {
    const zip = path.join(dir, 'evil.zip');
    writeFileSync(zip, zipSync({ 'ok/first.txt': new Uint8Array([1]), '../evil.txt': new Uint8Array([2]), 'ok/last.txt': new Uint8Array([3]) }));
    const parent = path.join(dir, 'evil-parent');
    const target = path.join(parent, 'target');
    mkdirSync(parent);
    const err = await extractZip(zip, target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LrpsegError);
    expect((err as Error).message).toContain('"../evil.txt"');
    expect((err as Error).message).toMatch(/outside the target folder/);
    expect(existsSync(path.join(parent, 'evil.txt'))).toBe(false);
    expect(existsSync(path.join(dir, 'evil.txt'))).toBe(false);
    expect(listAll(parent)).toEqual([]);

    const abs = path.join(dir, 'abs.zip');
    writeFileSync(abs, zipSync({ [path.join(dir, 'abs-escape.txt')]: new Uint8Array([1]) }));
    await expect(extractZip(abs, target)).rejects.toThrow(/absolute path/);
    expect(existsSync(path.join(dir, 'abs-escape.txt'))).toBe(false);

    writeFileSync(path.join(dir, 'not.zip'), 'plain text, not a zip');
    await expect(extractZip(path.join(dir, 'not.zip'), target)).rejects.toThrow(/not a readable \.zip/);
  });
});

describe.skipIf(!HAVE_MT)('Magnetic Tile from a folder, a .zip and a URL', () => {
  const folder = path.join(dir, 'mini');
  let zipBytes: Uint8Array;
  let server: Server;
  let base = '';
  beforeAll(async () => {
    miniDataset(folder);
    zipBytes = zipFolder(folder, 'Magnetic-tile-defect-datasets.-master');
    writeFileSync(path.join(dir, 'mt.zip'), zipBytes);
    server = createServer((req, res) => {
      if (req.url === '/mt.zip') {
        res.writeHead(200, { 'content-type': 'application/zip', 'content-length': zipBytes.length });
        // in pieces, so that progress is reported more than once
        let off = 0;
        const push = (): void => {
          if (off >= zipBytes.length) return void res.end();
          res.write(zipBytes.subarray(off, off + 65536));
          off += 65536;
          setImmediate(push);
        };
        push();
      } else {
        res.writeHead(404).end('not found');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('reads the folder and the same data from a .zip (extracted once, then reused)', async () => {
    const fromFolder = await indexMagneticTile(folder);
    expect(fromFolder.entries.map((e) => e.image)).toHaveLength(7);
    const cacheDir = path.join(dir, 'cache-zip');
    const extracted = await resolveDatasetSource(path.join(dir, 'mt.zip'), { cacheDir });
    const fromZip = await indexMagneticTile(extracted);
    expect(fromZip.entries).toEqual(fromFolder.entries);
    expect(fromZip.root).toBe(path.join(extracted, 'Magnetic-tile-defect-datasets.-master'));
    expect(readFileSync(path.join(fromZip.root, fromZip.entries[0].image))).toEqual(readFileSync(path.join(folder, fromZip.entries[0].image)));
    expect(await resolveDatasetSource(path.join(dir, 'mt.zip'), { cacheDir })).toBe(extracted);
    expect(listAll(extracted).some((p) => p.includes('.partial'))).toBe(false);
  });

  it('downloads from a URL with progress and checksum, then extracts', async () => {
    const sha = createHash('sha256').update(zipBytes).digest('hex');
    const cacheDir = path.join(dir, 'cache-url');
    const seen: [string, number, number | undefined][] = [];
    const root = await resolveDatasetSource(`${base}/mt.zip`, { cacheDir, sha256: sha, onProgress: (p, d, t) => seen.push([p, d, t]) });
    const idx = await indexMagneticTile(root);
    expect(idx.entries).toHaveLength(7);
    const downloads = seen.filter((s) => s[0] === 'download');
    expect(downloads.length).toBeGreaterThan(1);
    expect(downloads.at(-1)).toEqual(['download', zipBytes.length, zipBytes.length]);
    expect(seen.some((s) => s[0] === 'extract')).toBe(true);
  });

  it('a wrong checksum, a 404 and a refused connection are clear errors that leave no file behind', async () => {
    const dest = path.join(dir, 'dl', 'x.zip');
    await expect(downloadFile(`${base}/mt.zip`, dest, { sha256: '0'.repeat(64) })).rejects.toThrow(/checksum mismatch \(expected SHA-256 0{64}, got [0-9a-f]{64}\)/);
    await expect(downloadFile(`${base}/missing.zip`, dest)).rejects.toThrow(/HTTP 404/);
    await expect(downloadFile('http://127.0.0.1:9/none.zip', dest)).rejects.toThrow(/127\.0\.0\.1:9\/none\.zip: download failed/);
    await expect(downloadFile(`${base}/mt.zip`, dest, { sha256: 'xyz' })).rejects.toThrow(/64 hexadecimal digits/);
    expect(listAll(path.join(dir, 'dl'))).toEqual([]);
  });
});

describe.skipIf(!HAVE_MT)('bad inputs are reported by name', () => {
  it('a truncated JPEG, an image without a mask, a mask of the wrong size', async () => {
    const root = path.join(dir, 'bad');
    miniDataset(root);
    const imgs = path.join(root, 'MT_Crack', 'Imgs');
    const jpg = readFileSync(path.join(imgs, 'exp1_num_3191.jpg'));
    writeFileSync(path.join(imgs, 'exp1_num_3191.jpg'), jpg.subarray(0, jpg.length >> 1));
    rmSync(path.join(imgs, 'exp4_num_85602.png'));
    writeFileSync(path.join(imgs, 'exp4_num_85998.png'), encodePngGrey(new Uint8Array(120), 10, 12));
    const index = await indexMagneticTile(root);
    expect(index.problems).toEqual(['MT_Crack/Imgs/exp4_num_85602.jpg: no mask (expected MT_Crack/Imgs/exp4_num_85602.png)']);
    const scan = await scanDataset(index, { features: true });
    expect(scan.scans.map((s) => s.entry.image.split('/').pop())).toEqual(['exp0_num_743.jpg', 'exp1_num_106151.jpg', 'exp2_num_106169.jpg', 'exp3_num_913.jpg']);
    expect(scan.problems).toHaveLength(3);
    expect(scan.problems[1]).toMatch(/exp1_num_3191\.jpg: corrupt or truncated JPEG/);
    expect(scan.problems[2]).toMatch(/exp4_num_85998\.png: mask of 10×12 does not match its image MT_Crack\/Imgs\/exp4_num_85998\.jpg of \d+×\d+/);
  });
});
