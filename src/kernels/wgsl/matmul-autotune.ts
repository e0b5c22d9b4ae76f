/**
 * Picks the matmul kernel variant per adapter and shape class by measuring.
 *
 * WebGPU cannot wait for the GPU synchronously, so an op never blocks on tuning: the first matmul
 * of a shape class on an adapter runs with the default for that adapter and starts a short
 * background measurement (a scaled-down copy of the problem, each candidate compiled and warmed
 * up, then timed in interleaved rounds; ~tens of ms on lavapipe, a few ms on a GPU). Later matmuls
 * of that class use the winner. Results are cached in memory per adapter (keyed by its
 * GPUAdapterInfo), so every device on one adapter shares them. `tuneMatmul` runs the measurement
 * explicitly and waits for it (benchmarks, warm-up). Every variant sums over k in the same order,
 * so the choice changes speed only, not results (beyond float rounding of fused multiply-adds).
 * CPU adapters (lavapipe, SwiftShader, WARP) take a fixed rule instead ({@link cpuVariant}): there `tuneMatmul`
 * still measures and reports, but the choice does not depend on it.
 */
import type { Device } from '../webgpu/device';
import { MATMUL_VARIANTS, matmulPlan, vecFlags, type MatmulProblem, type MatmulTile } from './matmul';

/** How matmul chooses its kernel variant; set with {@link configureMatmul}. */
export interface MatmulConfig {
  /** Force one variant (a key of MATMUL_VARIANTS) for every matmul; null = choose per adapter and shape. */
  variant: string | null;
  /** Measure the candidates on first use of each shape class (per adapter); false = use the defaults. */
  autotune: boolean;
}

const config: MatmulConfig = { variant: null, autotune: true };

/** Sets matmul kernel selection (e.g. force a variant in tests); returns the previous settings. */
export function configureMatmul(options: Partial<MatmulConfig>): MatmulConfig {
  const prev = { ...config };
  if (options.variant !== undefined && options.variant !== null && !(options.variant in MATMUL_VARIANTS)) {
    throw new Error(`configureMatmul: unknown variant '${options.variant}'; expected one of ${Object.keys(MATMUL_VARIANTS).join(', ')}`);
  }
  Object.assign(config, options);
  return prev;
}

/** Problems below this many multiply-adds are not worth measuring: they use the default. */
const TUNE_MIN_WORK = 1 << 18;
/** The stand-in problem measured for a class does about this many multiply-adds per run. */
const PROXY_WORK = 1 << 22;

export interface TuneResult {
  adapter: string;
  shapeClass: string;
  variant: string;
  secondsPerRun: Record<string, number>;
}

const chosen = new Map<string, string>();
const results = new Map<string, TuneResult>();
const inflight = new Map<string, Promise<TuneResult>>();

const info = (d: Device) => d.adapterInfo as (GPUAdapterInfo & Record<string, unknown>) | undefined;

/** Identifies the adapter (not the device): vendor, architecture, device, description. */
export function adapterKey(d: Device): string {
  const i = info(d);
  const parts = i ? [i.vendor, i.architecture, i.device, i.description].map((x) => String(x ?? '')) : [];
  return parts.some((x) => x) ? parts.join('|') : `device:${d.id}`;
}

/** CPU adapters (SIMD across invocations) favour the register-tiled kernel; GPUs the workgroup-tiled one. */
export function isCpuAdapter(d: Device): boolean {
  return /llvmpipe|lavapipe|swiftshader|\bwarp\b|\bcpu\b/i.test(adapterKey(d));
}

const work = (p: MatmulProblem) => p.batchShape.reduce((a, b) => a * b, 1) * p.M * p.N * p.K;

/** Shape class: order of magnitude of the work, thin outputs, transpose flags, vec4 alignment. */
export function shapeClass(p: MatmulProblem): string {
  const v = vecFlags(p);
  const size = Math.min(Math.floor(Math.log2(Math.max(work(p), 1)) / 3), 12);
  const thin = Math.min(p.M, p.N) < 16 ? 'thin' : Math.min(p.M, p.N) < 64 ? 'narrow' : 'wide';
  return `${size}:${thin}:${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}:${v.va ? 'v4' : 's'}`;
}

/**
 * The variant for CPU adapters, by rule so that it is the same on every run (timings on a shared CPU are too noisy
 * to pick from). A k-step-1 register tile of 8 rows (A's loads are the same for every invocation of a workgroup, so
 * they cost one load per SIMD batch) and as many columns per thread as N fills: on lavapipe 1024³ runs about 1.9×
 * faster than with 'reg8x4' (bench/small-ab.ts).
 */
export function cpuVariant(p: MatmulProblem): string {
  // transposed operands keep the vec4-over-k loads of 'reg8x4' (the k-step-1 tiles were measured without transposes)
  if (p.transA || p.transB) return 'reg8x4';
  if (p.M < 8) return 'k1r4x16';
  return p.N >= 128 ? 'k1r8x16' : p.N >= 64 ? 'k1r8x8' : 'k1r8x4';
}

function defaultVariant(d: Device, p: MatmulProblem): string {
  if (isCpuAdapter(d)) return cpuVariant(p);
  return Math.min(p.M, p.N) >= 64 ? 'wg64' : 'wg32';
}

