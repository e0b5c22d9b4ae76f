/**
 * Loading a SAM checkpoint onto the WebGPU device: the streaming loader (`loadSamCheckpoint`: tensor by tensor
 * from a file handle, each uploaded and dropped) against the old whole-file path
 * (`readFile` → `readPth` → `toTensor` per key, what `loadInitialWeights` did). The checkpoint is synthetic:
 * the official vit_b (or vit_l/vit_h) state_dict keys and shapes from test/fixtures/sam-official/structure.json,
 * random float32, torch.save zip format written by `serializePth` — in a child process, so its copies never
 * count. Each loader then runs in a fresh child process and reports its load time, peak RSS
 * (`process.resourceUsage().maxRSS`) and the peaks of `process.memoryUsage()` arrayBuffers/external (sampled
 * every 5 ms and at each stage). Under lavapipe the device's buffers are host memory too, so RSS includes them:
 * the column "… − on device" is what the loader held on the host beyond the device's copy (the pool's size
 * classes round the device figure up, so it is slightly low).
 *
 * `--only stream` skips the whole-file path (vit_h's needs about three times the file in memory).
 *
 *   npx tsx bench/sam-checkpoint.ts [--model vit_b] [--runs 1] [--only stream|whole] [--dir /tmp/somewhere]
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(import.meta.url);
const STRUCTURE = fileURLToPath(new URL('../test/fixtures/sam-official/structure.json', import.meta.url));

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const MB = (bytes: number) => bytes / 2 ** 20;

function officialShapes(model: string): [string, number[]][] {
  const s = JSON.parse(readFileSync(STRUCTURE, 'utf8')) as Record<string, { keys: [string, number[]][] }>;
  if (!s[model]) throw new Error(`--model must be one of ${Object.keys(s).join(', ')}; got '${model}'`);
  return s[model].keys;
}

/** Child: writes the synthetic checkpoint (random float32 in U(−0.05, 0.05), one storage per tensor). */
async function writeCheckpoint(file: string, model: string) {
  const { serializePth } = await import('../src/formats/pth-write');
  const { HostTensor } = await import('../src/formats/host-tensor');
  const sd: Record<string, InstanceType<typeof HostTensor>> = {};
  let s = 12345;
  for (const [key, shape] of officialShapes(model)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      data[i] = (s / 2 ** 32 - 0.5) * 0.1;
    }
    sd[key] = new HostTensor('float32', shape, data);
  }
  const bytes = await serializePth(sd);
  // writeFileSync takes at most 2 GiB at once (vit_h's file is 2.4 GiB)
  const fd = openSync(file, 'w');
  for (let off = 0; off < bytes.length; off += 2 ** 30) writeSync(fd, bytes, off, Math.min(2 ** 30, bytes.length - off));
  closeSync(fd);
}

/** Child: loads the checkpoint one way and prints one JSON line of figures. */
async function loadCheckpoint(file: string, model: string, how: 'stream' | 'whole') {
  const { init, memory } = await import('../src/node');
  const device = await init();
  const expected = officialShapes(model);
  const rssAfterInit = process.memoryUsage().rss;
  const peak = { arrayBuffers: 0, external: 0, rss: 0 };
  const sample = () => {
    const m = process.memoryUsage();
    peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
    peak.external = Math.max(peak.external, m.external);
    peak.rss = Math.max(peak.rss, m.rss);
  };
  const timer = setInterval(sample, 5);
  const t0 = performance.now();
  let last: { data(): Promise<unknown> };
  let count = 0;
  if (how === 'stream') {
    const { loadSamCheckpoint } = await import('../src/sam/node/checkpoint');
    const { tensors } = await import('../src/tensor/tree');
    const { params, state } = await loadSamCheckpoint(file, model as 'vit_b', { device });
    const all = [...tensors(params), ...tensors(state)];
    count = all.length;
    last = all[all.length - 1];
  } else {
    const { readPth, flattenStateDict } = await import('../src/formats/pth');
    const { toTensor } = await import('../src/formats/host-tensor');
    const bytes = new Uint8Array(await readFile(file));
    sample();
    const sd = flattenStateDict(await readPth(bytes));
    sample();
    const out: { data(): Promise<unknown> }[] = [];
    for (const [key] of expected) {
      out.push(toTensor(sd[key], device, 'float32', key));
      sample();
    }
    count = out.length;
    last = out[out.length - 1];
  }
  await last.data(); // every upload has reached the device
  const ms = performance.now() - t0;
  sample();
  clearInterval(timer);
  const ru = process.resourceUsage();
  console.log(
    JSON.stringify({
      how,
      tensors: count,
      ms,
      maxRssMB: ru.maxRSS / 1024,
      rssAfterInitMB: MB(rssAfterInit),
      peakArrayBuffersMB: MB(peak.arrayBuffers),
      peakExternalMB: MB(peak.external),
      deviceMB: MB(memory(device).liveBytes),
    }),
  );
}

