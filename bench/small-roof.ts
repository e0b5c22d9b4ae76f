/**
 * The adapter's roof as WGSL kernels see it: independent vec4 FMA chains (GFLOP/s) and a vec4 copy (GB/s).
 * `npx tsx bench/small-roof.ts` (best of several runs; the issue-17 `small` helper reports kernels as fractions of these).
 */
import { init } from '../src/node';
import { kernel } from '../src/kernels/wgsl/builder';
import { UniformLayout } from '../src/kernels/webgpu/uniforms';

const device = await init();
const layout = new UniformLayout([{ name: 'n', type: 'u32' }]);
const CHAINS = 8,
  ITERS = 256,
  WG = 64,
  GROUPS = 2048;
const fma = kernel('roof-fma', { CHAINS, ITERS }, () => ({
  uniforms: layout,
  storage: [{ name: 'y', type: 'vec4<f32>', access: 'read_write' as const }],
  workgroupSize: WG,
  body: `
  let s = f32(gid.x) * 1e-7;
  ${Array.from({ length: CHAINS }, (_, c) => `var c${c} = vec4<f32>(s + ${c}.0);`).join(' ')}
  let m = vec4<f32>(0.999, 0.998, 0.997, 0.996); let a = vec4<f32>(1e-3);
  for (var i = 0u; i < ${ITERS}u; i++) {
    ${Array.from({ length: CHAINS }, (_, c) => `c${c} = fma(c${c}, m, a);`).join(' ')}
  }
  y[gid.x] = ${Array.from({ length: CHAINS }, (_, c) => `c${c}`).join(' + ')};`,
}));
const N4 = (64 << 20) / 16; // 64 MiB of vec4s
const copy = kernel('roof-copy', {}, () => ({
  uniforms: layout,
  storage: [
    { name: 'x', type: 'vec4<f32>' },
    { name: 'y', type: 'vec4<f32>', access: 'read_write' as const },
  ],
  workgroupSize: 256,
  grid: 'n',
  body: 'y[i] = x[i];',
}));
const yb = device.pool.acquire(WG * GROUPS * 16);
const xa = device.pool.acquire(N4 * 16),
  xb = device.pool.acquire(N4 * 16);
const runF = () => device.run('roof-fma', fma.key, fma.source, [yb], [GROUPS, 1, 1], { layout, values: { n: 0 } });
const g = Math.ceil(N4 / 256);
const runC = () => device.run('roof-copy', copy.key, copy.source, [xa, xb], [Math.min(g, 65535), Math.ceil(g / 65535), 1], { layout, values: { n: N4 } });
async function best(f: () => void, reps: number) {
  f();
  await device.sync();
  let b = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    f();
    await device.sync();
    b = Math.min(b, performance.now() - t0);
  }
  return b / 1000;
}
const flops = WG * GROUPS * ITERS * CHAINS * 4 * 2;
for (let round = 0; round < 3; round++) {
  const tf = await best(runF, 5);
  const tc = await best(runC, 5);
  console.log(
    `fma ${(flops / tf / 1e9).toFixed(1)} GFLOP/s (${(tf * 1e3).toFixed(1)} ms)   copy ${((2 * N4 * 16) / tc / 1e9).toFixed(2)} GB/s (${(tc * 1e3).toFixed(1)} ms)`,
  );
}
process.exit(0);
