/**
 * Generator for elementwise kernels over 1–3 operands with PyTorch broadcasting. Each operand is a
 * buffer or a scalar passed in the uniform block. Specialised on dtypes, operand kinds and whether
 * every buffer already has the output's shape (then no index math is needed); sizes and strides
 * travel as uniforms.
 */
import { UniformLayout, type UniformField, type UniformValues } from '../webgpu/uniforms';
import { wgslType, type DType } from '../../tensor/dtype';
import { broadcastStrides, sameShape, type Shape } from '../../tensor/shape';

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
export function elementwiseKernel(name: string, expr: string, operands: readonly EwOperand[], computeType: DType,
                                  outDtype: DType, outShape: Shape): EwKernel {
  if (outShape.length > MAX_RANK) throw new Error(`${name}: tensors of rank ${outShape.length} exceed the supported rank ${MAX_RANK}`);
  const contiguous = operands.every((o) => o.shape === null || sameShape(o.shape, outShape));
  const fields: UniformField[] = [{ name: 'n', type: 'u32' }, { name: 'rank', type: 'u32' }];
  const values: UniformValues = { n: outShape.reduce((a, b) => a * b, 1), rank: outShape.length };
  operands.forEach((o, i) => {
    if (o.shape === null) { fields.push({ name: `s${i}`, type: wgslType(o.dtype) }); values[`s${i}`] = o.value ?? 0; }
  });
  if (!contiguous) {
    fields.push({ name: 'shape', type: 'u32', vec4s: 2 });
    values.shape = outShape;
    operands.forEach((o, i) => {
      if (o.shape === null) return;
      fields.push({ name: `st${i}`, type: 'u32', vec4s: 2 });
      values[`st${i}`] = broadcastStrides(o.shape, outShape);
    });
  }
  const layout = new UniformLayout(fields);
  const ct = wgslType(computeType);
  const kinds = operands.map((o) => `${o.shape === null ? 's' : 'b'}${wgslType(o.dtype)}`).join(',');
  const key = `ew:${name}:${kinds}:${ct}:${wgslType(outDtype)}:${contiguous ? 'c' : 'g'}:${expr}`;
  const source = () => {
    let binding = 1;
    const decls: string[] = [];
    const loads: string[] = [];
    operands.forEach((o, i) => {
      if (o.shape === null) { loads.push(`let v${i} = ${ct}(p.s${i});`); return; }
      decls.push(`@group(0) @binding(${binding++}) var<storage, read> in${i}: array<${wgslType(o.dtype)}>;`);
      loads.push(`let v${i} = ${ct}(in${i}[${contiguous ? 'i' : `o${i}`}]);`);
    });
    decls.push(`@group(0) @binding(${binding}) var<storage, read_write> out: array<${wgslType(outDtype)}>;`);
    const buffers = operands.map((o, i) => (o.shape === null ? -1 : i)).filter((i) => i >= 0);
    const index = contiguous ? '' : `
  var r = i;
  ${buffers.map((b) => `var o${b} = 0u;`).join(' ')}
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let k = u32(d);
    let sz = p.shape[k / 4u][k % 4u];
    let c = r % sz;
    r = r / sz;
    ${buffers.map((b) => `o${b} += c * p.st${b}[k / 4u][k % 4u];`).join('\n    ')}
  }`;
    return `${layout.wgsl()}
@group(0) @binding(0) var<uniform> p: Params;
${decls.join('\n')}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * ${WG}u;
  if (i >= p.n) { return; }${index}
  ${loads.join('\n  ')}
  out[i] = ${expr};
}
`;
  };
  return { key, source, layout, values };
}
