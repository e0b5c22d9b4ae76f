// The background-removal page: webgrad's browser build (ES modules from /dist) runs the pretrained U²-NetP
// on WebGPU with the CLI's default pipeline (src/cli/remove-bg.ts): u2netPreprocess (plain bilinear to
// 320²), the folded predictor, u2netMaskU8. Weights come from the demo server (the CLI's local cache) and
// stay on the GPU; the folded predictor is built once per precision and reused for every image.
import { getDefaultDevice, init, memory, random, tensor, tidy, tree } from '@webgrad/core';
import { loadStateDict, parseSafetensors } from '@webgrad/core/formats';
import { u2net, u2netPredictor } from '@webgrad/core/models';
import { u2netMaskU8, u2netPreprocess } from '@webgrad/core/sod';
import { zipStored } from './zip.js';

const SIZE = 320;
const $ = (id) => document.getElementById(id);
const WEBGPU_HELP = `WebGPU is not available in this browser, so the page cannot run.
• Chrome / Edge 113+: on by default on Windows, macOS and ChromeOS. On Linux open chrome://flags, enable
  "Unsafe WebGPU Support" (#enable-unsafe-webgpu) and "Vulkan" (#enable-vulkan), then relaunch
  (or start it with --enable-unsafe-webgpu --enable-features=Vulkan).
• Firefox 141+: on by default on Windows; elsewhere set dom.webgpu.enabled to true in about:config.
• Safari 26+: on by default; on older versions enable Develop → Feature Flags → WebGPU.`;

const state = { device: null, model: null, params: null, modelState: null, predictor: null, precision: 'fp32', f16: false };
const results = []; // { name, maskBlob, cutoutBlob, timing }
let queue = Promise.resolve();
const enqueue = (job) => {
  const p = queue.then(job);
  queue = p.catch(() => {});
  return p;
};

function showStatus(text, error = false) {
  $('status').textContent = text;
  $('status').classList.toggle('error', error);
}

/** Frees the tensors `loadStateDict` replaced. */
function disposeReplaced(before, after) {
  const a = tree.tensors(before),
    b = tree.tensors(after);
  a.forEach((t, i) => {
    if (b[i] !== t) t.dispose();
  });
}

async function loadWeights() {
  const res = await fetch('/weights/u2netp.safetensors');
  if (!res.ok) throw new Error(`weights: HTTP ${res.status} for /weights/u2netp.safetensors (start the page with npm run demo:web)`);
  const { tensors } = parseSafetensors(new Uint8Array(await res.arrayBuffer()));
  const model = u2net({ model: 'u2netp' });
  const fresh = model.init(random.key(0));
  const p = loadStateDict(fresh.params, tensors, { strict: false });
  const s = loadStateDict(fresh.state, tensors, { strict: false });
  const missing = [...p.missing, ...s.missing].filter((k) => !k.endsWith('num_batches_tracked'));
  if (missing.length || p.shapeMismatch.length || s.shapeMismatch.length)
    throw new Error(
      `weights: ${missing.length} missing, ${p.shapeMismatch.length + s.shapeMismatch.length} of another shape (e.g. ${missing[0] ?? p.shapeMismatch[0]?.key})`,
    );
  disposeReplaced([fresh.params, fresh.state], [p.params, s.params]);
  Object.assign(state, { model, params: p.params, modelState: s.params });
}

async function usePrecision(precision) {
  state.predictor?.dispose();
  state.predictor = null;
  state.predictor = await u2netPredictor(state.model, state.params, state.modelState, { precision });
  state.precision = state.predictor.precision;
  updateDebug();
}

/** File → RGBA pixels as stored in the file (no colour management, no premultiplication), like pngjs. */
async function decode(file) {
  const bitmap = await createImageBitmap(file, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
  return { width: canvas.width, height: canvas.height, data: new Uint8Array(data.buffer), channels: 4 };
}

/** The 8-bit mask at the image's size, as the CLI computes it. */
async function predictMask(img) {
  const x = u2netPreprocess(img, SIZE, { resize: 'bilinear' });
  const m = tidy(() => state.predictor.predict(tensor(x, { shape: [1, 3, SIZE, SIZE] })));
  let raw;
  try {
    raw = await m.data();
  } finally {
    m.dispose();
  }
  return u2netMaskU8(raw, SIZE, img.width, img.height);
}

function canvasOf(width, height, rgba) {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  c.getContext('2d').putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer, rgba.byteOffset, rgba.length), width, height), 0, 0);
  return c;
}

const pngOf = (canvas) => new Promise((resolve) => canvas.toBlob(resolve, 'image/png'));

/** Decodes, predicts and (unless `render` is false) shows one image; returns its timing (and, unrendered, the mask). */
async function processFile(file, { render = true } = {}) {
  const t0 = performance.now();
  const img = await decode(file);
  const t1 = performance.now();
  const mask = await predictMask(img);
  const t2 = performance.now();
  const n = img.width * img.height;
  const maskRgba = new Uint8Array(4 * n),
    cutout = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    const v = mask[i];
    maskRgba[4 * i] = maskRgba[4 * i + 1] = maskRgba[4 * i + 2] = v;
    maskRgba[4 * i + 3] = 255;
    for (let c = 0; c < 3; c++) cutout[4 * i + c] = img.data[4 * i + c];
    cutout[4 * i + 3] = Math.round(Math.fround(v / 255) * img.data[4 * i + 3]); // as the CLI's cutout
  }
  const timing = { decodeMs: t1 - t0, predictMs: t2 - t1, totalMs: performance.now() - t0, precision: state.precision, width: img.width, height: img.height };
  if (render) {
    const maskCanvas = canvasOf(img.width, img.height, maskRgba),
      cutoutCanvas = canvasOf(img.width, img.height, cutout);
    const [maskBlob, cutoutBlob] = await Promise.all([pngOf(maskCanvas), pngOf(cutoutCanvas)]);
    timing.totalMs = performance.now() - t0;
    const stem = file.name.replace(/\.[^.]+$/, '');
    results.push({ name: stem, maskBlob, cutoutBlob, timing });
    showResult(stem, img, canvasOf(img.width, img.height, img.data), maskCanvas, cutoutCanvas, maskBlob, cutoutBlob, timing);
  }
  updateDebug();
  return render ? timing : { ...timing, mask };
}

