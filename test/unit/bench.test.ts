/** The bench harness's table and ratio (above 1: webgrad better, whatever the metric's direction). */
import { it, expect } from 'vitest';
import { formatTable, ratioOf } from '../../bench/index';

it('ratio and table', () => {
  expect(ratioOf({ suite: 's', name: 'n', metric: 'GFLOP/s', value: 20, peer: { name: 'tfjs', value: 10 } })).toBe(2);
  expect(ratioOf({ suite: 's', name: 'n', metric: 'µs/op', value: 20, peer: { name: 'tfjs', value: 10 } })).toBe(0.5);
  expect(ratioOf({ suite: 's', name: 'n', metric: 'ms', value: 1, peer: { name: 'tfjs', missing: 'no op' } })).toBeNull();
  expect(ratioOf({ suite: 's', name: 'n', metric: 'ms', value: 1 })).toBeNull();
  const t = formatTable([
    { suite: 'matmul', name: '256³', metric: 'GFLOP/s', value: 12.345, peer: { name: 'tfjs', value: 10 } },
    { suite: 'reduce', name: 'sum', metric: 'GB/s', value: 0.5, peer: { name: 'tfjs', missing: 'unsupported' } },
  ]).split('\n');
  expect(t[0]).toMatch(/^suite\s+name\s+metric\s+webgrad\s+peer\s+ratio$/);
  expect(t[2]).toMatch(/matmul\s+256³\s+GFLOP\/s\s+12\.3\s+10\.0 \(tfjs\)\s+1\.23×/);
  expect(t[3]).toMatch(/n\/a \(tfjs: unsupported\)\s+—$/);
});

it('a failed row shows "failed" and its message, with no ratio', () => {
  const row = {
    suite: 'u2net-peers',
    name: 'train',
    metric: 'images/s' as const,
    value: NaN,
    peer: { name: 'tfjs', missing: 'no dilated gradient' },
    error: "a tensor of 201326592 bytes exceeds this device's largest buffer",
  };
  expect(ratioOf(row)).toBeNull();
  const t = formatTable([row]).split('\n');
  expect(t[2]).toMatch(/train \[FAILED: a tensor of 201326592 bytes .*\]\s+images\/s\s+failed\s+n\/a \(tfjs: no dilated gradient\)\s+—$/);
});
