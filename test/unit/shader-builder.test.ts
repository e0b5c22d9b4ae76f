/** The WGSL shader builder: helpers once and only when called, keys from variant objects, bindings in order, f16 only when used. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { buildShader, kernel, stableStringify, variantKey, type ShaderSpec } from '../../src/kernels/wgsl/builder';
import { HELPERS } from '../../src/kernels/wgsl/helpers';
import { UniformLayout } from '../../src/kernels/webgpu/uniforms';

const layout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'alpha', type: 'f32' },
]);
const spec = (body: string, more: Partial<ShaderSpec> = {}): ShaderSpec => ({
  uniforms: layout,
  storage: [
    { name: 'x', type: 'f32' },
    { name: 'y', type: 'f32', access: 'read_write' },
  ],
  workgroupSize: 64,
  grid: 'n',
  body,
  ...more,
});
const count = (code: string, s: string) => code.split(s).length - 1;

describe('shader builder: helpers', () => {
  it('emits no helper when the body calls none', () => {
    const { code } = buildShader(spec('y[i] = x[i] * p.alpha;'));
    for (const h of HELPERS) expect(code).not.toContain(`fn ${h.name}(`);
  });

  it('emits a called helper exactly once, however often it is called', () => {
    const { code } = buildShader(spec('y[i] = select(x[i], 0.0, is_nan(x[i]) || is_nan(p.alpha) || is_nan(x[0]));'));
    expect(count(code, 'fn is_nan(')).toBe(1);
    expect(code).not.toContain('fn nan_f32(');
    expect(code).not.toContain('fn inf_f32(');
  });

  it('emits what a helper calls before it (pow_f32 needs inf_f32 and nan_f32)', () => {
    const { code } = buildShader(spec('y[i] = pow_f32(x[i], p.alpha);'));
    expect(count(code, 'fn pow_f32(')).toBe(1);
    expect(count(code, 'fn inf_f32(')).toBe(1);
    expect(count(code, 'fn nan_f32(')).toBe(1);
    expect(code.indexOf('fn inf_f32(')).toBeLessThan(code.indexOf('fn pow_f32('));
    expect(code.indexOf('fn nan_f32(')).toBeLessThan(code.indexOf('fn pow_f32('));
    expect(code).not.toContain('fn erf_f32(');
  });

  it('finds helpers called from the declarations too, and leaves alone a function the kernel defines itself', () => {
    const called = buildShader(spec('y[i] = f(x[i]);', { decls: 'fn f(v: f32) -> f32 { return select(v, 0.0, is_nan(v)); }' })).code;
    expect(count(called, 'fn is_nan(')).toBe(1);
    const own = buildShader(spec('y[i] = select(x[i], 0.0, is_nan(x[i]));', { decls: 'fn is_nan(v: f32) -> bool { return v != v; }' })).code;
    expect(count(own, 'fn is_nan(')).toBe(1);
    expect(own).toContain('return v != v;');
  });

  it('does not mistake a longer name for a helper call', () => {
    const { code } = buildShader(spec('y[i] = select(x[i], 0.0, my_is_nan(x[i]));', { decls: 'fn my_is_nan(v: f32) -> bool { return v != v; }' }));
    expect(code).not.toContain('fn is_nan(');
  });
});

describe('shader builder: bindings and main', () => {
  it('puts the uniform block at 0 and the storage buffers after it, in the order given', () => {
    const s = buildShader({
      uniforms: layout,
      workgroupSize: 8,
      body: 'c[0] = a[0] + b[0];',
      storage: [
        { name: 'a', type: 'f32' },
        { name: 'b', type: 'vec4<f32>' },
        { name: 'c', type: 'f32', access: 'read_write' },
      ],
    });
    expect(s.bindings).toEqual(['uniform', 'read-only-storage', 'read-only-storage', 'storage']);
    expect(s.code).toContain('struct Params {');
    expect(s.code).toContain('@group(0) @binding(0) var<uniform> p: Params;');
    expect(s.code).toContain('@group(0) @binding(1) var<storage, read> a: array<f32>;');
    expect(s.code).toContain('@group(0) @binding(2) var<storage, read> b: array<vec4<f32>>;');
    expect(s.code).toContain('@group(0) @binding(3) var<storage, read_write> c: array<f32>;');
    expect(count(s.code, '@binding(')).toBe(s.bindings.length);
  });

  it('starts storage at binding 0 without uniforms, and names the uniform variable as asked', () => {
    expect(buildShader({ storage: [{ name: 'y', type: 'u32', access: 'read_write' }], workgroupSize: 1, body: 'y[0] = 1u;' }).bindings).toEqual(['storage']);
    expect(buildShader(spec('y[i] = s.alpha;', { uniformName: 's' })).code).toContain('var<uniform> s: Params;\n');
  });

  it('writes the folded-grid index and bounds check once, with the workgroup size', () => {
    const { code } = buildShader(spec('y[i] = x[i];'));
    expect(count(code, 'let i = gid.x + gid.y * nwg.x * 64u;')).toBe(1);
    expect(count(code, 'if (i >= p.n) { return; }')).toBe(1);
    expect(code).toContain('@workgroup_size(64)');
    expect(code).toMatch(/fn main\(@builtin\(global_invocation_id\) gid: vec3<u32>, @builtin\(num_workgroups\) nwg: vec3<u32>\)/);
  });

  it('declares exactly the builtins the body names', () => {
    const { code } = buildShader({
      uniforms: layout,
      storage: [{ name: 'y', type: 'f32', access: 'read_write' }],
      workgroupSize: [8, 4],
      body: 'if (li == 0u) { y[wid.x] = f32(lid.y); }',
    });
    expect(code).toContain(
      'fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32)',
    );
    expect(code).toContain('@workgroup_size(8, 4)');
    expect(code).not.toContain('global_invocation_id');
  });
});

describe('shader builder: f16', () => {
  it('enables f16 when a binding stores f16, as the first line', () => {
    const { code } = buildShader(
      spec('y[i] = f16(f32(x[i]) * p.alpha);', {
        storage: [
          { name: 'x', type: 'f16' },
          { name: 'y', type: 'f16', access: 'read_write' },
        ],
      }),
    );
    expect(code.startsWith('enable f16;\n')).toBe(true);
    expect(count(code, 'enable f16;')).toBe(1);
  });

  it('leaves f32 source free of any f16 text', () => {
    const { code } = buildShader(spec('y[i] = x[i] * p.alpha;'));
    expect(code).not.toMatch(/f16/);
  });

  it('enables f16 when only the body converts to it', () => {
    expect(buildShader(spec('let h = f16(x[i]); y[i] = f32(h);')).code.startsWith('enable f16;\n')).toBe(true);
  });
});

describe('shader builder: keys', () => {
  it('equal variants give equal keys whatever the order of their fields', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.oneof(fc.integer(), fc.boolean(), fc.string({ maxLength: 4 }), fc.array(fc.integer(), { maxLength: 3 }))),
        (obj) => {
          const reversed = Object.fromEntries(Object.entries(obj).reverse());
          expect(variantKey('f', reversed)).toBe(variantKey('f', obj));
        },
      ),
    );
  });

  it('different variants give different keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(stableStringify(a) !== stableStringify(b));
        expect(variantKey('f', a)).not.toBe(variantKey('f', b));
      }),
    );
    const keys = [
      { kind: 'max', t: 'f32' },
      { kind: 'max', t: 'i32' },
      { kind: 'min', t: 'f32' },
      { kind: 'max', t: 'f32', vec4: true },
      { kind: 'max', t: 'f32', vec4: false },
    ].map((v) => variantKey('reduce', v));
    expect(new Set(keys).size).toBe(keys.length);
    expect(variantKey('a', { x: 1 })).not.toBe(variantKey('b', { x: 1 }));
    expect(variantKey('a', ['1'])).not.toBe(variantKey('a', [1]));
  });

  it('kernel(): the key is known before the source is built, and the source is built from the variant', () => {
    let built = 0;
    const k = kernel('demo', { scale: 2, half: false }, (v) => {
      built++;
      return spec(`y[i] = x[i] * ${v.scale}.0;`);
    });
    expect(k.key).toBe('demo:{"half":false,"scale":2}');
    expect(built).toBe(0);
    expect(k.source().code).toContain('y[i] = x[i] * 2.0;');
    expect(built).toBe(1);
  });
});
