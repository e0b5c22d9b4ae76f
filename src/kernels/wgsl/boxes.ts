/**
 * Kernels over corner boxes (x1, y1, x2, y2), four f32 a box.
 *
 * linear4: one thread per output coordinate, y[4r + j] = Σ_k x[4r + k] · M[4k + j] (every box format
 *   conversion is linear, so one kernel with the matrix in the uniforms covers all of them and their
 *   transposes for the backward pass).
 * iou: one thread per pair (pairwise: N×M; elementwise: N), IoU = I / (U + eps), optionally GIoU =
 *   IoU − (C − U) / (C + eps), C the enclosing box's area (clamped at 0 in the pairwise form, as
 *   torchvision's generalized_box_iou does; not in the elementwise loss form, as its giou loss).
 * iouGrad: thread t < N sums the gradient for boxes1[t], thread N + j for boxes2[j] (pairwise), or
 *   thread t writes both boxes' gradients of pair t (elementwise).
 * prior: one thread per anchor coordinate of d2l's multibox_prior; the half extents per anchor shape
 *   come precomputed from the host (they follow torch's float32 arithmetic there).
 * match: one workgroup per image runs d2l's assign_anchor_to_bbox (threshold pass, then the greedy
 *   pass: G times, the first maximum of the whole IoU matrix, whose row and column are then set to
 *   −1) and writes multibox_target's offsets, masks and class labels. Ground-truth rows whose class
 *   is negative are padding: their columns do not exist. The anchor→box map lives in the class
 *   output until the last phase; a scratch buffer holds the flags of discarded rows and columns and
 *   the list of anchors overlapping any box with each one's best free box, so an iteration reads
 *   one entry per listed anchor instead of recomputing its row.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

export const BOX_WG = 256;
const MATCH_WG = 128;

export const linear4Layout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'm', type: 'f32', vec4s: 4 },
]);

/** y (R, 4) = x (R, 4) · M (4×4, row-major in the uniform `m`). */
export const linear4Kernel = () => kernel('boxes', { op: 'linear4' }, linear4Shader);

function linear4Shader(): ShaderSpec {
  return {
    uniforms: linear4Layout,
    workgroupSize: BOX_WG,
    grid: 'n',
    storage: [
      { name: 'x', type: 'f32' },
      { name: 'y', type: 'f32', access: 'read_write' },
    ],
    body: `
  let r = 4u * (i / 4u); let j = i % 4u;
  y[i] = x[r] * p.m[0][j] + x[r + 1u] * p.m[1][j] + x[r + 2u] * p.m[2][j] + x[r + 3u] * p.m[3][j];`,
  };
}

export const iouLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'eps', type: 'f32' },
]);

export interface IouVariant {
  giou: boolean;
  pairwise: boolean;
}

const boxFns = (name: string) => `
fn ${name}(k: u32) -> vec4<f32> { return vec4<f32>(${name}s[4u * k], ${name}s[4u * k + 1u], ${name}s[4u * k + 2u], ${name}s[4u * k + 3u]); }`;

