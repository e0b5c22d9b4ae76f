/** The roofline and ratio arithmetic of bench/roofline-math.ts, and the round order of the interleaved timing. */
import { it, expect } from 'vitest';
import {
  attainableFlops,
  boundBy,
  convFlops,
  formatSpeedup,
  intensity,
  median,
  roofFraction,
  roofSeconds,
  si,
  speedup,
  textTable,
} from '../../bench/roofline-math';
import { interleave } from '../../bench/suites/peers-table';

// a roof of 100 GFLOP/s and 10 GB/s: the ridge is at 10 FLOP/byte
const roof = { flops: 100e9, bytesPerSec: 10e9 };

it('compute-bound work: the roof is the FMA peak', () => {
  const w = { flops: 2e9, bytes: 1e6 }; // 2000 FLOP/byte
  expect(intensity(w)).toBe(2000);
  expect(boundBy(w, roof)).toBe('compute');
  expect(attainableFlops(w, roof)).toBe(100e9);
  expect(roofSeconds(w, roof)).toBeCloseTo(0.02, 12);
  // 40 ms for work the roof does in 20 ms: half the roof
  expect(roofFraction(w, 0.04, roof)).toBeCloseTo(0.5, 12);
});

it('memory-bound work: the roof is intensity × bandwidth', () => {
  const w = { flops: 1e8, bytes: 1e8 }; // 1 FLOP/byte, left of the ridge
  expect(boundBy(w, roof)).toBe('memory');
  expect(attainableFlops(w, roof)).toBe(10e9);
  expect(roofSeconds(w, roof)).toBeCloseTo(0.01, 12);
  expect(roofFraction(w, 0.1, roof)).toBeCloseTo(0.1, 12);
  // a copy (no FLOPs): bytes ÷ bandwidth
  const copy = { flops: 0, bytes: 5e8 };
  expect(boundBy(copy, roof)).toBe('memory');
  expect(roofSeconds(copy, roof)).toBeCloseTo(0.05, 12);
  expect(roofFraction(copy, 0.05, roof)).toBeCloseTo(1, 12);
  // the two forms of the roofline agree: flops / attainable = roofSeconds
  expect(w.flops / attainableFlops(w, roof)).toBeCloseTo(roofSeconds(w, roof), 12);
});

it('no fraction for a run that did not happen', () => {
  expect(roofFraction({ flops: 1, bytes: 1 }, 0, roof)).toBeNull();
  expect(roofFraction({ flops: 1, bytes: 1 }, Number.NaN, roof)).toBeNull();
  expect(roofFraction({ flops: 1, bytes: 1 }, Infinity, roof)).toBeNull();
});

it('speedup is theirs ÷ ours for times, and says faster or slower', () => {
  expect(speedup(372, 742)).toBeCloseTo(742 / 372, 12);
  expect(formatSpeedup(speedup(100, 250))).toBe('2.50× faster');
  expect(formatSpeedup(speedup(12, 6.6))).toBe('1.82× slower');
  expect(speedup(null, 3)).toBeNull();
  expect(speedup(3, null)).toBeNull();
  expect(speedup(0, 3)).toBeNull();
  expect(formatSpeedup(null)).toBe('—');
});

it('median, conv FLOPs, SI prefixes, table layout', () => {
  expect(median([5, 1, 3])).toBe(3);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(() => median([])).toThrow(/empty/);
  // 3×3 64→64 at 80²: 2·64·64·6400·9
  expect(convFlops({ N: 1, C: 64, O: 64, OH: 80, OW: 80, kH: 3, kW: 3 })).toBe(471859200);
  // depthwise: C / groups = 1 input channel per output
  expect(convFlops({ N: 1, C: 64, O: 64, OH: 80, OW: 80, kH: 3, kW: 3, groups: 64 })).toBe(7372800);
  expect(si(2.147e9)).toBe('2.15 G');
  expect(si(512)).toBe('512 ');
  const t = textTable(
    ['a', 'b'],
    [
      ['xx', '1'],
      ['y', '22'],
    ],
  ).split('\n');
  expect(t).toEqual(['a    b', '--  --', 'xx   1', 'y   22']);
});

it('interleave rotates which side goes first and times every round', async () => {
  const order: string[] = [];
  const side = (name: string) => ({ run: () => void order.push(name), sync: async () => {} });
  const t = await interleave([side('a'), side('b'), side('c')], { rounds: 3, iters: 1, warmup: 1 });
  // warm-up a, b, c; then rounds a b c / b c a / c a b
  expect(order.join('')).toBe('abc' + 'abc' + 'bca' + 'cab');
  expect(t.map((s) => s.ms.length)).toEqual([3, 3, 3]);
  expect(t.every((s) => s.hostMs.every((h) => h >= 0))).toBe(true);
});
