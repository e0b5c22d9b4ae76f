/**
 * Convolution throughput (GFLOP/s, 2·N·Cout·OH·OW·Cin/groups·kH·kW per pass) for the forward, grad-input and
 * grad-weight kernels on U²-Net and ResNet-18 shapes, side by side with TF.js WebGPU on the same adapter.
 * Depthwise rows (groups = C) run the dedicated kernels, and with `--generic` also the generic ones, interleaved.
 * Standalone: `npx tsx bench/suites/conv.ts [--quick] [--no-peer] [--depthwise] [--generic] [--rounds N] [--only <name part>]` (`--depthwise`: only those rows; best of N interleaved rounds, default 2).
 */
import { init, tidy, tensor, type Tensor } from '../../src/node';

const randn = (shape: number[]) =>
  tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => Math.random() * 2 - 1),
    { shape },
  );
import { conv2dOp, conv2dGradInputOp, conv2dGradWeightOp, depthwiseConv } from '../../src/tensor/ops/conv';
import type { ConvAttrs } from '../../src/base/conv-args';
import { timeIt, type BenchRow, type Suite } from '../lib';
import { tfConvRunners } from '../peers/tfjs-conv';

type Pass = 'fwd' | 'dx' | 'dw';
const PASSES: Pass[] = ['fwd', 'dx', 'dw'];

interface Case {
  name: string;
  N: number;
  C: number;
  H: number;
  W: number;
  O: number;
  k: number;
  stride: number;
  pad: number;
  dilation: number;
  /** groups = C (then O is C × the channel multiplier). */
  depthwise?: boolean;
}

const CASES: Case[] = [
  ...[1, 2, 4, 8].map((d) => ({ name: `U2Net 3x3 64→64 @80² d${d}`, N: 1, C: 64, H: 80, W: 80, O: 64, k: 3, stride: 1, pad: d, dilation: d })),
  { name: 'U2NETP 3x3 16→16 @160²', N: 1, C: 16, H: 160, W: 160, O: 16, k: 3, stride: 1, pad: 1, dilation: 1 },
  { name: 'U2Net 3x3 3→64 @320²', N: 1, C: 3, H: 320, W: 320, O: 64, k: 3, stride: 1, pad: 1, dilation: 1 },
  { name: 'U2Net 3x3 512→512 @20²', N: 1, C: 512, H: 20, W: 20, O: 512, k: 3, stride: 1, pad: 1, dilation: 1 },
  { name: 'ResNet18 7x7/2 3→64 @224²', N: 1, C: 3, H: 224, W: 224, O: 64, k: 7, stride: 2, pad: 3, dilation: 1 },
  { name: 'ResNet18 3x3 64→64 @56²', N: 1, C: 64, H: 56, W: 56, O: 64, k: 3, stride: 1, pad: 1, dilation: 1 },
  { name: 'ResNet18 1x1/2 64→128 @56²', N: 1, C: 64, H: 56, W: 56, O: 128, k: 1, stride: 2, pad: 0, dilation: 1 },
  // grad-input of this case is the transposed convolution 4×4/2 [1,64,40,40] → [1,64,80,80]
  { name: 'tconv 4x4/2 64→64 @80²', N: 1, C: 64, H: 80, W: 80, O: 64, k: 4, stride: 2, pad: 1, dilation: 1 },
];

const DEPTHWISE: Case[] = [
  { name: 'depthwise 3x3 64 ch @80²', N: 1, C: 64, H: 80, W: 80, O: 64, k: 3, stride: 1, pad: 1, dilation: 1, depthwise: true },
  // U²-NetP separable variant, first stage
  { name: 'depthwise 3x3 16 ch @320²', N: 1, C: 16, H: 320, W: 320, O: 16, k: 3, stride: 1, pad: 1, dilation: 1, depthwise: true },
  { name: 'depthwise 3x3 64 ch @80² d2', N: 1, C: 64, H: 80, W: 80, O: 64, k: 3, stride: 1, pad: 2, dilation: 2, depthwise: true },
];

