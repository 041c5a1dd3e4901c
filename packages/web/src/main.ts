/** The page: inputs and settings → one card per image (input, heatmap, mask overlay, verdict, timings). */
import { gemmSimdAvailable, loadModel, vggVariantName, type HeatmapTta, type Model, type PoolRule, type SegmentMethod } from '@lrpseg/core';
import type { PlanarImage } from '@lrpseg/datasets/browser';
import { chooseBackend, type ChosenBackend } from './backend.js';
import { decodeImageFile } from './decode.js';
import { analyse, type Analysis, type ExplainChoice } from './pipeline.js';
import { heatmapCanvas, inputCanvas, maskCanvas, overlayCanvas, pngDownloadLink } from './render.js';

const DEFAULT_MODEL_URL = './models/default.safetensors';
const SAMPLE_URL = './samples/synthetic-tile-blowhole.png';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const el = <K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

interface LoadedImage {
  readonly name: string;
  readonly image: PlanarImage;
  readonly decodeMs: number;
}

const images: LoadedImage[] = [];
let chosen: ChosenBackend;
let model: Model | undefined;
let modelLabel = '';
let generation = 0;

function setStatus(text: string, cpu = false): void {
  const s = $('status');
  s.textContent = text;
  s.classList.toggle('cpu', cpu);
}

function backendLine(): string {
  return chosen.kind === 'webgpu' ? `Backend: WebGPU (${chosen.detail}).` : `Backend: CPU, single thread${gemmSimdAvailable() ? ' (WebAssembly SIMD)' : ''} — WebGPU is not available here (${chosen.detail}), so this is slower.`;
}

/** What the page says of its bundled default model (models/README.md in the repository). */
const DEFAULT_MODEL_NOTE =
  'An interim model, trained on a 2-core CPU at one eighth of the paper\'s widths without ImageNet weights: 99.0 % balanced accuracy (decision threshold calibrated on validation) and BMM IoU 0.28 on the Magnetic Tile test split, against the paper\'s 96–98.5 % and 0.40–0.47. Load your own .safetensors to use another model.';

async function useModel(bytes: Uint8Array, label: string, note: string | null): Promise<void> {
  const next = loadModel(chosen.backend, bytes);
  model?.dispose();
  model = next;
  const [h, w] = model.meta.input_size;
  modelLabel = `${label}: ${vggVariantName(model.meta.arch)}, ${h}×${w} input, classes ${model.meta.classes.join(' / ')}`;
  $('model-note').textContent = note ? `${modelLabel}. ${note}` : `${modelLabel}.`;
  $('model-note').classList.toggle('note', note !== null);
}

async function addFiles(files: Iterable<Blob & { name?: string }>): Promise<void> {
  for (const f of files) {
    const t = performance.now();
    try {
      images.push({ name: f.name ?? 'image', image: await decodeImageFile(f), decodeMs: performance.now() - t });
    } catch (e) {
      setStatus(`${f.name ?? 'image'}: cannot decode (${e instanceof Error ? e.message : String(e)})`, true);
    }
  }
  await runAll();
}

function stem(name: string): string {
  return name.replace(/\.[^.]*$/, '') || 'image';
}

function figure(canvas: HTMLCanvasElement, caption: string, extra?: HTMLElement): HTMLElement {
  const f = el('figure');
  f.append(canvas, el('figcaption', undefined, caption));
  if (extra) f.append(extra);
  return f;
}

function legend(): HTMLElement {
  const l = el('div', 'legend');
  l.append(el('span', undefined, '−max|R|'), el('span', 'bar'), el('span', undefined, '+max|R|'));
  l.title = 'blue: negative relevance, white: 0, red: positive relevance (symmetric scale)';
  return l;
}

function card(img: LoadedImage, a: Analysis, composite: string, method: string, { pool, tta }: ExplainChoice): HTMLElement {
  const { prepared: p, segmentation: s } = a;
  const c = el('article', 'card');
  c.dataset.name = img.name;
  c.dataset.verdict = a.verdict;
  c.dataset.score = String(a.score);
  c.dataset.composite = composite;
  c.dataset.method = method;
  c.dataset.pool = pool;
  c.dataset.tta = tta;
  const title = el('h2');
  title.append(el('span', 'name', img.name), el('span', `badge ${a.verdict}`, `${a.verdict} · p(defect) = ${a.score.toFixed(4)}`));
  const heat = heatmapCanvas(a.heatmap, p.width, p.height);
  const mask = maskCanvas(s.mask, p.width, p.height);
  let area = 0;
  for (const m of s.mask) area += m;
  const panels = el('div', 'panels');
  panels.append(
    figure(inputCanvas(p.data, p.channels, p.width, p.height), `input (${p.width}×${p.height})`),
    figure(heat, `heatmap (${composite})`, legend()),
    figure(overlayCanvas(p.data, p.channels, s.mask, p.width, p.height), `mask (${method}): ${((100 * area) / s.mask.length).toFixed(1)} % of pixels`),
  );
  const meta = el('div', 'meta');
  const timings = { decode: img.decodeMs, ...a.timingsMs };
  const total = Object.values(timings).reduce((x, y) => x + y, 0);
  meta.append(
    el('span', 'timings', `${Object.entries(timings).map(([k, v]) => `${k} ${v.toFixed(0)} ms`).join(' · ')} · total ${total.toFixed(0)} ms`),
  );
  const links = el('span');
  links.append(pngDownloadLink(mask, `${stem(img.name)}.mask.png`, 'mask PNG'), pngDownloadLink(heat, `${stem(img.name)}.heatmap.png`, 'heatmap PNG'));
  meta.append(links);
  c.append(title, panels, meta);
  return c;
}

