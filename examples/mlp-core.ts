/**
 * A small MLP (2 → 16 → 1, tanh, MSE) trained with plain SGD on a fixed synthetic regression set.
 * Runtime-neutral: imports only the core, so Node, Deno and browsers run the same code
 * (each runtime calls `init()` its own way first).
 */
import { type Tensor, tensor, tidy, valueAndGrad, tree, add, mul, sub, square, sum, tanh, matmul } from '../src/index';

export type Params = { l1: { weight: Tensor; bias: Tensor }; l2: { weight: Tensor; bias: Tensor } };

/** Deterministic uniform numbers in [-1, 1) (a 32-bit LCG), so every runtime sees the same data. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
}

export function makeData(n = 64, seed = 1): { x: Tensor; y: Tensor } {
  const r = lcg(seed);
  const xs: number[] = [],
    ys: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = r() * 1.5,
      b = r() * 1.5;
    xs.push(a, b);
    ys.push(Math.sin(2 * a) * 0.8 + 0.5 * b);
  }
  return { x: tensor(xs, { shape: [n, 2] }), y: tensor(ys, { shape: [n, 1] }) };
}

/** PyTorch nn.Linear's default init range: U(-1/√fanIn, 1/√fanIn). Weights are [in, out]. */
export function initParams(seed = 7, hidden = 16): Params {
  const r = lcg(seed);
  const u = (count: number, fanIn: number) => Array.from({ length: count }, () => r() / Math.sqrt(fanIn));
  return {
    l1: { weight: tensor(u(2 * hidden, 2), { shape: [2, hidden] }), bias: tensor(u(hidden, 2), { shape: [hidden] }) },
    l2: { weight: tensor(u(hidden, hidden), { shape: [hidden, 1] }), bias: tensor(u(1, hidden), { shape: [1] }) },
  };
}

/** x [N, in] · w [in, out] + b. */
const linear = (x: Tensor, w: Tensor, b: Tensor) => add(matmul(x, w), b);

export function forward(p: Params, x: Tensor): Tensor {
  return linear(tanh(linear(x, p.l1.weight, p.l1.bias)), p.l2.weight, p.l2.bias);
}

export function mseLoss(p: Params, x: Tensor, y: Tensor): Tensor {
  return mul(sum(square(sub(forward(p, x), y))), 1 / y.size);
}

/**
 * One SGD step inside `tidy`: returns the loss and new params (kept); the old params are disposed.
 * Nothing else survives the step.
 */
export function sgdStep(params: Params, x: Tensor, y: Tensor, lr: number): { loss: Tensor; params: Params } {
  const out = tidy(() => {
    const [loss, g] = valueAndGrad(mseLoss)(params, x, y);
    const next: Params = tree.map(params, (p: Tensor, _path: string, gp: Tensor) => sub(p, mul(gp, lr)), g);
    return { loss, params: next };
  });
  tree.dispose(params);
  return out;
}

/** Trains for `steps` SGD steps; returns the loss before each step. */
export async function trainMLP({
  steps = 20,
  lr = 0.2,
  log,
}: {
  steps?: number;
  lr?: number;
  log?: (step: number, loss: number) => void;
} = {}): Promise<number[]> {
  const { x, y } = makeData();
  let params = initParams();
  const losses: number[] = [];
  for (let i = 0; i < steps; i++) {
    const step = sgdStep(params, x, y, lr);
    params = step.params;
    const l = await step.loss.item();
    step.loss.dispose();
    losses.push(l);
    log?.(i, l);
  }
  tree.dispose(params);
  x.dispose();
  y.dispose();
  return losses;
}
