/**
 * matmul (torch.matmul semantics, plus transposed-operand flags) and linear (F.linear).
 * One primitive op, 'matmul', computes op(a)·op(b) with batch broadcasting, where op transposes
 * the last two dims when its flag is set; transposes are never materialised (the kernel reads
 * through them), which is also how the VJP gets dA = dY·Bᵀ and dB = Aᵀ·dY.
 * float32 only: integer tensors are rejected with an error that says to cast.
 */
import { matmulPlan, MATMUL_MAX_BATCH_RANK, type MatmulProblem } from '../../kernels/wgsl/matmul';
import { chooseMatmulTile } from '../../kernels/wgsl/matmul-autotune';
import { ArgumentError, fmtShape, sizeOf } from '../../base/shape';
import type { Tensor } from '../tensor';
import { defineOp, defineComposite, type Op, type RefTensor } from './define';
import { add } from './elementwise';
import { reshape } from './shape-ops';
import { requireTensor } from '../require-tensor';

export interface MatmulAttrs {
  transA?: boolean;
  transB?: boolean;
}

interface Dims {
  /** Output batch shape, and each operand's batch strides over it in whole matrices (0 = broadcast). */
  batch: number[];
  aStrides: number[];
  bStrides: number[];
  M: number;
  N: number;
  K: number;
  /** Output shape (with the dims of 1-D operands removed). */
  out: number[];
}

/** Shape rule shared by the public wrapper (which reports errors) and the op. */
function dims(fn: string, aShape: readonly number[], bShape: readonly number[], { transA = false, transB = false }: MatmulAttrs): Dims {
  if (aShape.length === 0) throw new ArgumentError(fn, 'a', 'is a 0-d tensor', 'a tensor with at least 1 dimension');
  if (bShape.length === 0) throw new ArgumentError(fn, 'b', 'is a 0-d tensor', 'a tensor with at least 1 dimension');
  if (transA && aShape.length < 2)
    throw new ArgumentError(fn, 'transA', `is set but a is 1-D (shape ${fmtShape(aShape)})`, 'a with at least 2 dimensions when transA is set');
  if (transB && bShape.length < 2)
    throw new ArgumentError(fn, 'transB', `is set but b is 1-D (shape ${fmtShape(bShape)})`, 'b with at least 2 dimensions when transB is set');
  const ra = aShape.length,
    rb = bShape.length;
  const [M, Ka] = ra === 1 ? [1, aShape[0]] : transA ? [aShape[ra - 1], aShape[ra - 2]] : [aShape[ra - 2], aShape[ra - 1]];
  const [Kb, N] = rb === 1 ? [bShape[0], 1] : transB ? [bShape[rb - 1], bShape[rb - 2]] : [bShape[rb - 2], bShape[rb - 1]];
  if (Ka !== Kb) {
    const aw = ra === 1 ? 'its length' : transA ? 'dim -2 (transposed)' : 'its last dim';
    const bw = rb === 1 ? 'its length' : transB ? 'its last dim (transposed)' : 'dim -2';
    throw new ArgumentError(
      fn,
      'b',
      `has shape ${fmtShape(bShape)} with ${bw} = ${Kb}, but a has shape ${fmtShape(aShape)} with ${aw} = ${Ka}`,
      'the inner dimensions to match (a·b needs a [..., m, k] and b [..., k, n])',
    );
  }
  const ab = ra > 2 ? aShape.slice(0, ra - 2) : [];
  const bb = rb > 2 ? bShape.slice(0, rb - 2) : [];
  const nb = Math.max(ab.length, bb.length);
  const batch: number[] = [];
  for (let i = 0; i < nb; i++) {
    const da = ab[ab.length - nb + i] ?? 1,
      db = bb[bb.length - nb + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new ArgumentError(
        fn,
        'b',
        `has shape ${fmtShape(bShape)} whose batch dims ${fmtShape(bb)} do not broadcast with a's batch dims ${fmtShape(ab)} (a has shape ${fmtShape(aShape)})`,
        `batch dimension ${i - nb} to be ${da} or 1 (got ${db})`,
      );
    }
    batch.push(da === 1 ? db : da);
  }
  if (nb > MATMUL_MAX_BATCH_RANK) throw new ArgumentError(fn, 'a', `has ${nb} batch dims`, `at most ${MATMUL_MAX_BATCH_RANK}`);
  const strides = (own: number[]) => {
    const st: number[] = new Array(nb).fill(0);
    let acc = 1;
    for (let i = nb - 1; i >= 0; i--) {
      const j = own.length - nb + i;
      if (j < 0) continue;
      st[i] = own[j] === 1 ? 0 : acc;
      acc *= own[j];
    }
    return st;
  };
  const out = [...batch, ...(ra === 1 ? [] : [M]), ...(rb === 1 ? [] : [N])];
  return { batch, aStrides: strides(ab), bStrides: strides(bb), M, N, K: Ka, out };
}

