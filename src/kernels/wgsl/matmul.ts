/**
 * Matmul kernel generators: C[b] = op(A[b]) · op(B[b]) where op(X) is X or Xᵀ (last two dims),
 * chosen by the transA / transB flags so no transpose is ever materialised. Batch offsets come
 * from per-operand batch strides (0 on broadcast dims) in the uniform block.
 *
 * Two families, specialised only on the flags, the tile shape and which operands allow vec4 access:
 * - 'reg'  register-tiled: each thread computes TM×(4·TN4) outputs straight from global memory
 *          with vec4 loads, no workgroup memory (fast on CPU adapters such as lavapipe).
 * - 'wg'   classic workgroup-memory tiling: the workgroup stages BM×BK of A and BK×BN of B in
 *          workgroup memory, then every thread computes TM×(4·TN4) outputs from it (fast on GPUs).
 * Every variant reduces over k in the same order (k = 0, 1, 2, …, one fused multiply-add chain
 * per output), so they agree up to float rounding. Rows/columns past the edges are clamped on
 * load and never stored; the k tail is handled exactly.
 */
import { UniformLayout, type UniformValues } from '../webgpu/uniforms';
import { kernel, type Shader, type ShaderSpec } from './builder';

export const MATMUL_MAX_BATCH_RANK = 8;

export interface RegTile {
  kind: 'reg';
  tm: number;
  tn4: number;
  wx: number;
  wy: number;
  /**
   * Steps of k per loop iteration: 4 (default: vec4 loads of A over k), or 1 (one scalar of A per row and one
   * vec4 of B per column group per step: far fewer live registers, which is what CPU adapters need).
   */
  kstep?: 1 | 4;
}
export interface WgTile {
  kind: 'wg';
  tm: number;
  tn4: number;
  wx: number;
  wy: number;
  bk: number;
}
export type MatmulTile = RegTile | WgTile;

/** The variants autotune chooses from, by name. */
export const MATMUL_VARIANTS: Readonly<Record<string, MatmulTile>> = {
  reg4x4: { kind: 'reg', tm: 4, tn4: 1, wx: 8, wy: 8 },
  // wy = 1: every invocation of a workgroup shares its rows, so A's loads are uniform (CPU adapters)
  reg8x4: { kind: 'reg', tm: 8, tn4: 1, wx: 16, wy: 1 },
  reg4x8: { kind: 'reg', tm: 4, tn4: 2, wx: 16, wy: 1 },
  // k-step 1 register tiles for CPU adapters (chosen by rule there, see matmul-autotune.ts): a workgroup of 8
  // invocations on 8 rows, each thread 16 (or 8, 4) columns; measured best on lavapipe for 1024³
  k1r8x16: { kind: 'reg', tm: 8, tn4: 4, wx: 8, wy: 1, kstep: 1 },
  k1r8x16w16: { kind: 'reg', tm: 8, tn4: 4, wx: 16, wy: 1, kstep: 1 },
  k1r8x8: { kind: 'reg', tm: 8, tn4: 2, wx: 8, wy: 1, kstep: 1 },
  k1r8x4: { kind: 'reg', tm: 8, tn4: 1, wx: 8, wy: 1, kstep: 1 },
  k1r4x16: { kind: 'reg', tm: 4, tn4: 4, wx: 8, wy: 1, kstep: 1 },
  wg32: { kind: 'wg', tm: 4, tn4: 1, wx: 8, wy: 8, bk: 16 },
  wg64: { kind: 'wg', tm: 4, tn4: 1, wx: 16, wy: 16, bk: 16 },
};
export type MatmulVariant = keyof typeof MATMUL_VARIANTS & string;

export const matmulLayout = new UniformLayout([
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'batch', type: 'u32' },
  { name: 'nb', type: 'u32' },
  { name: 'aBatch', type: 'u32' },
  { name: 'bBatch', type: 'u32' },
  { name: 'bshape', type: 'u32', vec4s: 2 },
  { name: 'astride', type: 'u32', vec4s: 2 },
  { name: 'bstride', type: 'u32', vec4s: 2 },
]);

