/**
 * Generator for elementwise kernels over 1–3 operands with PyTorch broadcasting. Each operand is a
 * buffer or a scalar passed in the uniform block. Specialised on dtypes, operand kinds and whether
 * every buffer already has the output's shape (then no index math is needed); sizes and strides
 * travel as uniforms.
 */
import { UniformLayout, type UniformField, type UniformValues } from '../webgpu/uniforms';
import { wgslType, type DType } from '../../base/dtype';
import { broadcastStrides, type Shape } from '../../base/shape';
import { kernel, type Shader, type StorageBinding } from './builder';

export const MAX_RANK = 8;
export const WG = 256;

export interface EwOperand {
  dtype: DType;
  shape: Shape | null /* null = scalar uniform */;
  value?: number;
}

export interface EwKernel {
  key: string;
  source: () => Shader;
  layout: UniformLayout;
  values: UniformValues;
}

/**
 * @param name    op name (part of the key)
 * @param expr    WGSL expression over `v0..v{k-1}` (already converted to `computeType`), yielding the output's storage type
 * @param computeType  type each operand is converted to before `expr`
 */
/**
 * Broadcast index plan: the output's dims with size-1 dims dropped and adjacent dims merged wherever
 * every operand walks them contiguously (stride[i] = stride[i+1]·size[i+1], zero strides included),
 * so [8,64,64,64]·[1,64,1,1] runs as rank 3 [8,64,4096] with strides [0,1,0]. Operands whose
 * strides equal the output's read at the flat index; the others get their offset from the
 * (unrolled, rank-specialised) index decomposition.
 */
export function coalesce(outShape: Shape, strides: readonly (readonly number[])[]): { shape: number[]; strides: number[][] } {
  const shape: number[] = [];
  const st: number[][] = strides.map(() => []);
  outShape.forEach((d, i) => {
    if (d === 1) return;
    const k = shape.length - 1;
    if (k >= 0 && strides.every((s, b) => st[b][k] === s[i] * d)) {
      shape[k] *= d;
      strides.forEach((s, b) => {
        st[b][k] = s[i];
      });
    } else {
      shape.push(d);
      strides.forEach((s, b) => st[b].push(s[i]));
    }
  });
  return { shape, strides: st };
}

/**
 * @param name    op name (part of the key)
 * @param expr    WGSL expression over `v0..v{k-1}` (already converted to `computeType`), yielding the output's storage type
 * @param computeType  type each operand is converted to before `expr`
 */
export function elementwiseKernel(name: string, expr: string, operands: readonly EwOperand[], computeType: DType, outDtype: DType, outShape: Shape): EwKernel {
  if (outShape.length > MAX_RANK) throw new Error(`${name}: tensors of rank ${outShape.length} exceed the supported rank ${MAX_RANK}`);
  const fields: UniformField[] = [
    { name: 'n', type: 'u32' },
    { name: 'rank', type: 'u32' },
  ];
  const values: UniformValues = { n: outShape.reduce((a, b) => a * b, 1), rank: outShape.length };
  // float16 operands are converted to f32 and computed in f32 (scalars travel as f32); only the store rounds to f16
  const scalarType = (d: DType) => wgslType(d === 'float16' ? 'float32' : d) as 'f32' | 'i32' | 'u32';
  operands.forEach((o, i) => {
    if (o.shape === null) {
      fields.push({ name: `s${i}`, type: scalarType(o.dtype) });
      values[`s${i}`] = o.value ?? 0;
    }
  });
  const buffers = operands.map((o, i) => (o.shape === null ? -1 : i)).filter((i) => i >= 0);
  const plan = coalesce(
    outShape,
    buffers.map((b) => broadcastStrides(operands[b].shape!, outShape)),
  );
  const rank = plan.shape.length;
  const dense = stridesOfShape(plan.shape);
  // per buffer operand: 'i' (reads at the flat index), 'z' (one element: offset 0) or 'g' (gathers)
  const mode = new Map<number, 'i' | 'z' | 'g'>();
  buffers.forEach((b, k) => {
    const st = plan.strides[k];
    mode.set(b, st.every((v, d) => v === dense[d]) ? 'i' : st.every((v) => v === 0) ? 'z' : 'g');
  });
  const gathers = buffers.filter((b) => mode.get(b) === 'g');
  if (gathers.length > 0) {
    fields.push({ name: 'shape', type: 'u32', vec4s: 2 });
    values.shape = plan.shape;
    gathers.forEach((b) => {
      fields.push({ name: `st${b}`, type: 'u32', vec4s: 2 });
      values[`st${b}`] = plan.strides[buffers.indexOf(b)];
    });
  }
  const layout = new UniformLayout(fields);
  const ct = scalarType(computeType);

  const kinds = operands.map((o, i) => (o.shape === null ? `s${scalarType(o.dtype)}` : `${mode.get(i)}${wgslType(o.dtype)}`));
  // the gathering operands' stride patterns (which coalesced dims each walks) fix the index code
  const walks = gathers.map((b) => plan.strides[buffers.indexOf(b)].map((v) => (v ? 1 : 0)));
  const variant = { name, expr, operands: kinds, compute: ct, out: wgslType(outDtype), rank: gathers.length ? rank : 0, walks };
  const { key, source } = kernel('ew', variant, (v) => {
    const storage: StorageBinding[] = [];
    const loads: string[] = [];
    v.operands.forEach((kind, i) => {
      if (kind[0] === 's') {
        loads.push(`let v${i} = ${v.compute}(p.s${i});`);
        return;
      }
      storage.push({ name: `in${i}`, type: kind.slice(1) });
      loads.push(`let v${i} = ${v.compute}(in${i}[${kind[0] === 'i' ? 'i' : kind[0] === 'z' ? '0u' : `o${i}`}]);`);
    });
    storage.push({ name: 'out', type: v.out, access: 'read_write' });
    const at = (f: string, d: number) => `p.${f}[${d >> 2}][${d & 3}]`;
    const index: string[] = [];
    const gathering = v.operands.map((kind, i) => (kind[0] === 'g' ? i : -1)).filter((i) => i >= 0);
    if (gathering.length > 0) {
      // coordinates only for dims some gathering operand walks (the rest are divided out)
      const used = (d: number) => v.walks.some((w) => w[d] !== 0);
      index.push('var r = i;');
      for (let d = v.rank - 1; d > 0; d--) {
        if (used(d)) index.push(`let q${d} = r / ${at('shape', d)}; let c${d} = r - q${d} * ${at('shape', d)}; r = q${d};`);
        else index.push(`r = r / ${at('shape', d)};`);
      }
      index.push('let c0 = r;');
      gathering.forEach((b, g) => {
        const terms = Array.from({ length: v.rank }, (_, d) => d)
          .filter((d) => v.walks[g][d] !== 0)
          .map((d) => `c${d} * ${at(`st${b}`, d)}`);
        index.push(`let o${b} = ${terms.join(' + ')};`);
      });
    }
    return {
      uniforms: layout,
      storage,
      workgroupSize: WG,
      grid: 'n',
      body: `
  ${index.join('\n  ')}
  ${loads.join('\n  ')}
  out[i] = ${v.out === 'f16' ? `f16(${v.expr})` : v.expr};`,
    };
  });
  return { key, source, layout, values };
}

function stridesOfShape(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d];
  }
  return st;
}
