import { describe, it, expect } from 'vitest';
import { add, matmul, relu, sum, tensor, valueAndGrad, tidy, type Tensor } from '../../src/node';

describe('valueAndGrad onLeafGrad', () => {
  it('reports each leaf once, as soon as its gradient is final (last layer first), with the returned gradient', async () => {
    const x = tensor([
      [1, -2, 3],
      [0.5, 1, -1],
    ]);
    const p = {
      l1: {
        w: tensor([
          [0.1, -0.2],
          [0.3, 0.4],
          [-0.5, 0.6],
        ]),
        b: tensor([0.01, -0.02]),
      },
      l2: { w: tensor([[1.5], [-0.7]]), b: tensor([0.2]) },
      unused: tensor([1, 2]),
    };
    const f = (q: typeof p) => sum(add(matmul(relu(add(matmul(x, q.l1.w), q.l1.b)), q.l2.w), q.l2.b));
    const seen: { path: string; values: number[] }[] = [];
    const pending: Promise<void>[] = [];
    const onLeafGrad = (argnum: number, path: string, g: Tensor) => {
      expect(argnum).toBe(0);
      const entry = { path, values: [] as number[] };
      seen.push(entry);
      // read now, mid-backward: the value must already be the final one
      pending.push(g.data().then((d) => void entry.values.push(...d)));
    };
    const [, grads] = tidy(() => valueAndGrad(f, { onLeafGrad })(p));
    await Promise.all(pending);
    const order = seen.map((s) => s.path);
    expect([...order].sort()).toEqual(['l1.b', 'l1.w', 'l2.b', 'l2.w', 'unused']);
    expect(order.indexOf('l2.w')).toBeLessThan(order.indexOf('l1.w'));
    expect(order.indexOf('l2.b')).toBeLessThan(order.indexOf('l1.b'));
    expect(order[order.length - 1]).toBe('unused');
    const want: Record<string, Tensor> = { 'l1.w': grads.l1.w, 'l1.b': grads.l1.b, 'l2.w': grads.l2.w, 'l2.b': grads.l2.b, unused: grads.unused };
    for (const s of seen) expect(s.values).toEqual(Array.from(await want[s.path].data()));
    expect(seen.find((s) => s.path === 'unused')!.values).toEqual([0, 0]);
  });
});
