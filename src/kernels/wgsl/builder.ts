/**
 * The one place WGSL modules are assembled. A kernel family describes a variant (a plain object
 * naming everything its source depends on) and a `build` from that variant to a ShaderSpec; the
 * builder returns the pipeline-cache key, derived from the variant, and a lazy source that gives
 * the WGSL text together with its bindings' types (so the runtime never parses WGSL).
 *
 * Module layout: `enable f16;` (only when the text mentions f16), the uniform struct and its
 * binding 0 (from the UniformLayout), storage bindings in order, the helpers the kernel calls
 * (each once), the family's declarations, then `main` with the builtins its body names and,
 * for one-thread-per-element kernels, the folded-grid index `i` and its bounds check.
 */
import type { UniformLayout } from '../webgpu/uniforms';
import type { Shader } from '../webgpu/pipelines';
import { helpersUsedBy } from './helpers';

export type { Shader } from '../webgpu/pipelines';

export interface StorageBinding {
  name: string;
  /** Element type of the `array<…>`, e.g. 'f32', 'vec4<f32>', 'f16'. */
  type: string;
  /** 'read' (default) or 'read_write'. */
  access?: 'read' | 'read_write';
}

export interface ShaderSpec {
  /** The uniform block at binding 0 (storage then starts at 1), bound as `uniformName` (default `p`). */
  uniforms?: UniformLayout;
  uniformName?: string;
  storage: readonly StorageBinding[];
  workgroupSize: number | readonly [number, number];
  /** Module-scope declarations: structs, workgroup memory, the family's own functions. */
  decls?: string;
  /** Statements of `main`. Builtins are declared when named: gid, wid, lid (vec3), li (index), nwg. */
  body: string;
  /**
   * One thread per element over a grid folded into y past 65535 workgroups: declares
   * `let i = gid.x + gid.y * nwg.x * WG` and returns when `i >= <uniform>.<grid>` (e.g. 'n').
   */
  grid?: string;
}

export interface KernelSource {
  key: string;
  source: () => Shader;
}

const BUILTINS: readonly [name: string, decl: string][] = [
  ['gid', '@builtin(global_invocation_id) gid: vec3<u32>'],
  ['wid', '@builtin(workgroup_id) wid: vec3<u32>'],
  ['lid', '@builtin(local_invocation_id) lid: vec3<u32>'],
  ['li', '@builtin(local_invocation_index) li: u32'],
  ['nwg', '@builtin(num_workgroups) nwg: vec3<u32>'],
];

/** JSON with object keys sorted, so equal variants give equal keys whatever order their fields were written in. */
export function stableStringify(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') {
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    return JSON.stringify(v);
  }
  // plain loops: this runs on every dispatch (the key is looked up before any source is built)
  let out: string;
  if (Array.isArray(v)) {
    out = '[';
    for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + stableStringify(v[i]);
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o).sort();
  out = '{';
  let first = true;
  for (const k of keys) {
    if (o[k] === undefined) continue;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${stableStringify(o[k])}`;
    first = false;
  }
  return `${out}}`;
}

/** The pipeline-cache key of a variant of a kernel family. */
export const variantKey = (family: string, variant: unknown): string => `${family}:${stableStringify(variant)}`;

/** Assembles the WGSL module of `spec` and lists its bindings' types in binding order. */
export function buildShader(spec: ShaderSpec): Shader {
  const u = spec.uniformName ?? 'p';
  const bindings: GPUBufferBindingType[] = [];
  const decls: string[] = [];
  if (spec.uniforms) {
    decls.push(spec.uniforms.wgsl(), `@group(0) @binding(0) var<uniform> ${u}: Params;`);
    bindings.push('uniform');
  }
  for (const b of spec.storage) {
    const rw = b.access === 'read_write';
    decls.push(`@group(0) @binding(${bindings.length}) var<storage, ${rw ? 'read_write' : 'read'}> ${b.name}: array<${b.type}>;`);
    bindings.push(rw ? 'storage' : 'read-only-storage');
  }
  const [wx, wy] = typeof spec.workgroupSize === 'number' ? [spec.workgroupSize, 1] : spec.workgroupSize;
  const index =
    spec.grid === undefined
      ? ''
      : `
  let i = gid.x + gid.y * nwg.x * ${wx}u;
  if (i >= ${u}.${spec.grid}) { return; }`;
  const own = `${spec.decls ?? ''}\n${index}\n${spec.body}`;
  const builtins = BUILTINS.filter(([name]) => new RegExp(`\\b${name}\\b`).test(own)).map(([, d]) => d);
  const helpers = helpersUsedBy(`${spec.decls ?? ''}\n${spec.body}`).map((h) => h.code);
  const code = `${decls.join('\n')}
${[...helpers, spec.decls ?? ''].filter((s) => s.trim()).join('\n')}
@compute @workgroup_size(${wy === 1 ? wx : `${wx}, ${wy}`})
fn main(${builtins.join(', ')}) {${index}${spec.body.startsWith('\n') ? '' : '\n  '}${spec.body}
}
`;
  return { code: /\bf16\b/.test(code) ? `enable f16;\n${code}` : code, bindings };
}

/**
 * A kernel family's variant: its key now, its source on demand (a pipeline-cache miss). `build`
 * receives only the variant, so everything the source depends on is part of the key.
 */
export function kernel<V>(family: string, variant: V, build: (v: V) => ShaderSpec): KernelSource {
  return { key: variantKey(family, variant), source: () => buildShader(build(variant)) };
}
