/** softmax and logSoftmax along one dim: composites, shifted by the max for stability. */
import { normAxis, ArgumentError } from '../../base/shape';
import { Tensor } from '../tensor';
import { defineComposite, type RefTensor, type TensorMeta } from './define';
import { sum } from './reduce';
import { sub, div, exp, log } from './elementwise';
import { stableShift } from './stats';

interface DimAttrs {
  dim: number;
}

/** Float64 reference: applies `f` to every 1-D slice along `dim`. */
function refAlong(x: RefTensor, dim: number, f: (vs: number[]) => number[]): RefTensor {
  const n = x.shape[dim] ?? 1;
  const inner = x.shape.slice(dim + 1).reduce((a, b) => a * b, 1);
  const outer = x.shape.slice(0, dim).reduce((a, b) => a * b, 1);
  const data = new Float64Array(x.data.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => (o * n + k) * inner + i;
      const ys = f(Array.from({ length: n }, (_, k) => x.data[at(k)]));
      ys.forEach((y, k) => {
        data[at(k)] = y;
      });
    }
  }
  return { shape: [...x.shape], dtype: 'float32', data };
}
/** The float64 log-softmax of one slice (the one log-softmax reference; the losses use it too). */
const refLogSoftmax = (vs: number[]) => {
  const m = Math.max(...vs);
  const lse = m + Math.log(vs.reduce((s, v) => s + Math.exp(v - m), 0));
  return vs.map((v) => v - lse);
};

/** Float64 log-softmax along `dim`. */
export const refLogSoftmaxAlong = (x: RefTensor, dim: number): RefTensor => refAlong(x, dim, refLogSoftmax);

const sameAsInput = ({ x }: { x: TensorMeta }, _: DimAttrs) => ({ shape: x.shape, dtype: 'float32' as const });

const softmaxOp = defineComposite({
  name: 'softmax',
  inputs: { x: 'tensor' },
  shape: sameAsInput,
  impl: ({ x }, { dim }) => {
    if (x.size === 0) return exp(x);
    const e = exp(sub(x, stableShift(x, [dim])));
    return div(e, sum(e, { dim, keepdim: true }));
  },
  reference: ({ x }, { dim }) => refAlong(x, dim, (vs) => refLogSoftmax(vs).map(Math.exp)),
});

const logSoftmaxOp = defineComposite({
  name: 'logSoftmax',
  inputs: { x: 'tensor' },
  shape: sameAsInput,
  impl: ({ x }, { dim }) => {
    if (x.size === 0) return exp(x);
    const z = sub(x, stableShift(x, [dim]));
    return sub(z, log(sum(exp(z), { dim, keepdim: true })));
  },
  reference: ({ x }, { dim }) => refLogSoftmaxAlong(x, dim),
});

const dimAttrs = (fn: string, x: Tensor, dim: number | undefined): DimAttrs => {
  if (!(x instanceof Tensor)) throw new ArgumentError(fn, 'input', `is ${typeof x}`, 'a Tensor');
  if (dim === undefined) throw new ArgumentError(fn, 'dim', 'is missing', 'the dim to normalise over (PyTorch no longer infers it)');
  if (x.dtype !== 'float32') throw new ArgumentError(fn, 'input', `has dtype ${x.dtype}`, 'float32');
  return { dim: normAxis(fn, dim, x.ndim) };
};

/**
 * exp(x) / sum(exp(x)) along `dim`, as torch.softmax (computed with the max subtracted).
 *
 * @example
 * ```ts
 * import { init, tensor, softmax } from '@webgrad/core/node';
 * await init();
 * const p = softmax(tensor([[1, 2, 3]]), 1);
 * console.log(await p.data()); // Float32Array [0.090, 0.245, 0.665]
 * ```
 */
export const softmax = (x: Tensor, dim: number) => softmaxOp.call1([x], dimAttrs('softmax', x, dim));
/** x − logsumexp(x) along `dim`, as torch.log_softmax. */
export const logSoftmax = (x: Tensor, dim: number) => logSoftmaxOp.call1([x], dimAttrs('logSoftmax', x, dim));