/** The kernel problem for a·b (batch dims folded into rows when b is shared by every batch). */
export function matmulProblem(aShape: readonly number[], bShape: readonly number[], attrs: MatmulAttrs): MatmulProblem {
  const d = dims('matmul', aShape, bShape, attrs);
  let { batch, aStrides, bStrides, M } = d;
  const transA = attrs.transA ?? false;
  // b shared by every batch and a not transposed: fold a's batch into its rows (one bigger matmul)
  if (batch.length > 0 && bStrides.every((s) => s === 0) && !transA && sizeOf(aShape) === sizeOf(batch) * M * d.K) {
    M *= sizeOf(batch);
    batch = [];
    aStrides = [];
    bStrides = [];
  }
  return { batchShape: batch, aStrides, bStrides, M, N: d.N, K: d.K, transA, transB: attrs.transB ?? false };
}

function forwardMatmul(a: Tensor, b: Tensor, attrs: MatmulAttrs, y: Tensor): void {
  const problem = matmulProblem(a.shape, b.shape, attrs);
  const plan = matmulPlan(problem, chooseMatmulTile(a.device, problem));
  a.device.run('matmul', plan.key, plan.source, [a.binding, b.binding, y.binding], plan.workgroups, { layout: plan.layout, values: plan.values });
}

/** Float64 reference, straight from the definition: out[..., m, n] = Σ_k opA[..., m, k] · opB[..., k, n]. */
function refMatmul(a: RefTensor, b: RefTensor, attrs: MatmulAttrs): RefTensor {
  const transA = attrs.transA ?? false,
    transB = attrs.transB ?? false;
  // view 1-D operands as matrices: a as a row [1, k], b as a column [k, 1]
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  const rows = (s: number[], t: boolean) => (t ? s[s.length - 1] : s[s.length - 2]);
  const cols = (s: number[], t: boolean) => (t ? s[s.length - 2] : s[s.length - 1]);
  const M = rows(as, transA),
    K = cols(as, transA),
    N = cols(bs, transB);
  if (rows(bs, transB) !== K) throw new Error('matmul reference: inner dims differ');
  const aBatch = as.slice(0, -2),
    bBatch = bs.slice(0, -2);
  const nb = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]) => [...new Array(nb - s.length).fill(1), ...s];
  const pa = pad(aBatch),
    pb = pad(bBatch);
  const batch = pa.map((x, i) => Math.max(x, pb[i]));
  const nBatch = batch.reduce((x, y) => x * y, 1);
  const data = new Float64Array(nBatch * M * N);
  const idx = new Array<number>(nb).fill(0);
  // element (i, j) of the stored last-two-dims matrix of shape [r, c] at flat batch position `base`
  const at = (t: RefTensor, base: number, c: number, i: number, j: number) => t.data[base + i * c + j];
  for (let z = 0; z < nBatch; z++) {
    let ia = 0,
      ib = 0;
    for (let d = 0; d < nb; d++) {
      ia = ia * pa[d] + (pa[d] === 1 ? 0 : idx[d]);
      ib = ib * pb[d] + (pb[d] === 1 ? 0 : idx[d]);
    }
    const baseA = ia * M * K,
      baseB = ib * K * N;
    const aCols = as[as.length - 1],
      bCols = bs[bs.length - 1];
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          const x = transA ? at(a, baseA, aCols, k, m) : at(a, baseA, aCols, m, k);
          const y = transB ? at(b, baseB, bCols, n, k) : at(b, baseB, bCols, k, n);
          s += x * y;
        }
        data[(z * M + m) * N + n] = s;
      }
    }
    for (let d = nb - 1; d >= 0; d--) {
      if (++idx[d] < batch[d]) break;
      idx[d] = 0;
    }
  }
  const shape = [...batch, ...(a.shape.length === 1 ? [] : [M]), ...(b.shape.length === 1 ? [] : [N])];
  return { shape, dtype: 'float32', data };
}

const matmulOp: Op<MatmulAttrs> = defineOp({
  name: 'matmul',
  inputs: { a: 'tensor', b: 'tensor' },
  shape: ({ a, b }, attrs: MatmulAttrs) => ({ shape: dims('matmul', a.shape, b.shape, attrs).out, dtype: 'float32' }),
  forward: ({ a, b }, attrs, [y]) => forwardMatmul(a, b, attrs, y),
  reference: ({ a, b }, attrs) => refMatmul(a, b, attrs),
  vjp: ({ dy, inputs: { a, b }, attrs }) => {
    const tA = attrs.transA ?? false,
      tB = attrs.transB ?? false;
    const d = dims('matmul', a.shape, b.shape, attrs);
    // work on matrices: a 1-D a is a row [1, k], a 1-D b a column [k, 1]; dy gets its dims back
    const A = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
    const B = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
    const G = reshape(dy, [...d.batch, d.M, d.N]);
    const mm = (x: Tensor, y: Tensor, transA: boolean, transB: boolean): Tensor => matmulOp.call1([x, y], { transA, transB });
    // C = op(A)·op(B):  d op(A) = G·op(B)ᵀ,  d op(B) = op(A)ᵀ·G, then undo op on each
    const dA = !tA ? mm(G, B, false, !tB) : mm(B, G, tB, true);
    const dB = !tB ? mm(A, G, !tA, false) : mm(G, A, true, tA);
    // back to the operands' ranks; the engine sums broadcast batch dims (sumToShape)
    const gA = a.ndim === 1 ? reshape(dA, [...d.batch, d.K]) : dA;
    const gB = b.ndim === 1 ? reshape(dB, [...d.batch, d.K]) : dB;
    return [gA, gB];
  },
});

