/**
 * scaledDotProductAttention, backend 'fused' vs 'unfused' (q·kᵀ·scale + relPos bias → softmax → ·v,
 * which stores the [batch, heads, Lq, Lk] matrix), same adapter, same inputs, forward and forward+backward
 * (gradients of q, k, v and both relative-position terms, as SAM's blocks need). Shapes are SAM ViT-B's: the
 * windowed blocks (25 windows × 12 heads, 14×14 = 196 tokens, D 64), a global block small enough for the unfused
 * path (12 heads × 32×32 = 1024 tokens) and the real global block (12 heads × 64×64 = 4096 tokens), whose
 * 805 MB attention matrix exceeds the binding limit of lavapipe (128 MiB): only the fused path runs there.
 * Median ms per call (each awaited on the GPU), after one warm-up call; the 4096-token shape runs once, without a
 * warm-up (its pipelines are the smaller shapes' ones, so run it after them).
 * The last column is the path `backend: 'auto'` (the default) takes at that size.
 *   npx tsx bench/attention.ts [--shapes window,global1024,global4096] [--runs 3]
 */
import { getDefaultDevice, grad, init, mul, randn, random, scaledDotProductAttention, sum, tidy, type Tensor } from '../src/node';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : def;
};
const runs = Number(arg('runs', '3'));

interface Shape {
  name: string;
  batch: number;
  heads: number;
  side: number;
  D: number;
}
const SHAPES: Record<string, Shape> = {
  window: { name: 'window 25×12 heads × 196 tokens', batch: 25, heads: 12, side: 14, D: 64 },
  global1024: { name: 'global 12 heads × 1024 tokens', batch: 1, heads: 12, side: 32, D: 64 },
  global4096: { name: 'global 12 heads × 4096 tokens (vit_b)', batch: 1, heads: 12, side: 64, D: 64 },
};
const wanted = arg('shapes', 'window,global1024,global4096').split(',');

type Attn = (q: Tensor, k: Tensor, v: Tensor, h: Tensor, w: Tensor) => Tensor;
const fused: Attn = (q, k, v, h, w) => scaledDotProductAttention(q, k, v, { relPos: { h, w }, backend: 'fused' });
/** The unfused path (matmul, softmax, matmul; stores the attention matrix). */
const unfusedAttention: Attn = (q, k, v, h, w) => scaledDotProductAttention(q, k, v, { relPos: { h, w }, backend: 'unfused' });
/** What users get by default: 'auto' takes the unfused path while its matrix fits half the binding limit. */
const autoPick = (s: Shape, L: number) => (s.batch * s.heads * L * L * 4 <= getDefaultDevice().limits.maxStorageBufferBindingSize / 2 ? 'unfused' : 'fused');

async function median(fn: () => Promise<void>, n: number, warm: boolean): Promise<number> {
  if (warm) await fn(); // warm-up: pipelines compiled, buffers pooled
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

/** Median ms, or the error's first line when the path cannot run at this size. */
async function timed(fn: () => Tensor[], n: number, warm: boolean): Promise<number | string> {
  const device = getDefaultDevice();
  try {
    return await median(
      async () => {
        const outs = tidy(() => fn());
        await device.sync();
        for (const o of outs) o.dispose();
      },
      n,
      warm,
    );
  } catch (e) {
    return String((e as Error).message ?? e).split('\n')[0];
  }
}

await init();
const device = getDefaultDevice();
const info = device.adapterInfo;
console.log(
  `adapter: ${info?.description || info?.vendor || 'WebGPU'}; max storage binding ${device.limits.maxStorageBufferBindingSize} bytes; runs: ${runs} (median, after one warm-up)`,
);
console.log("| shape | pass | fused ms | unfused ms | unfused ÷ fused | backend 'auto' takes |");
console.log('| --- | --- | ---: | ---: | ---: | --- |');
const fmt = (v: number | string) => (typeof v === 'string' ? `n/a (${v.length > 90 ? `${v.slice(0, 90)}…` : v})` : v >= 100 ? v.toFixed(0) : v.toFixed(1));
for (const key of wanted) {
  const s = SHAPES[key];
  if (!s) throw new Error(`unknown shape '${key}' (have ${Object.keys(SHAPES).join(', ')})`);
  const L = s.side * s.side;
  const [kq, kk, kv, kh, kw] = random.split(random.key(L), 5);
  const q = randn(kq, [s.batch, s.heads, L, s.D]),
    k = randn(kk, [s.batch, s.heads, L, s.D]),
    v = randn(kv, [s.batch, s.heads, L, s.D]);
  const h = mul(randn(kh, [s.batch, s.heads, L, s.side]), 0.1),
    w = mul(randn(kw, [s.batch, s.heads, L, s.side]), 0.1);
  const big = L >= 4096;
  const reps = big ? 1 : runs;
  for (const pass of ['forward', 'forward+backward'] as const) {
    const run = (f: Attn) => () =>
      pass === 'forward'
        ? [f(q, k, v, h, w)]
        : (grad((a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor) => sum(f(a, b, c, d, e)), { argnums: [0, 1, 2, 3, 4] })(q, k, v, h, w) as Tensor[]);
    const f = await timed(run(fused), reps, !big);
    const u = await timed(run(unfusedAttention), reps, !big);
    const ratio = typeof f === 'number' && typeof u === 'number' ? `${(u / f).toFixed(2)}×` : '—';
    console.log(`| ${s.name}, D ${s.D} | ${pass} | ${fmt(f)} | ${fmt(u)} | ${ratio} | ${autoPick(s, L)} |`);
  }
  for (const t of [q, k, v, h, w]) t.dispose();
}
device.destroy();
