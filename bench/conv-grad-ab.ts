/**
 * A/B of the convolution gradient kernels, interleaved in one process: the conv.ts tiling (old) against
 * the op's current choice (new) on U²-NetP shapes. `npx tsx bench/conv-grad-ab.ts [--rounds N]`.
 */
import { init, tensor, tidy, type Tensor } from '../src/node';
import { conv2dGradInputOp, conv2dGradWeightOp, convTiles, convGradTiles } from '../src/tensor/ops/conv';
import { convKey, convSource, convWorkgroups, convLayout, convValues, type ConvGeometry, type ConvVariant } from '../src/kernels/wgsl/conv';
import { empty } from '../src/tensor/tensor';
import type { ConvAttrs } from '../src/base/conv-args';

const device = await init();
const argv = process.argv.slice(2);
const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 3;
for (const a of argv) {
  const m = /^--(\w+)=(\d+)$/.exec(a);
  if (m) (convGradTiles as Record<string, number>)[m[1]] = Number(m[2]);
}
const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : '';
const randn = (shape: number[]) =>
  tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1),
    { shape },
  );
const cases = [
  { name: 'C128→64 @320² 3x3', N: 1, C: 128, H: 320, O: 64, k: 3, s: 1, p: 1, d: 1 },
  { name: 'C64→16 @320² 3x3', N: 1, C: 64, H: 320, O: 16, k: 3, s: 1, p: 1, d: 1 },
  { name: 'C32→64 @160² 3x3', N: 1, C: 32, H: 160, O: 64, k: 3, s: 1, p: 1, d: 1 },
  { name: 'C16→16 @40² 3x3 d2', N: 1, C: 16, H: 40, O: 16, k: 3, s: 1, p: 2, d: 2 },
  { name: 'C3→64 @320² 3x3', N: 1, C: 3, H: 320, O: 64, k: 3, s: 1, p: 1, d: 1 },
  { name: 'C64→64 @80² 3x3', N: 1, C: 64, H: 80, O: 64, k: 3, s: 1, p: 1, d: 1 },
  { name: 'tconv 4x4/2 64→64 40²→80²', N: 1, C: 64, H: 80, O: 64, k: 4, s: 2, p: 1, d: 1 },
].filter((c) => c.name.includes(only));
const sync = async (t: Tensor) => {
  await t.data();
};
async function time(f: () => Tensor): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    await device.sync();
    const t0 = performance.now();
    const t = f();
    await sync(t);
    best = Math.min(best, performance.now() - t0);
    t.dispose();
  }
  return best;
}
for (const c of cases) {
  const OH = Math.floor((c.H + 2 * c.p - c.d * (c.k - 1) - 1) / c.s) + 1;
  const a: ConvAttrs = { stride: [c.s, c.s], padding: [c.p, c.p, c.p, c.p], dilation: [c.d, c.d], groups: 1 };
  const x = randn([c.N, c.C, c.H, c.H]),
    w = randn([c.O, c.C, c.k, c.k]),
    dy = randn([c.N, c.O, OH, OH]);
  const g: ConvGeometry = {
    N: c.N,
    C: c.C,
    H: c.H,
    W: c.H,
    O: c.O,
    OH,
    OW: OH,
    kH: c.k,
    kW: c.k,
    sH: c.s,
    sW: c.s,
    dH: c.d,
    dW: c.d,
    pT: c.p,
    pL: c.p,
    G: 1,
    Cg: c.C,
    Og: c.O,
  };
  const old = (v: ConvVariant, bufs: Tensor[], shape: number[]) => () => {
    const out = empty(shape, 'float32', device);
    device.run('old', convKey(v), () => convSource(v), [...bufs.map((b) => b.binding), out.binding], convWorkgroups(v, g), {
      layout: convLayout,
      values: convValues(g),
    });
    return out;
  };
  const tpx = Math.ceil(c.H / c.s) >= convTiles.wideRow ? convTiles.wide : convTiles.dx;
  const oldDx = old({ kind: 'dx', tc: 4, tp: tpx, bias: false, act: 'none' }, [dy, w], [c.N, c.C, c.H, c.H]);
  const oldDw = old({ kind: 'dw', tc: 4, tp: convTiles.dw, bias: false, act: 'none' }, [x, dy], [c.O, c.C, c.k, c.k]);
  const newDx = () => tidy(() => conv2dGradInputOp.call1([dy, w], { ...a, inSize: [c.H, c.H] }));
  const newDw = () => tidy(() => conv2dGradWeightOp.call1([x, dy], { ...a, kSize: [c.k, c.k] }));
  // same results
  const [ra, rb, rc, rd] = [oldDx(), newDx(), oldDw(), newDw()];
  const diff = async (p: Tensor, q: Tensor) => {
    const [u, v] = [await p.data(), await q.data()];
    let m = 0;
    for (let i = 0; i < u.length; i++) m = Math.max(m, Math.abs((u[i] as number) - (v[i] as number)));
    return m;
  };
  const dd = [await diff(ra, rb), await diff(rc, rd)];
  for (const t of [ra, rb, rc, rd]) t.dispose();
  const best = { oldDx: Infinity, newDx: Infinity, oldDw: Infinity, newDw: Infinity };
  for (let r = 0; r < rounds; r++) {
    best.oldDx = Math.min(best.oldDx, await time(oldDx));
    best.newDx = Math.min(best.newDx, await time(newDx));
    best.oldDw = Math.min(best.oldDw, await time(oldDw));
    best.newDw = Math.min(best.newDw, await time(newDw));
  }
  console.log(
    `${c.name.padEnd(28)} dx ${best.oldDx.toFixed(1)} → ${best.newDx.toFixed(1)} ms (${(best.oldDx / best.newDx).toFixed(2)}×, maxdiff ${dd[0].toExponential(1)})   dw ${best.oldDw.toFixed(1)} → ${best.newDw.toFixed(1)} ms (${(best.oldDw / best.newDw).toFixed(2)}×, maxdiff ${dd[1].toExponential(1)})`,
  );
  for (const t of [x, w, dy]) t.dispose();
}
process.exit(0);
