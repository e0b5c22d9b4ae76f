/** Element types a tensor can hold. `bool` is stored as one u32 (0 or 1) per element. */
export type DType = 'float32' | 'int32' | 'uint32' | 'bool';

export const DTYPES: readonly DType[] = ['float32', 'int32', 'uint32', 'bool'];

/** The WGSL scalar type that stores each dtype. */
export function wgslType(dtype: DType): 'f32' | 'i32' | 'u32' {
  return dtype === 'float32' ? 'f32' : dtype === 'int32' ? 'i32' : 'u32';
}

export type TypedArrayFor<D extends DType> = D extends 'float32' ? Float32Array : D extends 'int32' ? Int32Array : Uint32Array;
export type AnyTypedArray = Float32Array | Int32Array | Uint32Array;

export function typedArrayFor(dtype: DType, length: number): AnyTypedArray;
export function typedArrayFor(dtype: DType, buffer: ArrayBuffer, offset?: number, length?: number): AnyTypedArray;
export function typedArrayFor(dtype: DType, a: number | ArrayBuffer, offset = 0, length?: number): AnyTypedArray {
  const C = dtype === 'float32' ? Float32Array : dtype === 'int32' ? Int32Array : Uint32Array;
  return typeof a === 'number' ? new C(a) : new C(a, offset, length);
}

export const isFloat = (d: DType) => d === 'float32';
export const isInteger = (d: DType) => d === 'int32' || d === 'uint32';

/**
 * Result type of a binary arithmetic op, following PyTorch's promotion:
 * float wins, then signed int, then unsigned; bool+bool stays bool only for logical ops (callers decide).
 */
export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (a === 'float32' || b === 'float32') return 'float32';
  if (a === 'int32' || b === 'int32') return 'int32';
  if (a === 'uint32' || b === 'uint32') return 'uint32';
  return 'bool';
}

/** Type a plain JS number takes next to a tensor of `other` type (PyTorch's "weak" scalar rule). */
export function scalarResultType(other: DType, value: number): DType {
  if (other === 'float32') return 'float32';
  if (!Number.isInteger(value)) return 'float32';
  return other === 'bool' ? 'int32' : other;
}

/** Normalises user spellings (`'f32'`, `'i32'`, `'u32'`) to canonical dtype names. */
export function parseDType(d: string, fn: string): DType {
  const aliases: Record<string, DType> = { f32: 'float32', i32: 'int32', u32: 'uint32', float: 'float32', int: 'int32' };
  const r = (DTYPES as readonly string[]).includes(d) ? (d as DType) : aliases[d];
  if (!r) throw new TypeError(`${fn}: dtype must be one of ${DTYPES.join(', ')}; got '${d}'`);
  return r;
}
