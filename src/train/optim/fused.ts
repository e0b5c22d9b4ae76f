/** Runs a fused update rule over one parameter tensor: returns the new parameter and new state tensors. */
import { updateKernel, type UpdateRule } from '../../kernels/wgsl/fused-update';
import { grid } from '../../kernels/webgpu/device';
import { ArgumentError, fmtShape, sameShape } from '../../base/shape';
import { Tensor, empty } from '../../tensor/tensor';

const kernels = new Map<string, ReturnType<typeof updateKernel>>();

export function applyRule(
  rule: UpdateRule,
  p: Tensor,
  g: Tensor,
  state: readonly Tensor[],
  scalars: Record<string, number>,
  path: string,
): { p: Tensor; state: Tensor[] } {
  if (!(g instanceof Tensor))
    throw new ArgumentError(rule.name, `grads.${path}`, `is ${g === undefined ? 'missing' : typeof g}`, `a Tensor of shape ${fmtShape(p.shape)}`);
  if (!sameShape(p.shape, g.shape))
    throw new ArgumentError(rule.name, `grads.${path}`, `has shape ${fmtShape(g.shape)}`, `the parameter's shape ${fmtShape(p.shape)}`);
  if (p.dtype !== 'float32' || g.dtype !== 'float32')
    throw new ArgumentError(rule.name, `params.${path}`, `has dtype ${p.dtype}/${g.dtype}`, 'float32 parameters and gradients');
  if (p.device !== g.device) throw new ArgumentError(rule.name, `grads.${path}`, `is on device ${g.device.label}`, `the parameter's device ${p.device.label}`);
  let k = kernels.get(rule.name);
  if (!k) kernels.set(rule.name, (k = updateKernel(rule)));
  const outP = empty(p.shape, 'float32', p.device);
  const outState = state.map(() => empty(p.shape, 'float32', p.device));
  if (p.size > 0) {
    const buffers = [p.binding, g.binding];
    state.forEach((st, i) => buffers.push(st.binding, outState[i].binding));
    buffers.push(outP.binding);
    p.device.run(rule.name, k.key, k.source, buffers, grid(p.size, 256), { layout: k.layout, values: { n: p.size, ...scalars } });
  }
  return { p: outP, state: outState };
}