function showResult(stem, img, original, maskCanvas, cutoutCanvas, maskBlob, cutoutBlob, timing) {
  const card = document.createElement('section');
  card.className = 'result';
  card.dataset.name = stem;
  const h = document.createElement('h2');
  h.textContent = `${stem} (${img.width}×${img.height})`;
  const row = document.createElement('div');
  row.className = 'images';
  cutoutCanvas.className = 'checker';
  for (const [caption, c] of [
    ['original', original],
    ['mask', maskCanvas],
    ['cutout', cutoutCanvas],
  ]) {
    const fig = document.createElement('figure');
    const cap = document.createElement('figcaption');
    cap.textContent = caption;
    fig.append(c, cap);
    row.append(fig);
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  const link = (blob, name, text, cls) => {
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = name;
    a.textContent = text;
    a.className = cls;
    return a;
  };
  const time = document.createElement('span');
  time.className = 'timing';
  time.textContent = `${timing.precision}: network ${timing.predictMs.toFixed(0)} ms, total ${timing.totalMs.toFixed(0)} ms (decode ${timing.decodeMs.toFixed(0)} ms)`;
  meta.append(
    link(cutoutBlob, `${stem}.cutout.png`, 'cutout (RGBA PNG)', 'download-cutout'),
    link(maskBlob, `${stem}.mask.png`, 'mask (PNG)', 'download-mask'),
    time,
  );
  card.append(h, row, meta);
  $('results').prepend(card);
}

function updateDebug() {
  const d = state.device;
  if (!d) return;
  const info = d.adapterInfo;
  $('debug-info').textContent = JSON.stringify(
    {
      adapter: [info?.vendor, info?.architecture, info?.device, info?.description].filter(Boolean).join(' | '),
      shaderF16: state.f16,
      precision: state.precision,
      images: results.length,
      pipelines: getDefaultDevice().pipelines.size,
      memory: memory(),
    },
    null,
    2,
  );
}

async function handleFiles(files) {
  const list = [...files].filter((f) => /^image\//.test(f.type) || /\.(png|jpe?g|webp)$/i.test(f.name));
  for (let k = 0; k < list.length; k++) {
    $('progress').textContent = list.length > 1 ? `${k + 1} / ${list.length}: ${list[k].name}` : `running ${list[k].name}`;
    try {
      await enqueue(() => processFile(list[k]));
    } catch (e) {
      showStatus(`${list[k].name}: ${e.message}`, true);
    }
  }
  $('progress').textContent = list.length ? `done (${list.length} image${list.length > 1 ? 's' : ''})` : 'no images among the dropped files';
  $('zip').disabled = results.length === 0;
}

async function downloadZip() {
  const files = [];
  for (const r of results) {
    files.push({ name: `${r.name}.cutout.png`, bytes: new Uint8Array(await r.cutoutBlob.arrayBuffer()) });
    files.push({ name: `${r.name}.mask.png`, bytes: new Uint8Array(await r.maskBlob.arrayBuffer()) });
  }
  const a = document.createElement('a');
  a.href = URL.createObjectURL(zipStored(files));
  a.download = 'cutouts.zip';
  a.click();
}

async function setup() {
  if (!navigator.gpu) throw new Error(WEBGPU_HELP);
  try {
    state.device = await init();
  } catch (e) {
    throw new Error(`${e.message}\n\n${WEBGPU_HELP}`);
  }
  state.f16 = state.device.features.has('shader-f16');
  showStatus('Loading the U²-NetP weights…');
  await loadWeights();
  const fp16Option = $('precision').querySelector('option[value="fp16"]');
  fp16Option.disabled = !state.f16;
  if (!state.f16) fp16Option.textContent = 'fp16 (this adapter has no shader-f16)';
  await usePrecision('fp32');
  const info = state.device.adapterInfo;
  const adapter = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'WebGPU adapter';
  showStatus(`Ready on ${adapter}${state.f16 ? ' (shader-f16)' : ''}. Pick or drop images.`);
  $('controls').hidden = false;
  $('files').addEventListener('change', (e) => handleFiles(e.target.files));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    handleFiles(e.dataTransfer.files);
  });
  $('precision').addEventListener('change', (e) => enqueue(() => usePrecision(e.target.value)));
  $('zip').addEventListener('click', downloadZip);
  return { adapter, shaderF16: state.f16 };
}

// Hooks for the browser test (test/web/web-demo.test.ts) and for poking at the page from the console.
const ready = setup().catch((e) => {
  showStatus(e.message, true);
  throw e;
});
globalThis.webgradDemo = {
  ready,
  results,
  /** Runs one more image through the same predictor without rendering it: for memory and pipeline checks. */
  rerun: (file) => enqueue(() => processFile(file, { render: false })),
  setPrecision: (p) => enqueue(() => usePrecision(p)),
  stats: () => ({ memory: memory(), pipelines: getDefaultDevice().pipelines.size, precision: state.precision }),
};