function checkFloat(fn: string, arg: string, x: unknown): asserts x is Tensor {
  requireTensor(fn, arg, x);
  if (x.dtype !== 'float32')
    throw new ArgumentError(fn, arg, `has dtype ${x.dtype} (shape ${fmtShape(x.shape)})`, `a float32 tensor (cast it: cast(${arg}, 'float32'))`);
}

/**
 * Matrix product with torch.matmul's rules: 1-D·1-D is a dot product (0-d result); a 1-D first
 * operand is a row vector and a 1-D second one a column vector (the added dim is removed again);
 * N-D operands are stacks of matrices whose batch dims broadcast. float32 only.
 * webgrad extension: `transA` / `transB` use aᵀ / bᵀ (last two dims) without copying.
 *
 * @example
 * ```ts
 * import { init, tensor, matmul } from '@webgrad/core/node';
 * await init();
 * const a = tensor([[1, 2], [3, 4]]);
 * const b = tensor([[1], [1]]);
 * console.log(await matmul(a, b).data()); // Float32Array [3, 7]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulAttrs = {}): Tensor {
  checkFloat('matmul', 'a', a);
  checkFloat('matmul', 'b', b);
  const attrs = { transA: options.transA ?? false, transB: options.transB ?? false };
  dims('matmul', a.shape, b.shape, attrs);
  return matmulOp.call1([a, b], attrs);
}

/** Float64 reference for linear: y[..., o] = Σ_i x[..., i] · w[o, i] + bias[o]. */
function refLinear({ x, w, bias }: { x: RefTensor; w: RefTensor; bias?: RefTensor }): RefTensor {
  const inF = x.shape[x.shape.length - 1];
  const wIs1d = w.shape.length === 1;
  const outF = wIs1d ? 1 : w.shape[0];
  const rows = sizeOf(x.shape.slice(0, -1));
  const data = new Float64Array(rows * outF);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outF; o++) {
      let s = bias ? bias.data[bias.data.length === 1 ? 0 : o] : 0;
      for (let i = 0; i < inF; i++) s += x.data[r * inF + i] * w.data[o * inF + i];
      data[r * outF + o] = s;
    }
  }
  const shape = [...x.shape.slice(0, -1), ...(wIs1d ? [] : [outF])];
  return { shape, dtype: 'float32', data };
}

const linearOp = defineComposite({
  name: 'linear',
  inputs: { x: 'tensor', w: 'tensor', bias: 'tensor?' },
  shape: ({ x, w }) => ({ shape: [...x.shape.slice(0, -1), ...(w.shape.length === 1 ? [] : [w.shape[0]])], dtype: 'float32' }),
  impl: ({ x, w, bias }) => {
    const xw = matmulOp.call1([x, w], { transA: false, transB: w.ndim === 2 });
    return bias === undefined ? xw : add(xw, bias);
  },
  reference: refLinear,
});

/**
 * F.linear: x · wᵀ + bias, with weight [outFeatures, inFeatures] (read transposed in place, never
 * copied) and optional bias [outFeatures]. x is [..., inFeatures].
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  checkFloat('linear', 'input', x);
  checkFloat('linear', 'weight', weight);
  if (x.ndim === 0) throw new ArgumentError('linear', 'input', 'is a 0-d tensor', 'a tensor of shape [..., inFeatures]');
  if (weight.ndim !== 2 && weight.ndim !== 1)
    throw new ArgumentError('linear', 'weight', `has shape ${fmtShape(weight.shape)}`, 'a 2-D tensor [outFeatures, inFeatures] (or 1-D [inFeatures])');
  const inF = weight.shape[weight.ndim - 1];
  if (x.shape[x.ndim - 1] !== inF) {
    throw new ArgumentError(
      'linear',
      'input',
      `has shape ${fmtShape(x.shape)} with ${x.shape[x.ndim - 1]} features in its last dim`,
      `${inF} features to match weight of shape ${fmtShape(weight.shape)} ([outFeatures, inFeatures])`,
    );
  }
  if (bias !== undefined && bias !== null) {
    checkFloat('linear', 'bias', bias);
    const outF = weight.ndim === 2 ? weight.shape[0] : 1;
    const ok = weight.ndim === 2 ? bias.ndim === 1 && bias.shape[0] === outF : bias.ndim === 0;
    if (!ok)
      throw new ArgumentError(
        'linear',
        'bias',
        `has shape ${fmtShape(bias.shape)}`,
        weight.ndim === 2 ? `shape [${outF}] (outFeatures of weight ${fmtShape(weight.shape)})` : 'a 0-d tensor (weight is 1-D)',
      );
    return linearOp.call1([x, weight, bias], {});
  }
  return linearOp.call1([x, weight], {});
}
