/**
 * A few steps of each optimizer on fixed tensors vs PyTorch's update rules computed in float64
 * here (from the algorithms in PyTorch's documentation), plus parameter groups.
 */
import { describe, it, expect } from 'vitest';
import { tensor, optim, tidy, type Tensor } from '../../src/node';

const P0 = [0.5, -1.25, 2, 0.1, -0.3];
const GRADS = [
  [0.2, -0.1, 0.4, -0.05, 0.3],
  [-0.3, 0.2, 0.1, 0.15, -0.2],
  [0.05, 0.05, -0.4, 0.2, 0.1],
];

type Ref = (p: number[], grads: number[][]) => number[];

async function run(opt: optim.Optimizer): Promise<number[]> {
  let params = { w: tensor(P0) };
  let state = opt.init(params);
  for (const g of GRADS) {
    const r = tidy(() => opt.update({ w: tensor(g) }, state, params, { donate: true }));
    params = r.params;
    state = r.state;
  }
  return Array.from(await params.w.data());
}

const sgdRef =
  (lr: number, mom: number, damp: number, nesterov: boolean, wd: number): Ref =>
  (p0, grads) => {
    const p = p0.slice();
    let buf: number[] | null = null;
    for (const g0 of grads) {
      const g = g0.map((g, i) => g + wd * p[i]);
      let d = g;
      if (mom) {
        buf = buf ? buf.map((b, i) => mom * b + (1 - damp) * g[i]) : g.slice();
        d = nesterov ? g.map((x, i) => x + mom * buf![i]) : buf;
      }
      for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
    }
    return p;
  };

const adamRef =
  (lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: boolean, amsgrad: boolean): Ref =>
  (p0, grads) => {
    const p = p0.slice();
    const m = p.map(() => 0);
    const v = p.map(() => 0);
    const vmax = p.map(() => 0);
    grads.forEach((g0, k) => {
      const t = k + 1;
      for (let i = 0; i < p.length; i++) {
        if (decoupled) p[i] *= 1 - lr * wd;
        const g = decoupled ? g0[i] : g0[i] + wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * g;
        v[i] = b2 * v[i] + (1 - b2) * g * g;
        vmax[i] = Math.max(vmax[i], v[i]);
        const mhat = m[i] / (1 - b1 ** t);
        const vhat = (amsgrad ? vmax[i] : v[i]) / (1 - b2 ** t);
        p[i] -= (lr * mhat) / (Math.sqrt(vhat) + eps);
      }
    });
    return p;
  };

const rmspropRef =
  (lr: number, alpha: number, eps: number, wd: number, mom: number, centered: boolean): Ref =>
  (p0, grads) => {
    const p = p0.slice();
    const v = p.map(() => 0);
    const ga = p.map(() => 0);
    const buf = p.map(() => 0);
    for (const g0 of grads) {
      for (let i = 0; i < p.length; i++) {
        const g = g0[i] + wd * p[i];
        v[i] = alpha * v[i] + (1 - alpha) * g * g;
        let avg: number;
        if (centered) {
          ga[i] = alpha * ga[i] + (1 - alpha) * g;
          avg = Math.sqrt(v[i] - ga[i] * ga[i]) + eps;
        } else avg = Math.sqrt(v[i]) + eps;
        if (mom > 0) {
          buf[i] = mom * buf[i] + g / avg;
          p[i] -= lr * buf[i];
        } else p[i] -= (lr * g) / avg;
      }
    }
    return p;
  };

const cases: [string, optim.Optimizer, Ref][] = [
  ['sgd', optim.sgd({ lr: 0.1 }), sgdRef(0.1, 0, 0, false, 0)],
  ['sgd momentum+wd', optim.sgd({ lr: 0.1, momentum: 0.9, weightDecay: 0.01 }), sgdRef(0.1, 0.9, 0, false, 0.01)],
  ['sgd dampening', optim.sgd({ lr: 0.05, momentum: 0.8, dampening: 0.3 }), sgdRef(0.05, 0.8, 0.3, false, 0)],
  ['sgd nesterov', optim.sgd({ lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }), sgdRef(0.1, 0.9, 0, true, 1e-3)],
  ['adam', optim.adam({ lr: 1e-2 }), adamRef(1e-2, 0.9, 0.999, 1e-8, 0, false, false)],
  ['adam wd eps', optim.adam({ lr: 1e-2, betas: [0.8, 0.99], eps: 1e-3, weightDecay: 0.1 }), adamRef(1e-2, 0.8, 0.99, 1e-3, 0.1, false, false)],
  ['adam amsgrad', optim.adam({ lr: 1e-2, amsgrad: true }), adamRef(1e-2, 0.9, 0.999, 1e-8, 0, false, true)],
  ['adamw', optim.adamw({ lr: 1e-2 }), adamRef(1e-2, 0.9, 0.999, 1e-8, 1e-2, true, false)],
  ['rmsprop', optim.rmsprop({ lr: 1e-2 }), rmspropRef(1e-2, 0.99, 1e-8, 0, 0, false)],
  ['rmsprop centered momentum wd', optim.rmsprop({ lr: 1e-2, centered: true, momentum: 0.5, weightDecay: 0.1 }), rmspropRef(1e-2, 0.99, 1e-8, 0.1, 0.5, true)],
];