/** The value of one pair and, for the backward kernel, its gradient in the first box. */
function iouFns(v: IouVariant): string {
  const clampC = v.pairwise ? 'max(cw0, 0.0)' : 'cw0';
  const clampH = v.pairwise ? 'max(ch0, 0.0)' : 'ch0';
  return `
fn area(b: vec4<f32>) -> f32 { return (b.z - b.x) * (b.w - b.y); }
fn value(a: vec4<f32>, b: vec4<f32>) -> f32 {
  let iw = max(min(a.z, b.z) - max(a.x, b.x), 0.0);
  let ih = max(min(a.w, b.w) - max(a.y, b.y), 0.0);
  let inter = iw * ih;
  let uni = area(a) + area(b) - inter;
  var r = inter / (uni + p.eps);${
    v.giou
      ? `
  let cw0 = max(a.z, b.z) - min(a.x, b.x); let ch0 = max(a.w, b.w) - min(a.y, b.y);
  let c = ${clampC} * ${clampH};
  r = r - (c - uni) / (c + p.eps);`
      : ''
  }
  return r;
}
// d value / d a, the first box (the value is symmetric, so swapping the arguments gives the other)
fn grad_a(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let iw0 = min(a.z, b.z) - max(a.x, b.x); let ih0 = min(a.w, b.w) - max(a.y, b.y);
  let iw = max(iw0, 0.0); let ih = max(ih0, 0.0);
  let inter = iw * ih;
  var di = vec4<f32>(0.0);
  if (iw0 > 0.0 && ih0 > 0.0) {
    di = vec4<f32>(select(0.0, -ih, a.x > b.x), select(0.0, -iw, a.y > b.y), select(0.0, ih, a.z < b.z), select(0.0, iw, a.w < b.w));
  }
  let da = vec4<f32>(-(a.w - a.y), -(a.z - a.x), a.w - a.y, a.z - a.x);
  let uni = area(a) + area(b) - inter;
  let du = da - di;
  let den = uni + p.eps;
  var g = di / den - du * (inter / (den * den));${
    v.giou
      ? `
  let cw0 = max(a.z, b.z) - min(a.x, b.x); let ch0 = max(a.w, b.w) - min(a.y, b.y);
  let cw = ${clampC}; let ch = ${clampH};
  let c = cw * ch;
  var dc = vec4<f32>(select(0.0, -ch, a.x < b.x), select(0.0, -cw, a.y < b.y), select(0.0, ch, a.z > b.z), select(0.0, cw, a.w > b.w));${
    v.pairwise ? '\n  if (!(cw0 > 0.0 && ch0 > 0.0)) { dc = vec4<f32>(0.0); }' : ''
  }
  let cden = c + p.eps;
  g = g - ((dc - du) / cden - dc * ((c - uni) / (cden * cden)));`
      : ''
  }
  return g;
}`;
}

/** IoU or GIoU of box pairs: (N, M) pairwise or (N) elementwise. */
export const iouKernel = (v: IouVariant) => kernel('boxes', { op: 'iou', giou: v.giou, pairwise: v.pairwise }, iouShader);

function iouShader(v: IouVariant): ShaderSpec {
  return {
    uniforms: iouLayout,
    workgroupSize: BOX_WG,
    grid: 'n',
    storage: [
      { name: 'ones', type: 'f32' },
      { name: 'twos', type: 'f32' },
      { name: 'y', type: 'f32', access: 'read_write' },
    ],
    decls: boxFns('one') + boxFns('two') + iouFns(v),
    body: v.pairwise ? '\n  y[i] = value(one(i / p.M), two(i % p.M));' : '\n  y[i] = value(one(i), two(i));',
  };
}

/** Gradients of IoU/GIoU for both box sets, given dy. Dispatch N + M threads (pairwise) or N. */
export const iouGradKernel = (v: IouVariant) => kernel('boxes', { op: 'iouGrad', giou: v.giou, pairwise: v.pairwise }, iouGradShader);

function iouGradShader(v: IouVariant): ShaderSpec {
  const store = (buf: string, k: string, g: string) =>
    `${buf}[4u * ${k}] = ${g}.x; ${buf}[4u * ${k} + 1u] = ${g}.y; ${buf}[4u * ${k} + 2u] = ${g}.z; ${buf}[4u * ${k} + 3u] = ${g}.w;`;
  const body = v.pairwise
    ? `
  if (i < p.N) {
    let a = one(i); var g = vec4<f32>(0.0);
    for (var j = 0u; j < p.M; j++) { g += dy[i * p.M + j] * grad_a(a, two(j)); }
    ${store('d1', 'i', 'g')}
  } else {
    let j = i - p.N; let b = two(j); var g = vec4<f32>(0.0);
    for (var k = 0u; k < p.N; k++) { g += dy[k * p.M + j] * grad_a(b, one(k)); }
    ${store('d2', 'j', 'g')}
  }`
    : `
  let a = one(i); let b = two(i);
  let g1 = dy[i] * grad_a(a, b); let g2 = dy[i] * grad_a(b, a);
  ${store('d1', 'i', 'g1')}
  ${store('d2', 'i', 'g2')}`;
  return {
    uniforms: iouLayout,
    workgroupSize: BOX_WG,
    grid: 'n',
    storage: [
      { name: 'dy', type: 'f32' },
      { name: 'ones', type: 'f32' },
      { name: 'twos', type: 'f32' },
      { name: 'd1', type: 'f32', access: 'read_write' },
      { name: 'd2', type: 'f32', access: 'read_write' },
    ],
    decls: boxFns('one') + boxFns('two') + iouFns(v),
    body,
  };
}

export const priorLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'W', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'stepH', type: 'f32' },
  { name: 'stepW', type: 'f32' },
]);

