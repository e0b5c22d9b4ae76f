/** Creating tensors: from host data, constants, ranges, identity. */
import type { Device } from '../../kernels/webgpu/device';
import { getDefaultDevice } from '../../kernels/webgpu/devices';
import { elementwiseKernel, WG } from '../../kernels/wgsl/elementwise';
import { grid } from '../../kernels/webgpu/device';
import { type AnyTypedArray, type DType, encodeFloat16, parseDType, typedArrayFor, wgslType } from '../../base/dtype';
import { ArgumentError, checkShape, sizeOf } from '../../base/shape';
import { type Tensor, empty } from '../tensor';
import { defineOp, type RefTensor } from './define';
import { roundTo } from './ref/elementwise';

export interface CreateOptions {
  dtype?: DType | string;
  device?: Device;
}

const dev = (o: CreateOptions) => o.device ?? getDefaultDevice();
const dt = (fn: string, o: CreateOptions, fallback: DType = 'float32') => (o.dtype ? parseDType(o.dtype, fn) : fallback);

type Nested = number | boolean | readonly Nested[];

/**
 * A tensor from nested arrays, a typed array (with `shape`), or a number.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * await init();
 * const x = tensor([[1, 2], [3, 4]]); // float32, shape [2, 2]
 * const labels = tensor([0, 2, 1], { dtype: 'int32' });
 * console.log(x.shape, await labels.data()); // [2, 2] Int32Array [0, 2, 1]
 * ```
 */
export function tensor(data: Nested | AnyTypedArray | ArrayLike<number>, options: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  let shape: number[];
  let flat: ArrayLike<number>;
  let inferred: DType = 'float32';
  if (ArrayBuffer.isView(data)) {
    flat = data as AnyTypedArray;
    shape = options.shape ? checkShape('tensor', 'shape', options.shape) : [flat.length];
    if (data instanceof Int32Array) inferred = 'int32';
    else if (data instanceof Uint32Array) inferred = 'uint32';
    else if (data instanceof Uint8Array) inferred = 'uint32';
  } else {
    shape = [];
    const values: number[] = [];
    let sawBool = false;
    const walk = (node: Nested, depth: number) => {
      if (Array.isArray(node)) {
        if (shape.length === depth) shape.push(node.length);
        else if (shape[depth] !== node.length)
          throw new ArgumentError(
            'tensor',
            'data',
            `is ragged at depth ${depth} (lengths ${shape[depth]} and ${node.length})`,
            'nested arrays of equal lengths',
          );
        node.forEach((c) => walk(c, depth + 1));
      } else if (typeof node === 'number' || typeof node === 'boolean') {
        if (depth !== shape.length) throw new ArgumentError('tensor', 'data', `mixes numbers and arrays at depth ${depth}`, 'nested arrays of equal depth');
        sawBool ||= typeof node === 'boolean';
        values.push(Number(node));
      } else throw new ArgumentError('tensor', 'data', `contains ${node === null ? 'null' : typeof node}`, 'numbers, booleans or nested arrays of them');
    };
    walk(data as Nested, 0);
    flat = values;
    if (options.shape) shape = checkShape('tensor', 'shape', options.shape);
    inferred = sawBool ? 'bool' : 'float32';
  }
  if (sizeOf(shape) !== flat.length) throw new ArgumentError('tensor', 'shape', `has ${sizeOf(shape)} elements`, `${flat.length}, the number of values given`);
  const dtype = dt('tensor', options, inferred);
  const typed = typedArrayFor(dtype, flat.length);
  for (let i = 0; i < flat.length; i++) typed[i] = dtype === 'bool' ? (flat[i] ? 1 : 0) : flat[i];
  const t = empty(shape, dtype, dev(options));
  t.device.upload(t.buffer, dtype === 'float16' ? encodeFloat16(typed) : typed);
  return t;
}