export const convSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const peer = !process.argv.includes('--no-peer');
  const opts = quick ? { warmup: 1, iters: 1, repeats: 1 } : { warmup: 1, iters: 1, repeats: 3 };
  const ri = process.argv.indexOf('--rounds');
  const rounds = quick ? 1 : ri > 0 ? Number(process.argv[ri + 1]) : 2;
  const onlyDepthwise = process.argv.includes('--depthwise'),
    generic = process.argv.includes('--generic');
  const sync = async () => {
    const t = randn([1]);
    await t.data();
    t.dispose();
  };
  // --only <text>: just the cases whose name contains it
  const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : '';
  for (const c of (onlyDepthwise ? DEPTHWISE : [...CASES, ...DEPTHWISE]).filter((k) => k.name.includes(only))) {
    const OH = Math.floor((c.H + 2 * c.pad - c.dilation * (c.k - 1) - 1) / c.stride) + 1;
    const OW = Math.floor((c.W + 2 * c.pad - c.dilation * (c.k - 1) - 1) / c.stride) + 1;
    const groups = c.depthwise ? c.C : 1;
    const flops = (2 * c.N * c.O * OH * OW * c.C * c.k * c.k) / groups;
    const a: ConvAttrs = { stride: [c.stride, c.stride], padding: [c.pad, c.pad, c.pad, c.pad], dilation: [c.dilation, c.dilation], groups };
    const x = randn([c.N, c.C, c.H, c.W]),
      w = randn([c.O, c.C / groups, c.k, c.k]),
      dy = randn([c.N, c.O, OH, OW]);
    const run = (f: () => Tensor) => () => {
      tidy(() => {
        f();
      });
    };
    const ours: Record<Pass, () => void> = {
      fwd: run(() => conv2dOp.call1([x, w], a)),
      dx: run(() => conv2dGradInputOp.call1([dy, w], { ...a, inSize: [c.H, c.W] })),
      dw: run(() => conv2dGradWeightOp.call1([x, dy], { ...a, kSize: [c.k, c.k] })),
    };
    let tf: Awaited<ReturnType<typeof tfConvRunners>> | null = null;
    let tfError = '';
    if (peer) {
      try {
        tf = await tfConvRunners(c);
      } catch (e) {
        tfError = `TF.js failed: ${(e as Error).message}`;
      }
    }
    // alternate ours and theirs and keep each one's best round: other processes on the machine add noise
    const best: Record<Pass, number> = { fwd: Infinity, dx: Infinity, dw: Infinity };
    const bestGeneric: Record<Pass, number> = { fwd: Infinity, dx: Infinity, dw: Infinity };
    const withGeneric = generic && c.depthwise;
    const bestTf: Record<Pass, number> = { fwd: Infinity, dx: Infinity, dw: Infinity };
    for (let round = 0; round < rounds; round++) {
      for (const pass of PASSES) {
        best[pass] = Math.min(best[pass], await timeIt(ours[pass], sync, opts));
        if (withGeneric) {
          depthwiseConv.enabled = false;
          bestGeneric[pass] = Math.min(bestGeneric[pass], await timeIt(ours[pass], sync, opts));
          depthwiseConv.enabled = true;
        }
        const r = tf?.[pass];
        if (r && 'run' in r) bestTf[pass] = Math.min(bestTf[pass], await timeIt(r.run, r.sync, opts));
      }
    }
    tf?.dispose();
    x.dispose();
    w.dispose();
    dy.dispose();
    for (const pass of PASSES) {
      const r = tf?.[pass];
      const label = `${pass === 'fwd' ? 'forward' : pass === 'dx' ? 'grad-input' : 'grad-weight'} ${c.name}`;
      if (withGeneric) {
        rows.push({
          suite: 'conv',
          name: `${label} (generic kernel)`,
          metric: 'GFLOP/s',
          value: flops / bestGeneric[pass] / 1e9,
          peer: peer && r && 'run' in r ? { name: 'tfjs-webgpu', value: flops / bestTf[pass] / 1e9 } : undefined,
        });
      }
      rows.push({
        suite: 'conv',
        name: label,
        metric: 'GFLOP/s',
        value: flops / best[pass] / 1e9,
        peer: !peer
          ? undefined
          : r && 'run' in r
            ? { name: 'tfjs-webgpu', value: flops / bestTf[pass] / 1e9 }
            : { name: 'tfjs-webgpu', missing: r && 'missing' in r ? r.missing : tfError },
      });
    }
  }
  void device;
  return rows;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const device = await init();
  const rows = await convSuite({ device, quick: process.argv.includes('--quick') });
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`${pad('case', 56)} ${pad('webgrad', 9)} ${pad('tfjs', 9)} ratio`);
  for (const r of rows) {
    const p = r.peer && 'value' in r.peer ? r.peer.value : null;
    console.log(
      `${pad(r.name, 56)} ${pad(r.value.toFixed(2), 9)} ${pad(p === null ? '—' : p.toFixed(2), 9)} ${p === null ? (r.peer && 'missing' in r.peer ? r.peer.missing : '') : `${(r.value / p).toFixed(2)}×`}`,
    );
  }
  process.exit(0);
}