/** d2l's anchors: (H·W·K, 4), half extents hw[2k] (width), hw[2k+1] (height) of anchor shape k. */
export const priorKernel = () => kernel('boxes', { op: 'prior' }, priorShader);

function priorShader(): ShaderSpec {
  return {
    uniforms: priorLayout,
    workgroupSize: BOX_WG,
    grid: 'n',
    storage: [
      { name: 'hw', type: 'f32' },
      { name: 'y', type: 'f32', access: 'read_write' },
    ],
    body: `
  let c = i % 4u; let anchor = i / 4u; let k = anchor % p.K; let pix = anchor / p.K;
  let cx = (f32(pix % p.W) + 0.5) * p.stepW; let cy = (f32(pix / p.W) + 0.5) * p.stepH;
  let centre = select(cy, cx, c % 2u == 0u);
  let half = hw[2u * k + (c % 2u)];
  y[i] = centre + select(half, -half, c < 2u);`,
  };
}

export const matchLayout = new UniformLayout([
  { name: 'B', type: 'u32' },
  { name: 'A', type: 'u32' },
  { name: 'G', type: 'u32' },
  { name: 'stride', type: 'u32' },
  { name: 'thr', type: 'f32' },
  { name: 'eps', type: 'f32' },
]);

/**
 * d2l's matching for a batch: dispatch B workgroups. `targets` rows are [class, x1, y1, x2, y2]
 * (stride 5, negative class = padding) or bare boxes (stride 4, all valid). With `targets: false`
 * only the anchor→box map (−1 = none) is written, into `cls`.
 */
export const matchKernel = (withTargets: boolean) => kernel('boxes', { op: 'match', targets: withTargets }, matchShader);

