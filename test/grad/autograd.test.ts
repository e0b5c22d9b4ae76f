/** The autograd engine: argnums, aux, pytrees, reuse, stopGradient/noGrad, higher order, vjp, long chains, shared subgraphs. */
import { describe, it, expect, afterEach } from 'vitest';
import { tensor, add, mul, sum, exp, tanh, square, pow, grad, valueAndGrad, vjp, stopGradient, noGrad, memory, tree, tidy, type Tensor } from '../../src/node';
import { registeredOps } from '../../src/tensor/ops/define';

const vals = async (t: Tensor) => [...(await t.data())];
const close = (got: number[], want: number[], tol = 1e-4) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - want[i]), `element ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(want[i]))));
};

/** Counts calls of each named op's VJP while `fn` runs. */
function countVjps<T>(names: string[], fn: () => T): [T, Record<string, number>] {
  const counts: Record<string, number> = {};
  const saved = names.map((n) => {
    const op = registeredOps().get(n)!;
    const orig = op.vjp!;
    counts[n] = 0;
    op.vjp = (ctx) => {
      counts[n]++;
      return orig(ctx);
    };
    return () => {
      op.vjp = orig;
    };
  });
  try {
    return [fn(), counts];
  } finally {
    saved.forEach((r) => r());
  }
}

let baseline = 0;
afterEach(() => {
  /* each test disposes what it made; leaks would show in the last test */
});

describe('valueAndGrad / grad', () => {
  it('argnums as a number and as an array', async () => {
    baseline = memory().liveTensors;
    const x = tensor([1, 2, 3]),
      y = tensor([4, 5, 6]);
    const f = (a: Tensor, b: Tensor) => sum(mul(mul(a, a), b)); // Σ a²b
    const [v, gy] = valueAndGrad(f, { argnums: 1 })(x, y);
    expect(await v.item()).toBe(1 * 4 + 4 * 5 + 9 * 6);
    close(await vals(gy), [1, 4, 9]);
    const [gx, gy2] = grad(f, { argnums: [0, 1] })(x, y) as Tensor[];
    close(await vals(gx), [8, 20, 36]);
    close(await vals(gy2), [1, 4, 9]);
    const [only] = grad(f, { argnums: [0] })(x, y) as Tensor[]; // an array argnums gives an array back
    close(await vals(only), [8, 20, 36]);
    tree.dispose([x, y, v, gy, gx, gy2, only]);
  });

  it('hasAux passes aux through untouched', async () => {
    const x = tensor([1, 2]);
    const f = (a: Tensor) => {
      const sq = square(a);
      return [sum(sq), { sq, note: 'hi' }] as const;
    };
    const [[loss, aux], g] = valueAndGrad(f, { hasAux: true })(x);
    expect(await loss.item()).toBe(5);
    expect(aux.note).toBe('hi');
    expect(await vals(aux.sq)).toEqual([1, 4]);
    close(await vals(g), [2, 4]);
    const [g2, aux2] = grad(f, { hasAux: true })(x);
    close(await vals(g2), [2, 4]);
    tree.dispose([x, loss, aux, g, g2, aux2]);
  });

  it('pytrees of params: gradients mirror nested objects and arrays; non-tensor leaves give null', async () => {
    const params = { layer: { w: tensor([1, 2]), b: tensor(3) }, list: [tensor([4]), { deep: tensor([5, 6]) }], lr: 0.5 };
    const f = (p: typeof params) =>
      add(add(sum(mul(p.layer.w, p.layer.b)), sum(square(p.list[0] as Tensor))), sum(mul((p.list[1] as { deep: Tensor }).deep, p.lr)));
    const g = grad(f)(params);
    expect(Object.keys(g)).toEqual(['layer', 'list', 'lr']);
    close(await vals(g.layer.w), [3, 3]);
    close(await vals(g.layer.b), [3]);
    close(await vals(g.list[0]), [8]);
    close(await vals(g.list[1].deep), [0.5, 0.5]);
    expect(g.lr).toBeNull();
    expect(tree.flatten(g).some((l) => l.path === 'list.1.deep')).toBe(true);
    tree.dispose([params, g]);
  });

  it('unused inputs get zeros of their shape', async () => {
    const x = tensor([1, 2]),
      unused = tensor([[1, 2, 3]]);
    const [gx, gu] = grad((a: Tensor, _b: Tensor) => sum(a), { argnums: [0, 1] })(x, unused) as Tensor[];
    close(await vals(gx), [1, 1]);
    expect(gu.shape).toEqual([1, 3]);
    expect(await vals(gu)).toEqual([0, 0, 0]);
    const gw = grad((p: { a: Tensor; b: Tensor }) => sum(p.a))({ a: x, b: unused });
    expect(await vals(gw.b)).toEqual([0, 0, 0]);
    tree.dispose([x, unused, gx, gu, gw]);
  });

  it('the same tensor passed twice gets a gradient per argument', async () => {
    const x = tensor([1, 2, 3]);
    const [ga, gb] = grad((a: Tensor, b: Tensor) => sum(mul(a, b)), { argnums: [0, 1] })(x, x) as Tensor[];
    close(await vals(ga), [1, 2, 3]);
    close(await vals(gb), [1, 2, 3]);
    // one tensor in two leaves of one pytree argument
    const g = grad((p: Tensor[]) => sum(mul(p[0], square(p[1]))))([x, x]);
    close(await vals(g[0]), [1, 4, 9]);
    close(await vals(g[1]), [2, 8, 18]);
    tree.dispose([x, ga, gb, g]);
  });

  it('a tensor used several times accumulates its gradients', async () => {
    const x = tensor([1, -2, 3]);
    const g = grad((a: Tensor) => sum(add(add(mul(a, a), a), mul(exp(a), a))))(x); // 2a + 1 + eᵃ(1 + a)
    close(
      await vals(g),
      [1, -2, 3].map((a) => 2 * a + 1 + Math.exp(a) * (1 + a)),
    );
    tree.dispose([x, g]);
  });

  it('stopGradient and noGrad block gradients', async () => {
    const x = tensor([1, 2, 3]);
    const g1 = grad((a: Tensor) => sum(mul(a, stopGradient(a))))(x); // d/da (a·const) = a
    close(await vals(g1), [1, 2, 3]);
    const g2 = grad((a: Tensor) =>
      add(
        sum(a),
        noGrad(() => sum(square(a))),
      ),
    )(x);
    close(await vals(g2), [1, 1, 1]);
    const g3 = grad((a: Tensor) => sum(stopGradient(square(a))))(x);
    expect(await vals(g3)).toEqual([0, 0, 0]);
    tree.dispose([x, g1, g2, g3]);
  });
});

describe('higher order and vjp', () => {
  it('grad of grad of x³ at 2 is 12 (and grad³ is 6)', async () => {
    const x = tensor(2);
    const cube = (a: Tensor) => mul(mul(a, a), a);
    const d1 = grad(cube),
      d2 = grad((a: Tensor) => d1(a)),
      d3 = grad((a: Tensor) => d2(a));
    const g1 = d1(x);
    expect(await g1.item()).toBeCloseTo(12, 4);
    const g2 = d2(x);
    expect(await g2.item()).toBeCloseTo(12, 4);
    const g3 = d3(x);
    expect(await g3.item()).toBeCloseTo(6, 4);
    const gp = grad(grad((a: Tensor) => pow(a, 3)))(x);
    expect(await gp.item()).toBeCloseTo(12, 3);
    tree.dispose([x, g1, g2, g3, gp]);
  });

  it('vjp of a non-scalar output with a given cotangent', async () => {
    const x = tensor([1, 2, 3]),
      w = tensor([[1], [2]]);
    const out = tidy(() => {
      const [y, back] = vjp((a: Tensor, b: Tensor) => mul(square(a), b), x, w); // [2, 3] output
      expect(y.shape).toEqual([2, 3]);
      const [gx, gw] = back(
        tensor([
          [1, 0, 1],
          [0, 1, 0],
        ]),
      );
      return { y, gx, gw };
    });
    expect(await vals(out.y)).toEqual([1, 4, 9, 2, 8, 18]);
    close(await vals(out.gx), [2 * 1 * 1, 2 * 2 * 2, 2 * 3 * 1]);
    close(await vals(out.gw), [1 + 9, 4]);
    tree.dispose([x, w, out]);
  });
});

describe('graph structure', () => {
  it('a chain of 2000 ops: no stack overflow, each VJP called once', async () => {
    const x = tensor([0.5, -1]);
    const N = 2000;
    const f = (a: Tensor) => {
      let y = a;
      for (let i = 0; i < N / 2; i++) y = add(mul(y, 0.999), 0.001);
      return sum(y);
    };
    const [g, counts] = countVjps(['mul', 'add'], () => grad(f)(x));
    expect(counts).toEqual({ mul: N / 2, add: N / 2 });
    close(await vals(g), [0.999 ** (N / 2), 0.999 ** (N / 2)], 1e-3);
    tree.dispose([x, g]);
  });

  it("residual / diamond graphs: each node's VJP runs once (not once per path)", async () => {
    const x = tensor([0.1, 0.2]);
    const blocks = 24; // 2^24 paths: a recursive backward would never finish
    const f = (a: Tensor) => {
      let h = a;
      for (let i = 0; i < blocks; i++) h = add(h, mul(tanh(h), 0.1));
      return sum(h);
    };
    const [g, counts] = countVjps(['tanh', 'add', 'mul'], () => grad(f)(x));
    expect(counts.tanh).toBe(blocks);
    expect(counts.mul).toBe(blocks);
    // the same value by forward-mode reasoning on the CPU: dh' / dh = 1 + 0.1(1 − tanh²h)
    const want = [0.1, 0.2].map((h0) => {
      let h = h0,
        d = 1;
      for (let i = 0; i < blocks; i++) {
        const t = Math.tanh(h);
        d *= 1 + 0.1 * (1 - t * t);
        h += 0.1 * t;
      }
      return d;
    });
    close(await vals(g), want, 1e-3);
    tree.dispose([x, g]);
  });

  it('leaves no tensors behind', () => {
    expect(memory().liveTensors).toBe(baseline);
  });
});