/** Writes element i = expr(i, v0, v1, …) into an existing tensor (also how an op's forward zeroes its output). */
export function fillInto(y: Tensor, expr = 'v0', scalars: readonly number[] = [0]): void {
  const compute: DType = y.dtype === 'bool' ? 'uint32' : y.dtype;
  const k = elementwiseKernel(
    'fill',
    expr,
    scalars.map((value) => ({ dtype: compute, shape: null, value })),
    compute,
    y.dtype,
    y.shape,
  );
  y.device.run('fill', k.key, k.source, [y.binding], grid(y.size, WG), { layout: k.layout, values: k.values });
}

/** Which closed form of the element index i a fill computes, with its scalars. */
type FillForm = 'full' | 'arange' | 'linspace' | 'eye';
interface FillAttrs {
  shape: number[];
  dtype: DType;
  device?: Device;
  form: FillForm;
  scalars: number[];
}

/** The WGSL of each form over i and the scalars v0…: full [value], arange [start, step], linspace [start, end, step, steps], eye [m]. */
function fillExpr(form: FillForm, dtype: DType): string {
  const t = wgslType(dtype === 'float16' ? 'float32' : dtype === 'bool' ? 'uint32' : dtype);
  switch (form) {
    case 'full':
      return 'v0';
    case 'arange':
      return `v0 + ${t}(i) * v1`;
    // symmetric: the first half counts up from start, the second down from end (one step gives [start])
    case 'linspace':
      return 'select(v1 - f32(u32(v3) - 1u - i) * v2, v0 + f32(i) * v2, i < u32(v3) / 2u)';
    case 'eye':
      return `select(${t}(0), ${t}(1), i / u32(v0) == i % u32(v0))`;
  }
}

/** Float64 value of element i of each form (independent of the WGSL: the plain formulas). */
function fillValue(form: FillForm, s: readonly number[], i: number): number {
  switch (form) {
    case 'full':
      return s[0];
    case 'arange':
      return s[0] + i * s[1];
    case 'linspace':
      return s[3] === 1 ? s[0] : s[0] + ((s[1] - s[0]) * i) / (s[3] - 1);
    case 'eye':
      return Math.floor(i / s[0]) === i % s[0] ? 1 : 0;
  }
}

/** Tensors whose element i is a closed form of i: constants, ranges, identity. */
const fillOp = defineOp({
  name: 'fill',
  inputs: {},
  shape: (_, { shape, dtype }: FillAttrs) => ({ shape, dtype }),
  device: (a) => a.device ?? getDefaultDevice(),
  forward: (_, { form, dtype, scalars }, [y]) => fillInto(y, fillExpr(form, dtype), scalars),
  // a constant fills any chunk alike; the other forms depend on the global index
  split: (_, { form }) => (form === 'full' ? { kind: 'flat', batched: [] } : null),
  reference: (_, { shape, dtype, form, scalars }) => ({
    shape,
    dtype,
    data: Float64Array.from({ length: sizeOf(shape) }, (_, i) => roundTo(dtype, fillValue(form, scalars, i))),
  }),
  noGrad: 'creation',
});

/** A tensor of the given shape filled with `value` (torch.full); a boolean value makes a bool tensor. */
export function full(shape: readonly number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  const s = checkShape('full', 'shape', shape);
  const dtype = dt('full', options, typeof value === 'boolean' ? 'bool' : 'float32');
  // bool: any non-zero value (NaN too) is true, as torch.full
  return fillOp.call1([], { shape: s, dtype, device: dev(options), form: 'full', scalars: [dtype === 'bool' ? (Number(value) !== 0 ? 1 : 0) : Number(value)] });
}
/**
 * A tensor of zeros (torch.zeros); float32 unless `dtype` says otherwise.
 *
 * @example
 * ```ts
 * import { init, zeros, ones, arange } from '@webgrad/core/node';
 * await init();
 * const z = zeros([2, 3]); // float32 [2, 3] of 0
 * const b = ones([4], { dtype: 'int32' });
 * console.log(await arange(0, 6, 2).data()); // Int32Array [0, 2, 4]: integer arguments give int32, as torch.arange
 * ```
 */
