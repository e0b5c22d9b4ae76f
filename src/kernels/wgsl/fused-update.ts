/**
 * Generator for fused optimizer updates: one dispatch reads a parameter, its gradient and its
 * state tensors, and writes the new parameter and new state. Hyper-parameters (learning rate,
 * bias corrections…) are per-step uniforms, so the kernel compiles once per rule.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel } from './builder';

export interface UpdateRule {
  name: string;
  /** Names of state tensors read and rewritten (e.g. ['m', 'v']). */
  state: readonly string[];
  /** Names of f32 uniforms. */
  scalars: readonly string[];
  /** WGSL statements using `p`, `g`, the state names (as `var`s) and `s.<scalar>`; must assign `p` and each state var. */
  body: string;
}

export function updateKernel(rule: UpdateRule) {
  const layout = new UniformLayout([{ name: 'n', type: 'u32' }, ...rule.scalars.map((name) => ({ name, type: 'f32' as const }))]);
  const { name, state, scalars, body } = rule;
  return {
    layout,
    ...kernel('update', { name, state, scalars, body }, (v) => ({
      uniforms: layout,
      uniformName: 's',
      workgroupSize: 256,
      grid: 'n',
      storage: [
        { name: 'p_in', type: 'f32' },
        { name: 'g_in', type: 'f32' },
        ...v.state.flatMap((st) => [
          { name: `${st}_in`, type: 'f32' },
          { name: `${st}_out`, type: 'f32', access: 'read_write' as const },
        ]),
        { name: 'p_out', type: 'f32', access: 'read_write' },
      ],
      body: `
  var p = p_in[i];
  let g = g_in[i];
  ${v.state.map((st) => `var ${st} = ${st}_in[i];`).join('\n  ')}
  ${v.body}
  p_out[i] = p;
  ${v.state.map((st) => `${st}_out[i] = ${st};`).join('\n  ')}`,
    })),
  };
}