/** Variants worth measuring for this problem (tiles far larger than the output are skipped). */
function candidates(p: MatmulProblem): string[] {
  return Object.keys(MATMUL_VARIANTS).filter((name) => {
    const t = MATMUL_VARIANTS[name];
    const bm = t.tm * t.wy,
      bn = 4 * t.tn4 * t.wx;
    return bm <= Math.max(p.M, 16) * 2 && bn <= Math.max(p.N, 16) * 2;
  });
}

/** The variant a matmul of `p` on `device` uses now (starting a background measurement if due). */
export function chooseMatmulTile(device: Device, p: MatmulProblem): MatmulTile {
  if (config.variant) return MATMUL_VARIANTS[config.variant];
  // CPU adapters: the rule, never a measurement (deterministic given the adapter and the shape)
  if (!config.autotune || isCpuAdapter(device)) return MATMUL_VARIANTS[defaultVariant(device, p)];
  const key = `${adapterKey(device)}#${shapeClass(p)}`;
  const hit = chosen.get(key);
  if (hit) return MATMUL_VARIANTS[hit];
  if (work(p) < TUNE_MIN_WORK) return MATMUL_VARIANTS[defaultVariant(device, p)];
  if (!inflight.has(key))
    tuneMatmul(device, p).catch(() => {
      /* keep the default; errors surface on the next op */
    });
  return MATMUL_VARIANTS[defaultVariant(device, p)];
}

/** A smaller problem of the same class (same flags and alignment) doing about PROXY_WORK multiply-adds. */
function proxy(p: MatmulProblem): MatmulProblem {
  const cap = (x: number) => (x <= 256 ? x : 256 + (x % 4 === 0 ? 0 : x % 4));
  const M = cap(p.M),
    N = cap(p.N),
    K = cap(p.K);
  const batch = Math.max(1, Math.min(work(p) / (M * N * K), Math.floor(PROXY_WORK / (M * N * K))));
  const b = Math.floor(batch);
  return b > 1
    ? { ...p, M, N, K, batchShape: [b], aStrides: [p.aStrides.some((s) => s) ? 1 : 0], bStrides: [p.bStrides.some((s) => s) ? 1 : 0] }
    : { ...p, M, N, K, batchShape: [], aStrides: [], bStrides: [] };
}

/**
 * Measures the candidate variants on a stand-in for `p` and caches the fastest for its shape class
 * on this adapter (on CPU adapters the measurement is reported only: the rule of {@link cpuVariant} chooses).
 * Resolves to the measurement (cached after the first call).
 */
export function tuneMatmul(device: Device, p: MatmulProblem): Promise<TuneResult> {
  const key = `${adapterKey(device)}#${shapeClass(p)}`;
  const done = results.get(key);
  if (done) return Promise.resolve(done);
  let run = inflight.get(key);
  if (!run) {
    run = measure(device, p, key).finally(() => inflight.delete(key));
    inflight.set(key, run);
  }
  return run;
}

async function measure(device: Device, p: MatmulProblem, key: string): Promise<TuneResult> {
  const q = proxy(p);
  const names = candidates(q);
  const batch = q.batchShape.reduce((a, b) => a * b, 1);
  const aBytes = 4 * Math.max(1, (q.aStrides.some((s) => s) ? batch : 1) * q.M * q.K);
  const bBytes = 4 * Math.max(1, (q.bStrides.some((s) => s) ? batch : 1) * q.K * q.N);
  const cBytes = 4 * Math.max(1, batch * q.M * q.N);
  const bufs = [aBytes, bBytes, cBytes].map((n) => device.pool.acquire(n));
  try {
    // zeros: timing must not depend on leftover values (denormals, NaN)
    bufs.forEach((b, i) => device.upload(b, new Uint8Array([aBytes, bBytes, cBytes][i])));
    const plans = names.map((n) => matmulPlan(q, MATMUL_VARIANTS[n]));
    const dispatch = (i: number) =>
      device.run('matmul-autotune', plans[i].key, plans[i].source, bufs, plans[i].workgroups, { layout: plans[i].layout, values: plans[i].values });
    // compile and warm every candidate
    plans.forEach((_, i) => dispatch(i));
    await device.sync();
    const best = names.map(() => Infinity);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < plans.length; i++) {
        const t0 = performance.now();
        dispatch(i);
        dispatch(i);
        await device.sync();
        best[i] = Math.min(best[i], (performance.now() - t0) / 2000);
      }
    }
    let win = 0;
    best.forEach((t, i) => {
      if (t < best[win]) win = i;
    });
    const secondsPerRun: Record<string, number> = {};
    names.forEach((n, i) => {
      secondsPerRun[n] = best[i];
    });
    const [adapter, shape] = key.split('#');
    const result = { adapter, shapeClass: shape, variant: names[win], secondsPerRun };
    chosen.set(key, names[win]);
    results.set(key, result);
    return result;
  } finally {
    bufs.forEach((b) => device.pool.release(b));
  }
}

/** Every measurement made so far (for benchmarks and debugging). */
export const matmulTuning = (): TuneResult[] => [...results.values()];

/** Forgets the measurements (tests). */
export function resetMatmulTuning(): void {
  chosen.clear();
  results.clear();
}
