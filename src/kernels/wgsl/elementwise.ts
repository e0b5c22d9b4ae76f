/**
 * Generator for elementwise kernels over 1–3 operands with PyTorch broadcasting. Each operand is a
 * buffer or a scalar passed in the uniform block. Specialised on dtypes, operand kinds and whether
 * every buffer already has the output's shape (then no index math is needed); sizes and strides
 * travel as uniforms.
 */
import { UniformLayout, type UniformField, type UniformValues } from '../webgpu/uniforms';
import { wgslType, type DType } from '../../base/dtype';
import { broadcastStrides, type Shape } from '../../base/shape';

export const MAX_RANK = 8;
export const WG = 256;

export interface EwOperand { dtype: DType; shape: Shape | null /* null = scalar uniform */; value?: number; }

export interface EwKernel {
  key: string;
  source: () => string;
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
      strides.forEach((s, b) => { st[b][k] = s[i]; });
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
export function elementwiseKernel(name: string, expr: string, operands: readonly EwOperand[], computeType: DType,
                                  outDtype: DType, outShape: Shape): EwKernel {
  if (outShape.length > MAX_RANK) throw new Error(`${name}: tensors of rank ${outShape.length} exceed the supported rank ${MAX_RANK}`);
  const fields: UniformField[] = [{ name: 'n', type: 'u32' }, { name: 'rank', type: 'u32' }];
  const values: UniformValues = { n: outShape.reduce((a, b) => a * b, 1), rank: outShape.length };
  // float16 operands are converted to f32 and computed in f32 (scalars travel as f32); only the store rounds to f16
  const scalarType = (d: DType) => wgslType(d === 'float16' ? 'float32' : d) as 'f32' | 'i32' | 'u32';
  operands.forEach((o, i) => {
    if (o.shape === null) { fields.push({ name: `s${i}`, type: scalarType(o.dtype) }); values[`s${i}`] = o.value ?? 0; }
  });
  const buffers = operands.map((o, i) => (o.shape === null ? -1 : i)).filter((i) => i >= 0);
  const plan = coalesce(outShape, buffers.map((b) => broadcastStrides(operands[b].shape!, outShape)));
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
  const half = outDtype === 'float16' || operands.some((o) => o.shape !== null && o.dtype === 'float16');

  const key = `ew:${name}:${operands.map((o, i) => (o.shape === null ? `s${scalarType(o.dtype)}` : `${mode.get(i)}${wgslType(o.dtype)}`)).join(',')}:${ct}:${wgslType(outDtype)}:r${gathers.length ? rank : 0}${gathers.map((b) => `.${plan.strides[buffers.indexOf(b)].map((v) => (v ? 1 : 0)).join('')}`).join('')}:${expr}`;

  const source = () => {
    let binding = 1;
    const decls: string[] = [];
    const loads: string[] = [];
    operands.forEach((o, i) => {
      if (o.shape === null) { loads.push(`let v${i} = ${ct}(p.s${i});`); return; }
      decls.push(`@group(0) @binding(${binding++}) var<storage, read> in${i}: array<${wgslType(o.dtype)}>;`);
      const m = mode.get(i);
      loads.push(`let v${i} = ${ct}(in${i}[${m === 'i' ? 'i' : m === 'z' ? '0u' : `o${i}`}]);`);
    });
    decls.push(`@group(0) @binding(${binding}) var<storage, read_write> out: array<${wgslType(outDtype)}>;`);
    const at = (f: string, d: number) => `p.${f}[${d >> 2}][${d & 3}]`;
    const index: string[] = [];
    if (gathers.length > 0) {
      // coordinates only for dims some gathering operand walks (the rest are divided out)
      const used = (d: number) => gathers.some((b) => plan.strides[buffers.indexOf(b)][d] !== 0);
      index.push('var r = i;');
      for (let d = rank - 1; d > 0; d--) {
        if (used(d)) index.push(`let q${d} = r / ${at('shape', d)}; let c${d} = r - q${d} * ${at('shape', d)}; r = q${d};`);
        else index.push(`r = r / ${at('shape', d)};`);
      }
      index.push('let c0 = r;');
      gathers.forEach((b) => {
        const st = plan.strides[buffers.indexOf(b)];
        const terms = Array.from({ length: rank }, (_, d) => d).filter((d) => st[d] !== 0).map((d) => `c${d} * ${at(`st${b}`, d)}`);
        index.push(`let o${b} = ${terms.join(' + ')};`);
      });
    }
    return `${half ? 'enable f16;\n' : ''}${layout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
${decls.join('\n')}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) { return; }
  ${index.join('\n  ')}
  ${loads.join('\n  ')}
  out[i] = ${outDtype === 'float16' ? `f16(${expr})` : expr};
}
`;
  };
  return { key, source, layout, values };
}

function stridesOfShape(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) { st[d] = s; s *= shape[d]; }
  return st;
}
