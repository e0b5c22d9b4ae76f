/**
 * Generator for fused optimizer updates: one dispatch reads a parameter, its gradient and its
 * state tensors, and writes the new parameter and new state. Hyper-parameters (learning rate,
 * bias corrections…) are per-step uniforms, so the kernel compiles once per rule.
 */
import { UniformLayout } from '../webgpu/uniforms';

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
  const key = `update:${rule.name}`;
  const source = () => {
    const stateDecls = rule.state.map((st, i) => `@group(0) @binding(${3 + 2 * i}) var<storage, read> ${st}_in: array<f32>;
@group(0) @binding(${4 + 2 * i}) var<storage, read_write> ${st}_out: array<f32>;`).join('\n');
    return `${layout.wgsl()}
@group(0) @binding(0) var<uniform> s: Params;
@group(0) @binding(1) var<storage, read> p_in: array<f32>;
@group(0) @binding(2) var<storage, read> g_in: array<f32>;
${stateDecls}
@group(0) @binding(${3 + 2 * rule.state.length}) var<storage, read_write> p_out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= s.n) { return; }
  var p = p_in[i];
  let g = g_in[i];
  ${rule.state.map((st) => `var ${st} = ${st}_in[i];`).join('\n  ')}
  ${rule.body}
  p_out[i] = p;
  ${rule.state.map((st) => `${st}_out[i] = ${st};`).join('\n  ')}
}
`;
  };
  return { key, layout, source };
}
