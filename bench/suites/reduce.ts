/**
 * Reduction, softmax and elementwise bandwidth, plus per-op dispatch overhead.
 * Standalone: `npx tsx bench/suites/reduce.ts` (add `--quick` for a short run).
 */
import { init, getDefaultDevice, tensor, tidy, sum, add, softmax, type Tensor } from '../../src/node';
import { timeIt, type BenchRow, type Suite, type BenchContext } from '../lib';

const rand = (n: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.random() * 2 - 1;
  return a;
};

export const reduceSuite: Suite = async ({ device, quick }) => {
  const rows: BenchRow[] = [];
  const sync = () => device.sync();
  const opts = quick ? { warmup: 1, iters: 2, repeats: 1 } : { warmup: 2, iters: 5, repeats: 3 };
  const gbps = (bytes: number, s: number) => bytes / s / 1e9;
  const N = 1 << 22; // 4M floats
  const bandwidth = async (name: string, x: Tensor, f: (x: Tensor) => Tensor, bytes: number, note?: string) => {
    const s = await timeIt(
      () => {
        tidy(() => f(x));
      },
      sync,
      opts,
    );
    rows.push({ suite: 'reduce', name, metric: 'GB/s', value: gbps(bytes, s), note: note ?? `${(s * 1e3).toFixed(2)} ms` });
  };
  const a = tensor(rand(N), { shape: [N] });
  const b = tensor(rand(N), { shape: [N] });
  try {
    await bandwidth('sum all of 4M floats', a, (x) => sum(x), N * 4);
    const rowsLast = tensor(rand(N), { shape: [4096, 1024] });
    const rowsFirst = tensor(rand(N), { shape: [1024, 4096] });
    await bandwidth('sum over last axis of [4096, 1024]', rowsLast, (x) => sum(x, { dim: 1 }), N * 4 + 4096 * 4);
    await bandwidth('sum over first axis of [1024, 4096]', rowsFirst, (x) => sum(x, { dim: 0 }), N * 4 + 4096 * 4);
    // softmax counts one read and one write of the tensor (what a fused kernel would move)
    await bandwidth('softmax over last axis of [4096, 1024]', rowsLast, (x) => softmax(x, 1), N * 8, 'composite: max, sub, exp, sum, div');
    rowsLast.dispose();
    rowsFirst.dispose();
    const s = await timeIt(
      () => {
        tidy(() => add(a, b));
      },
      sync,
      opts,
    );
    rows.push({ suite: 'reduce', name: 'add two 4M tensors', metric: 'GB/s', value: gbps(N * 12, s), note: `${(s * 1e3).toFixed(2)} ms, read 2 + write 1` });
    // dispatch overhead: 1000 tiny adds, synced once at the end
    const p = tensor([1, 2, 3, 4]),
      q = tensor([4, 3, 2, 1]);
    const n = quick ? 200 : 1000;
    const t = await timeIt(
      () => {
        tidy(() => {
          for (let i = 0; i < n; i++) add(p, q);
        });
      },
      sync,
      { warmup: 1, iters: 1, repeats: quick ? 1 : 3 },
    );
    rows.push({ suite: 'reduce', name: `dispatch overhead (${n} adds of 4 elements)`, metric: 'µs/op', value: (t / n) * 1e6 });
    p.dispose();
    q.dispose();
  } finally {
    a.dispose();
    b.dispose();
  }
  return rows;
};

// standalone: npx tsx bench/suites/reduce.ts [--quick]
if (import.meta.url === `file://${process.argv[1]}`) {
  await init();
  const ctx: BenchContext = { device: getDefaultDevice(), quick: process.argv.includes('--quick') };
  for (const r of await reduceSuite(ctx))
    console.log(`${r.name.padEnd(48)} ${r.value.toFixed(r.value < 10 ? 3 : 1).padStart(10)} ${r.metric}${r.note ? `   (${r.note})` : ''}`);
  process.exit(0);
}
