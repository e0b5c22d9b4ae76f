/**
 * Sweep: the row conv kernel (src/kernels/wgsl/conv-rows.ts) at each tile (TILES=4x16w,8x8v,…: channels x pixels, v = vec4 input rows, w = vec4 rows + packed weights) vs conv2d's current
 * kernel on U²-NetP's heaviest forward shapes, interleaved, best of --rounds (CPU ms of all threads, lavapipe's included: robust
 * to other load on a shared machine).  [QUICK=1] [TILES=…] npx tsx bench/conv-rows-sweep.ts [--rounds 3]
 */
import { init, randn, random, conv2d, permute, reshape, type Tensor } from '../src/node';
import { empty } from '../src/tensor/tensor';
import { convRowsKey, convRowsLayout, convRowsSource, convRowsValues, convRowsWorkgroups, type ConvRowsVariant } from '../src/kernels/wgsl/conv-rows';

const argv = process.argv.slice(2);
const rounds = argv.includes('--rounds') ? Number(argv[argv.indexOf('--rounds') + 1]) : 3;
const device = await init();
const shapes: [number, number, number, number][] = process.env.QUICK
  ? [
      [32, 64, 320, 1],
      [32, 16, 40, 2],
    ]
  : [
      [128, 64, 320, 1],
      [32, 64, 320, 1],
      [64, 16, 320, 1],
      [128, 64, 160, 1],
      [3, 64, 320, 1],
      [16, 16, 160, 1],
      [32, 16, 40, 2],
    ];
const tiles: [4 | 8 | 16, number, boolean, boolean][] = (process.env.TILES ?? '4x8,4x16,8x8,8x16')
  .split(',')
  .map((t) => [...t.replace(/[vw]$/, '').split('x').map(Number), t.endsWith('v'), t.endsWith('w')] as unknown as [4 | 8 | 16, number, boolean, boolean]);
const time = async (f: () => Tensor) => {
  await device.sync();
  const c0 = process.cpuUsage();
  const y = f();
  await device.sync();
  const c = process.cpuUsage(c0);
  const ms = (c.user + c.system) / 1000;
  y.dispose();
  return ms;
};
for (const [C, O, S, d] of shapes) {
  const [k1, k2, k3] = random.split(random.key(C + O), 3);
  const x = randn(k1, [1, C, S, S]),
    w = randn(k2, [O, C, 3, 3]),
    b = randn(k3, [O]);
  const wp = permute(reshape(w, [O / 4, 4, C * 9]), [0, 2, 1]);
  const base = () => conv2d(x, w, { bias: b, padding: d, dilation: d, activation: 'relu' });
  const lanes = (tc: 4 | 8 | 16, tp: number, vec: boolean, w4: boolean) => () => {
    const v: ConvRowsVariant = {
      tc,
      tp,
      kw: 3,
      d,
      two: false,
      bias: true,
      act: 'relu',
      res: 'none',
      elem: 'f32',
      ...(vec || w4 ? { vec: d } : {}),
      ...(w4 ? { w4 } : {}),
    };
    const y = empty([1, O, S, S], 'float32', device);
    const g = { N: 1, C, C1: C, H: S, W: S, O, OH: S, OW: S, kH: 3, sH: 1, dH: d, pT: d, pL: d, G: 1, Cg: C, Og: O };
    device.run('conv2d', convRowsKey(v), () => convRowsSource(v), [x.binding, (w4 ? wp : w).binding, b.binding, y.binding], convRowsWorkgroups(v, g), {
      layout: convRowsLayout,
      values: convRowsValues(g),
    });
    return y;
  };
  // check once
  const ref = (await base().data()) as Float32Array;
  const fs: Record<string, () => Tensor> = { base };
  for (const [tc, tp, vec, w4] of tiles) {
    const f = lanes(tc, tp, vec, w4);
    const got = (await f().data()) as Float32Array;
    let m = 0;
    for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(got[i] - ref[i]));
    if (m > 1e-3) console.log(`MISMATCH tc${tc} tp${tp} ${vec}: ${m}`);
    fs[`tc${tc}tp${tp}${vec ? 'v' : ''}${w4 ? 'w' : ''}`] = f;
  }
  const best: Record<string, number> = {};
  for (let r = 0; r < rounds; r++) for (const [k, f] of Object.entries(fs)) best[k] = Math.min(best[k] ?? Infinity, await time(f));
  console.log(
    `${C}→${O} @${S}² d${d}: ${Object.entries(best)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join('  ')}`,
  );
  for (const t of [x, w, b]) t.dispose();
}
process.exit(0);