export interface MatmulProblem {
  /** Batch shape of the output (may be empty) and each operand's strides over it (0 = broadcast). */
  batchShape: number[];
  aStrides: number[];
  bStrides: number[];
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

export interface MatmulPlan {
  key: string;
  source: () => Shader;
  values: UniformValues;
  layout: UniformLayout;
  workgroups: [number, number, number];
}

/**
 * Whether every operand allows aligned vec4 access (decided by sizes, so it is part of the kernel
 * key). One flag for all three keeps the number of compiled kernels small.
 */
export function vecFlags(p: MatmulProblem): { va: boolean; vb: boolean; vc: boolean } {
  const all = (p.transA ? p.M % 4 === 0 : p.K % 4 === 0) && (p.transB ? p.K % 4 === 0 : p.N % 4 === 0) && p.N % 4 === 0;
  return { va: all, vb: all, vc: all };
}

const MAXG = 65535;

export function matmulPlan(p: MatmulProblem, tile: MatmulTile): MatmulPlan {
  if (p.batchShape.length > MATMUL_MAX_BATCH_RANK) throw new Error(`matmul: batch rank ${p.batchShape.length} exceeds ${MATMUL_MAX_BATCH_RANK}`);
  const v = vecFlags(p);
  // the 'reg' kernel's transposed-A vec4 path loads 4 rows of m at once: needs tm % 4 == 0 (always true here)
  const bm = tile.tm * tile.wy,
    bn = 4 * tile.tn4 * tile.wx;
  const batch = p.batchShape.reduce((a, b) => a * b, 1);
  const tilesN = Math.ceil(p.N / bn),
    tilesM = Math.ceil(p.M / bm);
  const workgroups: [number, number, number] = [Math.min(tilesN, MAXG), Math.min(tilesM, MAXG), Math.min(batch, MAXG)];
  const values: UniformValues = {
    M: p.M,
    N: p.N,
    K: p.K,
    batch,
    nb: p.batchShape.length,
    aBatch: p.M * p.K,
    bBatch: p.K * p.N,
    bshape: p.batchShape,
    astride: p.aStrides,
    bstride: p.bStrides,
  };
  const { key, source } = kernel('matmul', { tile, transA: p.transA, transB: p.transB, vec: v }, (k) =>
    k.tile.kind === 'reg' ? regShader(k.transA, k.transB, k.vec, k.tile) : wgShader(k.transA, k.transB, k.vec, k.tile),
  );
  return { key, source, values, layout: matmulLayout, workgroups };
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const comp = ['x', 'y', 'z', 'w'];

/** Uniforms, A, B and C, and the batch-offset function every matmul kernel uses. */
function header(v: { va: boolean; vb: boolean; vc: boolean }, wx: number, wy: number) {
  return {
    uniforms: matmulLayout,
    workgroupSize: [wx, wy] as const,
    storage: [
      { name: 'A', type: v.va ? 'vec4<f32>' : 'f32' },
      { name: 'B', type: v.vb ? 'vec4<f32>' : 'f32' },
      { name: 'C', type: v.vc ? 'vec4<f32>' : 'f32', access: 'read_write' as const },
    ],
    decls: `// element offsets of batch z in A and B (strides are in units of whole matrices: 0 or 1 per step)
fn batchOffsets(z: u32) -> vec2<u32> {
  var r = z; var oa = 0u; var ob = 0u;
  for (var d = i32(p.nb) - 1; d >= 0; d--) {
    let k = u32(d); let sz = p.bshape[k / 4u][k % 4u];
    let c = r % sz; r = r / sz;
    oa += c * p.astride[k / 4u][k % 4u]; ob += c * p.bstride[k / 4u][k % 4u];
  }
  return vec2<u32>(oa * p.aBatch, ob * p.bBatch);
}`,
  };
}

/** WGSL that reads element A(m, k) of the logical (already transposed) matrix, scalar. */
const aScalar = (tA: boolean, va: boolean, m: string, k: string) => {
  const idx = tA ? `aOff + (${k}) * p.M + ${m}` : `aOff + (${m}) * p.K + ${k}`;
  return va ? `A[(${idx}) / 4u][(${idx}) % 4u]` : `A[${idx}]`;
};
const bScalar = (tB: boolean, vb: boolean, k: string, n: string) => {
  const idx = tB ? `bOff + (${n}) * p.K + ${k}` : `bOff + (${k}) * p.N + ${n}`;
  return vb ? `B[(${idx}) / 4u][(${idx}) % 4u]` : `B[${idx}]`;
};

/** Stores acc rows c{i}_{j} (vec4 over n) to C with bounds checks. */
function storeC(tm: number, tn4: number, vc: boolean): string {
  const lines: string[] = [];
  for (let i = 0; i < tm; i++) {
    lines.push(`  if (m0 + ${i}u < p.M) {`);
    lines.push(`    let row = cOff + (m0 + ${i}u) * p.N;`);
    for (let j = 0; j < tn4; j++) {
      if (vc) lines.push(`    if (n0 + ${4 * j}u < p.N) { C[(row + n0 + ${4 * j}u) / 4u] = c${i}_${j}; }`);
      else for (let c = 0; c < 4; c++) lines.push(`    if (n0 + ${4 * j + c}u < p.N) { C[row + n0 + ${4 * j + c}u] = c${i}_${j}.${comp[c]}; }`);
    }
    lines.push('  }');
  }
  return lines.join('\n');
}

/**
 * Register-tiled kernel. Thread (lx, ly) of workgroup (x, y) owns rows m0..m0+TM-1 and columns
 * n0..n0+4·TN4-1. Per step of 4 in k it loads TM vec4s of A (over k) and 4×TN4 vec4s of B (over n),
 * then does 4·TM·TN4 vec4 multiply-adds.
 */
function regShader(tA: boolean, tB: boolean, v: { va: boolean; vb: boolean; vc: boolean }, t: RegTile): ShaderSpec {
  const { tm, tn4, wx, wy } = t;
  const tn = 4 * tn4;
  const L: string[] = [];
  // clamped row / column indices (reads past the edge are clamped; those outputs are never stored)
  for (let i = 0; i < tm; i++) L.push(`    let mr${i} = min(m0 + ${i}u, p.M - 1u);`);
  for (let j = 0; j < tn; j++) L.push(`    let nc${j} = min(n0 + ${j}u, p.N - 1u);`);
  const body: string[] = [];
  // A loads: a{i} = vec4(A(m_i, k..k+3))
  if (!tA && v.va) for (let i = 0; i < tm; i++) body.push(`let a${i} = A[(aOff + mr${i} * p.K + k) / 4u];`);
  else if (tA && v.va) {
    // rows k..k+3 of the stored [K, M] matrix, 4 consecutive m at once, then a register transpose
    for (let g = 0; g < tm / 4; g++) {
      body.push(`let mg${g} = min(m0 + ${4 * g}u, p.M - 4u);`);
      for (let kk = 0; kk < 4; kk++) body.push(`let r${g}_${kk} = A[(aOff + (k + ${kk}u) * p.M + mg${g}) / 4u];`);
      for (let ii = 0; ii < 4; ii++)
        body.push(
          `let a${4 * g + ii} = vec4<f32>(${range(4)
            .map((kk) => `r${g}_${kk}.${comp[ii]}`)
            .join(', ')});`,
        );
    }
  } else
    for (let i = 0; i < tm; i++)
      body.push(
        `let a${i} = vec4<f32>(${range(4)
          .map((kk) => aScalar(tA, false, `mr${i}`, `k + ${kk}u`))
          .join(', ')});`,
      );
  // B loads: b{kk}_{j} = vec4(B(k+kk, n0+4j..n0+4j+3))
  if (!tB && v.vb) {
    for (let j = 0; j < tn4; j++) body.push(`let ng${j} = min(n0 + ${4 * j}u, p.N - 4u);`);
    for (let kk = 0; kk < 4; kk++) for (let j = 0; j < tn4; j++) body.push(`let b${kk}_${j} = B[(bOff + (k + ${kk}u) * p.N + ng${j}) / 4u];`);
  } else if (tB && v.vb) {
    // stored [N, K]: one vec4 over k per column, then a register transpose
    for (let j = 0; j < tn; j++) body.push(`let q${j} = B[(bOff + nc${j} * p.K + k) / 4u];`);
    for (let kk = 0; kk < 4; kk++)
      for (let j = 0; j < tn4; j++)
        body.push(
          `let b${kk}_${j} = vec4<f32>(${range(4)
            .map((c) => `q${4 * j + c}.${comp[kk]}`)
            .join(', ')});`,
        );
  } else {
    for (let kk = 0; kk < 4; kk++)
      for (let j = 0; j < tn4; j++)
        body.push(
          `let b${kk}_${j} = vec4<f32>(${range(4)
            .map((c) => bScalar(tB, false, `k + ${kk}u`, `nc${4 * j + c}`))
            .join(', ')});`,
        );
  }
  for (let i = 0; i < tm; i++)
    for (let j = 0; j < tn4; j++) {
      for (let kk = 0; kk < 4; kk++) body.push(`c${i}_${j} = fma(vec4<f32>(a${i}.${comp[kk]}), b${kk}_${j}, c${i}_${j});`);
    }
  // k tail (K % 4 elements), scalar
  const tail: string[] = [];
  for (let i = 0; i < tm; i++) tail.push(`let a${i} = ${aScalar(tA, v.va, `mr${i}`, 'k')};`);
  for (let j = 0; j < tn4; j++)
    tail.push(
      !tB && v.vb
        ? `let b${j} = B[(bOff + k * p.N + min(n0 + ${4 * j}u, p.N - 4u)) / 4u];`
        : `let b${j} = vec4<f32>(${range(4)
            .map((c) => bScalar(tB, v.vb, 'k', `nc${4 * j + c}`))
            .join(', ')});`,
    );
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn4; j++) tail.push(`c${i}_${j} = fma(vec4<f32>(a${i}), b${j}, c${i}_${j});`);

  return {
    ...header(v, wx, wy),
    body: `
  let tilesN = (p.N + ${tn * wx - 1}u) / ${tn * wx}u;
  let tilesM = (p.M + ${tm * wy - 1}u) / ${tm * wy}u;
  let k4 = ${t.kstep === 1 ? '0u' : 'p.K & ~3u'};
  for (var z = wid.z; z < p.batch; z += nwg.z) {
  let offs = batchOffsets(z);
  let aOff = offs.x; let bOff = offs.y; let cOff = z * p.M * p.N;
  for (var ty = wid.y; ty < tilesM; ty += nwg.y) {
  for (var tx = wid.x; tx < tilesN; tx += nwg.x) {
    let m0 = ${wy === 1 ? `ty * ${tm}u` : `(ty * ${wy}u + lid.y) * ${tm}u`};
    let n0 = (tx * ${wx}u + lid.x) * ${tn}u;
${L.join('\n')}
    ${range(tm)
      .flatMap((i) => range(tn4).map((j) => `var c${i}_${j} = vec4<f32>(0.0);`))
      .join(' ')}
${
  t.kstep === 1
    ? ''
    : `    for (var k = 0u; k < k4; k += 4u) {
      ${body.join('\n      ')}
    }`
}
    for (var k = k4; k < p.K; k++) {
      ${tail.join('\n      ')}
    }
${storeC(tm, tn4, v.vc).replace(/^/gm, '  ')}
  }
  }
  }`,
  };
}

/**
 * Workgroup-memory tiled kernel: BM = TM·WY rows, BN = 4·TN4·WX columns, BK deep. All threads
 * stage the A tile (as [BK][BM]) and B tile (as [BK][BN]) with bounds-checked loads (zeros past K),
 * then each thread accumulates its TM×4·TN4 outputs from workgroup memory.
 */
function wgShader(tA: boolean, tB: boolean, v: { va: boolean; vb: boolean; vc: boolean }, t: WgTile): ShaderSpec {
  const { tm, tn4, wx, wy, bk } = t;
  const tn = 4 * tn4,
    bm = tm * wy,
    bn = tn * wx,
    nthreads = wx * wy;
  // A tile: element e of the staging loop → (m, k) in the order that walks memory contiguously
  const aLoad = tA ? `let kk = e / ${bm}u; let mm = e % ${bm}u;` : `let mm = e / ${bk}u; let kk = e % ${bk}u;`;
  const bLoad = tB ? `let nn = e / ${bk}u; let kk = e % ${bk}u;` : `let kk = e / ${bn}u; let nn = e % ${bn}u;`;
  const inner: string[] = [];
  for (let g = 0; g < tm / 4; g++)
    inner.push(
      `let a${g} = vec4<f32>(${range(4)
        .map((c) => `As[kk * ${bm}u + mb + ${4 * g + c}u]`)
        .join(', ')});`,
    );
  for (let j = 0; j < tn4; j++)
    inner.push(
      `let b${j} = vec4<f32>(${range(4)
        .map((c) => `Bs[kk * ${bn}u + nb + ${4 * j + c}u]`)
        .join(', ')});`,
    );
  for (let i = 0; i < tm; i++) for (let j = 0; j < tn4; j++) inner.push(`c${i}_${j} = fma(vec4<f32>(a${i >> 2}.${comp[i & 3]}), b${j}, c${i}_${j});`);
  const h = header(v, wx, wy);
  return {
    ...h,
    decls: `${h.decls}
var<workgroup> As: array<f32, ${bm * bk}>;
var<workgroup> Bs: array<f32, ${bn * bk}>;`,
    body: `
  let tilesN = (p.N + ${bn - 1}u) / ${bn}u;
  let tilesM = (p.M + ${bm - 1}u) / ${bm}u;
  for (var z = wid.z; z < p.batch; z += nwg.z) {
  let offs = batchOffsets(z);
  let aOff = offs.x; let bOff = offs.y; let cOff = z * p.M * p.N;
  for (var ty = wid.y; ty < tilesM; ty += nwg.y) {
  for (var tx = wid.x; tx < tilesN; tx += nwg.x) {
    let mt = ty * ${bm}u; let nt = tx * ${bn}u;
    let m0 = mt + lid.y * ${tm}u; let n0 = nt + lid.x * ${tn}u;
    let mb = lid.y * ${tm}u; let nb = lid.x * ${tn}u;
    ${range(tm)
      .flatMap((i) => range(tn4).map((j) => `var c${i}_${j} = vec4<f32>(0.0);`))
      .join(' ')}
    for (var k0 = 0u; k0 < p.K; k0 += ${bk}u) {
      for (var e = li; e < ${bm * bk}u; e += ${nthreads}u) {
        ${aLoad}
        let m = mt + mm; let k = k0 + kk;
        var val = 0.0;
        if (m < p.M && k < p.K) { val = ${aScalar(tA, v.va, 'm', 'k')}; }
        As[kk * ${bm}u + mm] = val;
      }
      for (var e = li; e < ${bn * bk}u; e += ${nthreads}u) {
        ${bLoad}
        let n = nt + nn; let k = k0 + kk;
        var val = 0.0;
        if (n < p.N && k < p.K) { val = ${bScalar(tB, v.vb, 'k', 'n')}; }
        Bs[kk * ${bn}u + nn] = val;
      }
      workgroupBarrier();
      let kmax = min(${bk}u, p.K - k0);
      for (var kk = 0u; kk < kmax; kk++) {
        ${inner.join('\n        ')}
      }
      workgroupBarrier();
    }
${storeC(tm, tn4, v.vc).replace(/^/gm, '  ')}
  }
  }
  }`,
  };
}