function child(args: string[]): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', here, ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  if (r.status !== 0) throw new Error(`child ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

async function main() {
  const model = arg('model', 'vit_b');
  const runs = Number(arg('runs', '1'));
  const own = process.argv.includes('--dir') ? null : mkdtempSync(join(tmpdir(), 'sam-ckpt-'));
  const dir = own ?? arg('dir', '');
  const file = join(dir, `sam_${model}_synthetic.pth`);
  try {
    const tw = performance.now();
    child(['--child', 'write', file, model]);
    const size = statSync(file).size;
    console.log(`wrote ${file}: ${MB(size).toFixed(1)} MiB, ${officialShapes(model).length} tensors (${((performance.now() - tw) / 1000).toFixed(1)} s)`);
    const rows: Record<string, number | string>[] = [];
    for (let r = 0; r < runs; r++)
      for (const how of (['stream', 'whole'] as const).filter((h) => arg('only', h) === h)) {
        try {
          rows.push(JSON.parse(child(['--child', how, file, model]).trim().split('\n').pop()!));
        } catch (e) {
          // e.g. the whole-file path on vit_h: Node's readFile refuses files over 2 GiB
          const why = /(\w*Error[^\n]*)/.exec((e as Error).message)?.[1] ?? (e as Error).message.split('\n')[0];
          rows.push({ how, ms: 'failed', maxRssMB: '—', rssAfterInitMB: '—', peakArrayBuffersMB: '—', peakExternalMB: '—', deviceMB: why.slice(0, 120) });
        }
      }
    const f = (v: unknown) => (typeof v === 'number' ? v.toFixed(0) : String(v));
    console.log(`\n${model} checkpoint, ${MB(size).toFixed(0)} MiB file; each row a fresh process (${process.platform}, node ${process.version})\n`);
    console.log(
      '| loader | load ms | peak RSS MiB | RSS after init MiB | peak RSS − init MiB | … − on device MiB | peak ArrayBuffers MiB | peak external MiB | on device MiB |',
    );
    console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const r of rows)
      console.log(
        `| ${r.how === 'stream' ? 'streaming (loadSamCheckpoint)' : 'whole file (readPth)'} | ${f(r.ms)} | ${f(r.maxRssMB)} | ${f(r.rssAfterInitMB)} | ${typeof r.maxRssMB === 'number' ? f(r.maxRssMB - (r.rssAfterInitMB as number)) : '—'} | ${typeof r.maxRssMB === 'number' ? f(r.maxRssMB - (r.rssAfterInitMB as number) - (r.deviceMB as number)) : '—'} | ${f(r.peakArrayBuffersMB)} | ${f(r.peakExternalMB)} | ${f(r.deviceMB)} |`,
      );
  } finally {
    if (own) rmSync(own, { recursive: true, force: true });
  }
}

const ci = process.argv.indexOf('--child');
if (ci > 0) {
  const [mode, file, model] = process.argv.slice(ci + 1);
  if (mode === 'write') await writeCheckpoint(file, model);
  else await loadCheckpoint(file, model, mode as 'stream' | 'whole');
  process.exit(0);
} else await main();
