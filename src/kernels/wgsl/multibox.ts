/**
 * Kernels of d2l's `multibox_detection` (src/detection/multibox-detection.ts).
 *
 * best: per anchor, the largest probability over the object classes 1…C (torch.max over dim 0 of
 * cls_prob[1:]: the first maximum wins ties, NaN wins over numbers) and its class id.
 * assemble: one workgroup per image writes the (A, 6) rows: first the kept anchors in NMS order
 * with their class, then the others in ascending index with class −1; a confidence below the
 * positive threshold turns the class to −1 and the confidence to 1 − confidence.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

export const MULTIBOX_WG = 256;

export const bestLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'A', type: 'u32' },
  { name: 'C1', type: 'u32' },
]);

/** conf and class id per anchor from (B, C+1, A) probabilities; n = B·A threads. */
export const bestClassKernel = () => kernel('multibox', { op: 'best' }, bestShader);

function bestShader(): ShaderSpec {
  return {
    uniforms: bestLayout,
    workgroupSize: MULTIBOX_WG,
    grid: 'n',
    storage: [
      { name: 'probs', type: 'f32' },
      { name: 'conf', type: 'f32', access: 'read_write' },
      { name: 'cls', type: 'i32', access: 'read_write' },
    ],
    body: `
  let a = i % p.A;
  let base = (i / p.A) * p.C1 * p.A + a;
  var best = probs[base + p.A];
  var id = 0u;
  for (var c = 2u; c < p.C1; c++) {
    let v = probs[base + c * p.A];
    if (!is_nan(best) && (v > best || is_nan(v))) { best = v; id = c - 1u; }
  }
  conf[i] = best;
  cls[i] = i32(id);`,
  };
}

export const assembleLayout = new UniformLayout([
  { name: 'A', type: 'u32' },
  { name: 'B', type: 'u32' },
  { name: 'posThr', type: 'f32' },
]);

/** Writes (B, A, 6) detection rows; one workgroup per image. `rank` is scratch of B·A i32. */
export const assembleKernel = () => kernel('multibox', { op: 'assemble' }, assembleShader);

function assembleShader(): ShaderSpec {
  const WG = MULTIBOX_WG;
  return {
    uniforms: assembleLayout,
    workgroupSize: WG,
    storage: [
      { name: 'conf', type: 'f32' },
      { name: 'cls', type: 'i32' },
      { name: 'boxes', type: 'vec4<f32>' },
      { name: 'kept', type: 'i32' },
      { name: 'counts', type: 'u32' },
      { name: 'rank', type: 'i32', access: 'read_write' },
      { name: 'out', type: 'f32', access: 'read_write' },
    ],
    decls: `
var<workgroup> scan: array<u32, ${WG}>;
var<workgroup> running: u32;`,
    body: `
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.B) { return; }  // uniform per workgroup
  let base = b * p.A;
  for (var a = li; a < p.A; a += ${WG}u) { rank[base + a] = -1; }
  var start = 0u;
  for (var s = 0u; s < b; s++) { start += counts[s]; }
  let K = counts[b];
  storageBarrier();
  for (var r = li; r < K; r += ${WG}u) { rank[base + u32(kept[start + r])] = i32(r); }
  if (li == 0u) { running = 0u; }
  storageBarrier();
  workgroupBarrier();
  for (var c = 0u; c < p.A; c += ${WG}u) {
    let a = c + li;
    var rk = -1;
    if (a < p.A) { rk = rank[base + a]; }
    let other = select(0u, 1u, a < p.A && rk < 0);
    scan[li] = other;
    workgroupBarrier();
    for (var d = 1u; d < ${WG}u; d <<= 1u) {
      var v = 0u;
      if (li >= d) { v = scan[li - d]; }
      workgroupBarrier();
      scan[li] += v;
      workgroupBarrier();
    }
    let before = running;
    if (a < p.A) {
      var pos = u32(rk);
      var cl = f32(cls[base + a]);
      if (rk < 0) {
        pos = K + before + scan[li] - 1u;
        cl = -1.0;
      }
      var cf = conf[base + a];
      if (cf < p.posThr) {
        cl = -1.0;
        cf = 1.0 - cf;
      }
      let bx = boxes[base + a];
      let o = (base + pos) * 6u;
      out[o] = cl;
      out[o + 1u] = cf;
      out[o + 2u] = bx.x;
      out[o + 3u] = bx.y;
      out[o + 4u] = bx.z;
      out[o + 5u] = bx.w;
    }
    workgroupBarrier();
    if (li == ${WG - 1}u) { running = before + scan[li]; }
    workgroupBarrier();
  }`,
  };
}
