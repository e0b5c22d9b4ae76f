/**
 * Element types a tensor can hold. `bool` is stored as one u32 (0 or 1) per element. `float16` is
 * stored as IEEE binary16 (2 bytes) and needs a device with WebGPU's 'shader-f16' feature; it is
 * meant for inference (see src/models/u2net/inference.ts): only the ops that list it in their accepted
 * dtypes (`dtypes` in defineOp) take it, and they compute in f32, rounding to f16 only when they store.
 */
export type DType = 'float32' | 'float16' | 'int32' | 'uint32' | 'bool';

/** The 4-byte dtypes: what an op accepts unless it declares otherwise (float16 is opt-in per op). */
export const DTYPES: readonly DType[] = ['float32', 'int32', 'uint32', 'bool'];

/** The WGSL scalar type that stores each dtype. */
export function wgslType(dtype: DType): 'f32' | 'f16' | 'i32' | 'u32' {
  return dtype === 'float32' ? 'f32' : dtype === 'float16' ? 'f16' : dtype === 'int32' ? 'i32' : 'u32';
}

/** Bytes per element. */
export const byteSize = (dtype: DType): number => (dtype === 'float16' ? 2 : 4);

export type TypedArrayFor<D extends DType> = D extends 'float32' | 'float16' ? Float32Array : D extends 'int32' ? Int32Array : Uint32Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

/** A host array for `dtype`'s values (float16 values are held as a Float32Array; see encodeFloat16). */
export function typedArrayFor(dtype: DType, length: number): AnyTypedArray;
export function typedArrayFor(dtype: DType, buffer: ArrayBuffer, offset?: number, length?: number): AnyTypedArray;
export function typedArrayFor(dtype: DType, a: number | ArrayBuffer, offset = 0, length?: number): AnyTypedArray {
  if (dtype === 'float16') {
    if (typeof a === 'number') return new Float32Array(a);
    return decodeFloat16(new Uint16Array(a, offset, length ?? Math.floor((a.byteLength - offset) / 2)));
  }
  const C = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint32Array;
  return typeof a === 'number' ? new C(a) : new C(a, offset, length);
}

export const isFloat = (d: DType) => d === 'float32' || d === 'float16';
export const isInteger = (d: DType) => d === 'int32' || d === 'uint32';

/**
 * Result type of a binary arithmetic op, following PyTorch's promotion:
 * float wins (float32 over float16), then signed int, then unsigned; bool+bool stays bool only for logical ops (callers decide).
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float32' || b === 'float32') return 'float32';
  if (a === 'float16' || b === 'float16') return 'float16';
  if (a === 'int32' || b === 'int32') return 'int32';
  if (a === 'uint32' || b === 'uint32') return 'uint32';
  return 'bool';
}

/** Type a plain JS number takes next to a tensor of `other` type (PyTorch's "weak" scalar rule). */
export function scalarResultType(other: DType, value: number): DType {
  if (other === 'float32' || other === 'float16') return other;
  if (!Number.isInteger(value)) return 'float32';
  return other === 'bool' ? 'int32' : other;
}

/** Normalises user spellings (`'f32'`, `'f16'`, `'half'`, `'i32'`, `'u32'`) to canonical dtype names. */
export function parseDType(d: string, fn: string): DType {
  const aliases: Record<string, DType> = {
    f32: 'float32',
    i32: 'int32',
    u32: 'uint32',
    float: 'float32',
    int: 'int32',
    float16: 'float16',
    f16: 'float16',
    half: 'float16',
  };
  const r = (DTYPES as readonly string[]).includes(d) ? (d as DType) : aliases[d];
  if (!r) throw new TypeError(`${fn}: dtype must be one of ${[...DTYPES, 'float16'].join(', ')}; got '${d}'`);
  return r;
}

/** Every dtype, float16 included: what the few ops that store float16 (for inference) declare. */
export const ALL_DTYPES: readonly DType[] = [...DTYPES, 'float16'];

// ---- binary16 on the host -------------------------------------------------------------------------

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** binary16 bits of `v`, rounded to nearest even (overflow gives ±Infinity, NaN stays NaN), as a GPU's f32→f16 conversion. */
export function toFloat16Bits(v: number): number {
  f32[0] = v; // first to f32, as the GPU does (double rounding f64→f32→f16 agrees with f64→f16 except in ties we never hit in tests)
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let m = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    if (rest > half || (rest === half && m & 1)) m++;
    return sign | m;
  }
  const m = mant >>> 13;
  const rest = mant & 0x1fff;
  let r = sign | (e << 10) | m;
  if (rest > 0x1000 || (rest === 0x1000 && m & 1)) r++; // a carry into the exponent is the right result (up to Infinity)
  return r;
}

/** The number a binary16 bit pattern holds. */
export function fromFloat16Bits(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f,
    m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** `v` rounded to the nearest binary16 value (what storing into a float16 tensor does). */
export const roundFloat16 = (v: number): number => fromFloat16Bits(toFloat16Bits(v));

export function encodeFloat16(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = toFloat16Bits(values[i]);
  return out;
}

export function decodeFloat16(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = fromFloat16Bits(bits[i]);
  return out;
}

/** Whether `device` can hold float16 tensors (WebGPU's 'shader-f16' feature was granted). */
export const hasFloat16 = (device: { features: ReadonlySet<string> }): boolean => device.features.has('shader-f16');