async function runAll(): Promise<void> {
  const gen = ++generation;
  const results = $('results');
  results.replaceChildren();
  if (!model) return;
  if (images.length === 0) {
    document.body.dataset.state = 'ready';
    setStatus(`${backendLine()} Add images to start.`, chosen.kind === 'cpu');
    return;
  }
  document.body.dataset.state = 'running';
  const composite = ($('composite') as HTMLSelectElement).value;
  const method = ($('method') as HTMLSelectElement).value as SegmentMethod;
  const choice: ExplainChoice = { pool: ($('pool') as HTMLSelectElement).value as PoolRule, tta: ($('tta') as HTMLSelectElement).value as HeatmapTta };
  for (let i = 0; i < images.length; i++) {
    if (gen !== generation) return;
    setStatus(`${backendLine()} Working on ${i + 1} of ${images.length}…`, chosen.kind === 'cpu');
    try {
      const a = await analyse(model, images[i].image, composite, method, choice);
      if (gen !== generation) return;
      results.append(card(images[i], a, composite, method, choice));
    } catch (e) {
      if (gen !== generation) return;
      const c = el('article', 'card');
      c.append(el('h2', undefined, images[i].name), el('p', 'error', e instanceof Error ? e.message : String(e)));
      results.append(c);
    }
  }
  setStatus(`${backendLine()} ${images.length} image${images.length === 1 ? '' : 's'} done.`, chosen.kind === 'cpu');
  document.body.dataset.state = 'done';
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

function wire(): void {
  const drop = $('drop');
  const fileInput = $('files') as HTMLInputElement;
  fileInput.addEventListener('change', () => void addFiles(Array.from(fileInput.files ?? [])).finally(() => (fileInput.value = '')));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    void addFiles(Array.from(e.dataTransfer?.files ?? []).filter((f) => f.type.startsWith('image/') || /\.(png|jpe?g|bmp|webp)$/i.test(f.name)));
  });
  $('sample').addEventListener('click', () => {
    void fetchBytes(SAMPLE_URL).then((b) => addFiles([Object.assign(new Blob([b as Uint8Array<ArrayBuffer>], { type: 'image/png' }), { name: 'synthetic-tile-blowhole.png' })]));
  });
  $('clear').addEventListener('click', () => {
    images.length = 0;
    void runAll();
  });
  $('composite').addEventListener('change', () => void runAll());
  $('method').addEventListener('change', () => void runAll());
  $('pool').addEventListener('change', () => void runAll());
  $('tta').addEventListener('change', () => void runAll());
  const choice = $('model-choice') as HTMLSelectElement;
  const modelFile = $('model-file') as HTMLInputElement;
  choice.addEventListener('change', () => {
    if (choice.value === 'file') modelFile.click();
    else void fetchBytes(DEFAULT_MODEL_URL).then((b) => useModel(b, 'Bundled default model', DEFAULT_MODEL_NOTE)).then(runAll);
  });
  modelFile.addEventListener('change', async () => {
    const f = modelFile.files?.[0];
    if (!f) return;
    try {
      await useModel(new Uint8Array(await f.arrayBuffer()), f.name, null);
      await runAll();
    } catch (e) {
      setStatus(`${f.name}: ${e instanceof Error ? e.message : String(e)}`, true);
    }
  });
}

async function start(): Promise<void> {
  chosen = await chooseBackend(new URLSearchParams(location.search).get('backend') === 'cpu');
  wire();
  await useModel(await fetchBytes(DEFAULT_MODEL_URL), 'Bundled default model', DEFAULT_MODEL_NOTE);
  await runAll();
}

start().catch((e: unknown) => {
  document.body.dataset.state = 'error';
  setStatus(`The page could not start: ${e instanceof Error ? e.message : String(e)}`, true);
});