describe('optimizers match PyTorch update rules', () => {
  for (const [name, opt, ref] of cases) {
    it(name, async () => {
      const got = await run(opt);
      const want = ref(P0, GRADS);
      got.forEach((g, i) => expect(g).toBeCloseTo(want[i], 5));
      // and the parameters moved (a rule that ignores its input would fail the comparison, this guards the test itself)
      expect(want.some((w, i) => Math.abs(w - P0[i]) > 1e-4)).toBe(true);
    });
  }
});

describe('parameter groups', () => {
  it('frozen parameters get no update and no state; lrScale is honoured', async () => {
    const params = { backbone: { w: tensor([1, 2]) }, head: { w: tensor([1, 2]) } };
    const opt = optim.sgd({ lr: 0.1, groups: [{ match: 'backbone', frozen: true }] });
    const state = opt.init(params);
    expect(Object.keys(state.slots)).toEqual(['head.w']);
    // gradients only for the trainable part
    const r = opt.update({ head: { w: tensor([1, 1]) } }, state, params);
    expect(r.params.backbone.w).toBe(params.backbone.w);
    expect(Array.from(await r.params.head.w.data())).toEqual([expect.closeTo(0.9, 6), expect.closeTo(1.9, 6)]);

    const scaled = optim.sgd({ lr: 0.1, groups: [{ match: /^head\./, lrScale: 10 }] });
    const s2 = scaled.init(params);
    const r2 = scaled.update({ backbone: { w: tensor([1, 1]) }, head: { w: tensor([1, 1]) } }, s2, params);
    expect(Array.from(await r2.params.backbone.w.data())).toEqual([expect.closeTo(0.9, 6), expect.closeTo(1.9, 6)]);
    expect(Array.from(await r2.params.head.w.data())).toEqual([expect.closeTo(0, 6), expect.closeTo(1, 6)]);
    expect(scaled.learningRate(s2, 'head.w')).toBeCloseTo(1);
  });

  it('a missing or misshapen gradient is a clear error naming the parameter', () => {
    const params = { fc: { weight: tensor([[1, 2]]) } };
    const opt = optim.adam({ lr: 1e-3 });
    const st = opt.init(params);
    expect(() => opt.update({}, st, params)).toThrow(/grads\.fc\.weight.*missing/);
    expect(() => opt.update({ fc: { weight: tensor([1, 2]) } }, st, params)).toThrow(/grads\.fc\.weight.*shape \[2\].*\[1, 2\]/);
  });

  it('a schedule drives the learning rate by update count', async () => {
    const opt = optim.sgd({ lr: (step: number) => (step < 1 ? 1 : 0.5) });
    let params = { w: tensor([0]) };
    let state = opt.init(params);
    for (let i = 0; i < 3; i++) ({ params, state } = opt.update({ w: tensor([1]) }, state, params));
    expect(await params.w.item()).toBeCloseTo(-2);
  });
});

describe('gradient clipping', () => {
  it('clipGradNorm scales by maxNorm/‖g‖ and returns the norm', async () => {
    const g = { a: tensor([3, 0]), b: tensor([[4]]) };
    const { grads, totalNorm } = optim.clipGradNorm(g, 1);
    expect(await totalNorm.item()).toBeCloseTo(5);
    expect(Array.from(await (grads.a as Tensor).data())).toEqual([expect.closeTo(0.6, 5), 0]);
    const small = optim.clipGradNorm(g, 10);
    expect(Array.from(await (small.grads.a as Tensor).data())).toEqual([expect.closeTo(3, 5), 0]);
    const v = optim.clipGradValue(g, 3.5);
    expect(await (v.b as Tensor).item()).toBe(3.5);
  });
});