function matchShader(v: { targets: boolean }): ShaderSpec {
  const WG = MATCH_WG;
  const outputs = v.targets
    ? [
        { name: 'off', type: 'f32', access: 'read_write' as const },
        { name: 'msk', type: 'f32', access: 'read_write' as const },
      ]
    : [];
  const final = v.targets
    ? `
  for (var a = li; a < A; a += ${WG}u) {
    let j = cls[b * A + a]; let o = 4u * (b * A + a);
    if (j >= 0) {
      let t = gt(b, u32(j)); let an = anc(a);
      let aw = an.z - an.x; let ah = an.w - an.y;
      let acx = (an.x + an.z) / 2.0; let acy = (an.y + an.w) / 2.0;
      let gw = t.z - t.x; let gh = t.w - t.y;
      let gcx = (t.x + t.z) / 2.0; let gcy = (t.y + t.w) / 2.0;
      off[o] = 10.0 * (gcx - acx) / aw; off[o + 1u] = 10.0 * (gcy - acy) / ah;
      off[o + 2u] = 5.0 * log(p.eps + gw / aw); off[o + 3u] = 5.0 * log(p.eps + gh / ah);
      msk[o] = 1.0; msk[o + 1u] = 1.0; msk[o + 2u] = 1.0; msk[o + 3u] = 1.0;
      cls[b * A + a] = i32(targets[(b * G + u32(j)) * p.stride]) + 1;
    } else {
      off[o] = 0.0; off[o + 1u] = 0.0; off[o + 2u] = 0.0; off[o + 3u] = 0.0;
      msk[o] = 0.0; msk[o + 1u] = 0.0; msk[o + 2u] = 0.0; msk[o + 3u] = 0.0;
      cls[b * A + a] = 0;
    }
  }`
    : '';
  return {
    uniforms: matchLayout,
    workgroupSize: WG,
    storage: [
      { name: 'anchors', type: 'f32' },
      { name: 'targets', type: 'f32' },
      { name: 'flags', type: 'u32', access: 'read_write' },
      { name: 'cls', type: 'i32', access: 'read_write' },
      ...outputs,
    ],
    decls: `var<workgroup> bv: array<f32, ${WG}>;
var<workgroup> bi: array<u32, ${WG}>;
var<workgroup> count: atomic<u32>;

fn anc(a: u32) -> vec4<f32> { return vec4<f32>(anchors[4u * a], anchors[4u * a + 1u], anchors[4u * a + 2u], anchors[4u * a + 3u]); }
fn gt(b: u32, g: u32) -> vec4<f32> {
  let r = (b * p.G + g) * p.stride + p.stride - 4u;
  return vec4<f32>(targets[r], targets[r + 1u], targets[r + 2u], targets[r + 3u]);
}
fn valid(b: u32, g: u32) -> bool { return p.stride == 4u || targets[(b * p.G + g) * p.stride] >= 0.0; }
fn iou(a: vec4<f32>, t: vec4<f32>) -> f32 {
  let iw = max(min(a.z, t.z) - max(a.x, t.x), 0.0);
  let ih = max(min(a.w, t.w) - max(a.y, t.y), 0.0);
  let inter = iw * ih;
  return inter / ((a.z - a.x) * (a.w - a.y) + (t.z - t.x) * (t.w - t.y) - inter);
}`,
    body: `
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.B) { return; }  // uniform per workgroup: the barriers below stay in uniform control flow
  let A = p.A; let G = p.G;
  let rows = b * (4u * A + G); let cols = rows + A; let list = cols + G; let rbv = list + A; let rbc = rbv + A;
  if (li == 0u) { atomicStore(&count, 0u); }
  var live = 0u;
  for (var g = 0u; g < G; g++) { if (valid(b, g)) { live++; } }
  workgroupBarrier();
  // threshold pass: each anchor takes its best box (first maximum) when their IoU reaches the
  // threshold; anchors overlapping some box go on the list the greedy pass scans
  for (var a = li; a < A; a += ${WG}u) {
    flags[rows + a] = 0u;
    var best = -1.0; var bj = -1;
    let an = anc(a);
    for (var g = 0u; g < G; g++) {
      if (valid(b, g)) { let v = iou(an, gt(b, g)); if (v > best || bj < 0) { best = v; bj = i32(g); } }
    }
    cls[b * A + a] = select(-1, bj, bj >= 0 && best >= p.thr);
    if (best > 0.0) {
      let t = atomicAdd(&count, 1u);
      flags[list + t] = a; flags[rbv + t] = bitcast<u32>(best); flags[rbc + t] = u32(bj);
    }
  }
  for (var g = li; g < G; g += ${WG}u) { flags[cols + g] = 0u; }
  storageBarrier();
  workgroupBarrier();
  let listed = atomicLoad(&count);
  // greedy pass: one iteration per live box, the first maximum of the matrix whose discarded cells
  // count as −1 (d2l's). Positive cells are all on listed rows, each of which keeps its best free
  // box (recomputed only when that box is taken); once none is positive the answer is
  // the first free anchor with the first free box (a zero), or cell (0, first live box) when every
  // anchor is taken (all −1), which thread 0 finds in O(G) steps.
  for (var k = 0u; k < G; k++) {
    var best = -2.0; var bidx = 0xffffffffu;
    if (k < live) {
      for (var t = li; t < listed; t += ${WG}u) {
        let a = flags[list + t];
        if (flags[rows + a] != 0u) { continue; }
        var v = bitcast<f32>(flags[rbv + t]); var g = flags[rbc + t];
        if (flags[cols + g] != 0u) {
          // the row's best box was taken: its next best among the free boxes (first maximum)
          v = -1.0; g = 0u; let an = anc(a);
          for (var h = 0u; h < G; h++) {
            if (valid(b, h) && flags[cols + h] == 0u) { let w = iou(an, gt(b, h)); if (w > v) { v = w; g = h; } }
          }
          flags[rbv + t] = bitcast<u32>(v); flags[rbc + t] = g;
        }
        let c = a * G + g;
        if (v > best || (v == best && c < bidx)) { best = v; bidx = c; }
      }
    }
    bv[li] = best; bi[li] = bidx;
    workgroupBarrier();
    for (var s = ${WG / 2}u; s > 0u; s = s / 2u) {
      if (li < s) {
        let ov = bv[li + s]; let oi = bi[li + s];
        if (ov > bv[li] || (ov == bv[li] && oi < bi[li])) { bv[li] = ov; bi[li] = oi; }
      }
      workgroupBarrier();
    }
    if (li == 0u && k < live) {
      var a = 0u; var g = 0u;
      if (bv[0] > 0.0) {
        a = bi[0] / G; g = bi[0] % G;
      } else {
        var fa = 0u; while (fa < A && flags[rows + fa] != 0u) { fa++; }
        var fg = 0u; while (!valid(b, fg) || (fa < A && flags[cols + fg] != 0u)) { fg++; }
        a = select(0u, fa, fa < A); g = fg;
      }
      cls[b * A + a] = i32(g); flags[rows + a] = 1u; flags[cols + g] = 1u;
    }
    storageBarrier();
    workgroupBarrier();
  }${final}`,
  };
}