export const zeros = (shape: readonly number[], o: CreateOptions = {}) => full(shape, 0, o);
/** A tensor of ones (torch.ones); float32 unless `dtype` says otherwise. */
export const ones = (shape: readonly number[], o: CreateOptions = {}) => full(shape, 1, o);
const like = (x: Tensor, o: CreateOptions): CreateOptions => ({ dtype: o.dtype ?? x.dtype, device: o.device ?? x.device });
/**
 * A tensor shaped like `x` filled with `value`, on x's device and of its dtype unless overridden
 * (torch.full_like).
 */
export const fullLike = (x: Tensor, value: number | boolean, o: CreateOptions = {}) => full(x.shape, value, like(x, o));
/** Zeros shaped like `x`, with its dtype and device unless overridden (torch.zeros_like). */
export const zerosLike = (x: Tensor, o: CreateOptions = {}) => full(x.shape, 0, like(x, o));
/** Ones shaped like `x`, with its dtype and device unless overridden (torch.ones_like). */
export const onesLike = (x: Tensor, o: CreateOptions = {}) => full(x.shape, 1, like(x, o));
/** Uninitialised memory (fast; contents are whatever the pool held). */
export const emptyTensor = (shape: readonly number[], o: CreateOptions = {}) => empty(checkShape('empty', 'shape', shape), dt('empty', o), dev(o));

/** `arange(end)` or `arange(start, end, step)`: values start + i·step below end, as torch.arange. */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  if (end === undefined) {
    end = start;
    start = 0;
  }
  if (step === 0 || !Number.isFinite(step)) throw new ArgumentError('arange', 'step', `is ${step}`, 'a finite non-zero number');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const allInt = [start, end, step].every(Number.isInteger);
  const dtype = dt('arange', options, allInt ? 'int32' : 'float32');
  return fillOp.call1([], { shape: [n], dtype, device: dev(options), form: 'arange', scalars: [start, step] });
}

/** `steps` evenly spaced values from start to end inclusive (symmetric formula, as PyTorch). */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  if (!Number.isInteger(steps) || steps < 0) throw new ArgumentError('linspace', 'steps', `is ${steps}`, 'a non-negative integer');
  const step = steps > 1 ? (end - start) / (steps - 1) : 0;
  return fillOp.call1([], {
    shape: [steps],
    dtype: dt('linspace', options),
    device: dev(options),
    form: 'linspace',
    scalars: [start, steps === 1 ? start : end, step, steps],
  });
}

/** Identity matrix n×m (m defaults to n). */
export function eye(n: number, m = n, options: CreateOptions = {}): Tensor {
  const dtype = dt('eye', options);
  return fillOp.call1([], { shape: checkShape('eye', 'n', [n, m]), dtype, device: dev(options), form: 'eye', scalars: [m] });
}

/** Float64 references of the creation functions (for tests). */
export const creationReference = {
  full: (shape: number[], value: number, dtype: DType): RefTensor => ({ shape, dtype, data: new Float64Array(sizeOf(shape)).fill(roundTo(dtype, value)) }),
  arange: (start: number, end: number, step: number, dtype: DType): RefTensor => {
    const n = Math.max(0, Math.ceil((end - start) / step));
    return { shape: [n], dtype, data: Float64Array.from({ length: n }, (_, i) => start + i * step) };
  },
  linspace: (start: number, end: number, steps: number): RefTensor => ({
    shape: [steps],
    dtype: 'float32',
    data: Float64Array.from({ length: steps }, (_, i) => (steps === 1 ? start : start + ((end - start) * i) / (steps - 1))),
  }),
  eye: (n: number, m: number, dtype: DType): RefTensor => ({
    shape: [n, m],
    dtype,
    data: Float64Array.from({ length: n * m }, (_, k) => (Math.floor(k / m) === k % m ? 1 : 0)),
  }),
};
