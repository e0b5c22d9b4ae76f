/**
 * SAM's ViT image encoder against the official implementation: the tiny configuration's float32 weights and the
 * float64 outputs of the official modules (test/fixtures/sam-official/tiny.pth, made by generate.py), stage by stage
 * (patch embedding, each block, the neck, the whole chain), get_rel_pos (equal sizes, q ≠ k, interpolated tables),
 * the state_dict keys and shapes of vit_b/l/h (structure.json), PyTorch's initialisation and memory.
 *
 * Tolerance: our forward is float32 against a float64 run of the same float32 weights. Each stage is fed the
 * official float64 input of that stage (rounded to float32), so errors do not compound across blocks; the
 * per-stage errors come from float32 rounding in sums of ≤ 3·64 terms (patches), 32–128 (linears, LayerNorm,
 * softmax over ≤ 64 keys), about 1e-6 relative, so 2e-5 · (1 + |ref|) leaves an order of magnitude of headroom while
 * still catching any wrong index (a swapped window, a missing rel-pos term moves outputs by 1e-2 and more).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { flattenStateDict, readPth } from '../../src/formats/pth';
import type { HostTensor } from '../../src/formats/host-tensor';
import { loadStateDict } from '../../src/formats/load-state';
import { SAM_CONFIGS, type SamEncoderConfig } from '../../src/models/sam/config';
import {
  applyEncoderBlock,
  applyImageEncoder,
  applyNeck,
  applyPatchEmbed,
  imageEncoderParamShapes,
  imageEncoderViT,
  initImageEncoder,
  type ImageEncoderParams,
} from '../../src/models/sam/image-encoder';
import { decomposedRelPos, getRelPos, relPosIndex } from '../../src/models/sam/rel-pos';
import { add, grad, mul, sum, memory, random, tensor, tree, windowPartition, windowUnpartition, type Tensor } from '../../src/node';
import { refWindowPartition } from '../../src/tensor/ops/ref/window';

const DIR = join(__dirname, '..', 'fixtures', 'sam-official');
const tiny = JSON.parse(readFileSync(join(DIR, 'tiny.json'), 'utf8')) as { config: { encoder: SamEncoderConfig } };
const cfg = tiny.config.encoder;

let loaded: Promise<{ sd: Record<string, HostTensor>; cases: Record<string, HostTensor> }> | undefined;
/** The fixture's weights and cases, read once. */
function fixture() {
  loaded ??= readPth(new Uint8Array(readFileSync(join(DIR, 'tiny.pth')))).then((raw) => {
    const r = raw as { state_dict: unknown; cases: Record<string, HostTensor> };
    return { sd: flattenStateDict(r.state_dict), cases: r.cases };
  });
  return loaded;
}

const upload = (h: HostTensor): Tensor => tensor(Float32Array.from(h.data as Float64Array | Float32Array), { shape: h.shape });

/** The encoder's parameters from the official state_dict (every key used, none missing, every shape equal). */
async function officialParams(): Promise<ImageEncoderParams> {
  const { sd } = await fixture();
  const r = loadStateDict(initImageEncoder(cfg, random.key(0)), sd, {
    map: (k) => (k.startsWith('image_encoder.') ? k.slice('image_encoder.'.length) : null),
  });
  expect([r.missing, r.unexpected, r.shapeMismatch]).toEqual([[], [], []]);
  return r.params;
}

/** Max |ours − ref| / (1 + |ref|) over all entries, after checking shapes. */
async function relErr(ours: Tensor, ref: HostTensor): Promise<number> {
  expect(ours.shape).toEqual([...ref.shape]);
  const a = await ours.data();
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - Number(ref.data[i])) / (1 + Math.abs(Number(ref.data[i]))));
  return m;
}
const TOL = 2e-5;

describe('SAM image encoder vs the official implementation (tiny config)', () => {
  it('loads the official tiny state_dict: same keys, same shapes, same order', async () => {
    const { sd } = await fixture();
    const official = Object.entries(sd)
      .filter(([k]) => k.startsWith('image_encoder.'))
      .map(([k, v]) => [k.slice('image_encoder.'.length), [...v.shape]]);
    expect(imageEncoderParamShapes(cfg)).toEqual(official);
    await officialParams();
  });

  it('matches the official patch embedding, every block (windowed with padding, global) and the neck', async () => {
    const { cases } = await fixture();
    const params = await officialParams();
    // 8×8 patch grid, window 3: the windowed blocks pad to 9×9 and crop back
    expect([cfg.imgSize / cfg.patchSize, cfg.windowSize, cfg.globalAttnIndexes]).toEqual([8, 3, [1]]);
    const errs: Record<string, number> = {};
    const check = async (stage: string, ours: Tensor, ref: HostTensor) => {
      errs[stage] = await relErr(ours, ref);
      ours.dispose();
    };
    await check('patch', applyPatchEmbed(cfg, params, upload(cases['enc.input'])), cases['enc.patch_embed']);
    await check('pos', add(upload(cases['enc.patch_embed']), params.pos_embed), cases['enc.pos']);
    let input = cases['enc.pos'];
    for (let i = 0; i < cfg.depth; i++) {
      await check(`block${i}`, applyEncoderBlock(cfg, i, params.blocks[i], upload(input)), cases[`enc.block${i}`]);
      input = cases[`enc.block${i}`];
    }
    await check('neck', applyNeck(cfg, params, upload(input)), cases['enc.output']);
    console.log('relative errors per stage', errs);
    for (const [stage, e] of Object.entries(errs)) expect(e, stage).toBeLessThan(TOL);
  });

  it('matches the official output end to end', async () => {
    const { cases } = await fixture();
    const params = await officialParams();
    const out = applyImageEncoder(cfg, params, upload(cases['enc.input']));
    expect(out.shape).toEqual([2, 16, 8, 8]);
    // the chain compounds four stages' float32 rounding
    expect(await relErr(out, cases['enc.output'])).toBeLessThan(4 * TOL);
    out.dispose();
  });

  it('getRelPos: equal sizes, q ≠ k, and interpolated tables as get_rel_pos', async () => {
    const { cases } = await fixture();
    const sizes: Record<string, [number, number]> = { same: [5, 5], qk: [3, 5], interp: [5, 5], interp_qk: [3, 5] };
    for (const [name, [q, k]] of Object.entries(sizes)) {
      const table = upload(cases[`relpos.${name}.table`]);
      expect(await relErr(getRelPos(q, k, table), cases[`relpos.${name}.out`]), name).toBeLessThan(1e-6);
    }
  });
});

/** A copy of `params` with the leaf at the dotted `path` replaced (the other leaves shared). */
function withLeaf(params: ImageEncoderParams, path: string, value: Tensor): ImageEncoderParams {
  const set = (node: Record<string, unknown>, parts: string[]): Record<string, unknown> =>
    parts.length === 1 ? { ...node, [parts[0]]: value } : { ...node, [parts[0]]: set(node[parts[0]] as Record<string, unknown>, parts.slice(1)) };
  return set(params as unknown as Record<string, unknown>, path.split('.')) as unknown as ImageEncoderParams;
}

describe('SAM image encoder gradients', () => {
  it('every parameter gets a gradient, and directional derivatives match central differences', async () => {
    const { cases } = await fixture();
    const params = await officialParams();
    const x = upload(cases['enc.input']);
    const wave = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(k * i + 1));
    const r = tensor(wave(2 * 16 * 8 * 8, 0.37), { shape: [2, 16, 8, 8] });
    const loss = (p: ImageEncoderParams) => sum(mul(applyImageEncoder(cfg, p, x), r));
    const g = grad(loss)(params) as ImageEncoderParams;
    const leaves = tree.flatten(g);
    expect(leaves.map((l) => l.path)).toEqual(imageEncoderParamShapes(cfg).map(([k]) => k));
    for (const { path, value } of leaves) {
      const v = await (value as Tensor).data();
      expect(v.every(Number.isFinite), path).toBe(true);
      expect(
        v.some((e) => e !== 0),
        path,
      ).toBe(true);
    }
    const at = (t: unknown, path: string) => path.split('.').reduce((n: any, k) => n[k], t) as Tensor;
    // through the window layout, the rel-pos gather and both relPos terms, the global block, the abs. position embedding
    for (const path of ['blocks.0.attn.rel_pos_h', 'blocks.0.attn.rel_pos_w', 'blocks.1.attn.rel_pos_h', 'pos_embed', 'blocks.2.attn.qkv.weight']) {
      const p0 = at(params, path);
      const d = wave(p0.size, 1.7);
      const analytic = Array.from(await at(g, path).data()).reduce((s, gi, i) => s + gi * d[i], 0);
      const h = 1e-2;
      const shifted = (sign: number) => {
        const p = withLeaf(
          params,
          path,
          add(
            p0,
            tensor(
              d.map((v) => sign * h * v),
              { shape: p0.shape },
            ),
          ),
        );
        return loss(p);
      };
      const fd = ((await shifted(1).item()) - (await shifted(-1).item())) / (2 * h);
      expect(Math.abs(fd - analytic), `${path}: fd ${fd} vs analytic ${analytic}`).toBeLessThan(1e-2 * Math.max(1, Math.abs(analytic)));
    }
  });
});

describe('SAM image encoder structure and initialisation', () => {
  it("lists vit_b/l/h's image_encoder keys and shapes as the official build does, without allocating", () => {
    const structure = JSON.parse(readFileSync(join(DIR, 'structure.json'), 'utf8')) as Record<string, { keys: [string, number[]][] }>;
    const before = memory().liveTensors;
    for (const name of ['vit_b', 'vit_l', 'vit_h'] as const) {
      const official = structure[name].keys.filter(([k]) => k.startsWith('image_encoder.')).map(([k, s]) => [k.slice('image_encoder.'.length), s]);
      expect(imageEncoderParamShapes(SAM_CONFIGS[name].encoder), name).toEqual(official);
    }
    expect(memory().liveTensors).toBe(before);
  });

  it('initialises as PyTorch: zero pos_embed and rel-pos tables, LayerNorm ones/zeros, U(±1/√fanIn) linears', async () => {
    const enc = imageEncoderViT(cfg);
    const p = enc.init(random.key(3));
    const values = async (t: Tensor) => Array.from(await t.data());
    expect(new Set(await values(p.pos_embed))).toEqual(new Set([0]));
    expect(new Set(await values(p.blocks[1].attn.rel_pos_h))).toEqual(new Set([0]));
    expect(p.blocks[1].attn.rel_pos_h.shape).toEqual([15, 16]); // global block: 2·8 − 1 offsets
    expect(p.blocks[0].attn.rel_pos_w.shape).toEqual([5, 16]); // windowed: 2·3 − 1
    expect(new Set(await values(p.neck['1'].weight))).toEqual(new Set([1]));
    expect(new Set(await values(p.blocks[0].norm2.bias))).toEqual(new Set([0]));
    const w = await values(p.blocks[0].mlp.lin2.weight); // fan-in 128: kaiming-uniform(a=√5) bound 1/√128
    const bound = 1 / Math.sqrt(128);
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.9 * bound);
    const b = await values(p.patch_embed.proj.bias); // fan-in 3·8·8
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(192));
    tree.dispose(p);
  });

  it('frees every intermediate in inference: one new tensor per forward', async () => {
    const params = await officialParams();
    const x = tensor(
      new Float32Array(2 * 3 * 64 * 64).map((_, i) => Math.sin(i)),
      { shape: [2, 3, 64, 64] },
    );
    const before = memory().liveTensors;
    const y = applyImageEncoder(cfg, params, x);
    expect(memory().liveTensors).toBe(before + 1);
    y.dispose();
    x.dispose();
    tree.dispose(params);
  });
});

describe('window partition on the 8×8 grid with window 3 (the tiny encoder)', () => {
  it('pads to 9×9 with zeros, windows in (row, column) order, and unpartitions back exactly', async () => {
    const data = Float32Array.from({ length: 2 * 8 * 8 * 4 }, (_, i) => i + 1);
    const x = tensor(data, { shape: [2, 8, 8, 4] });
    const { windows, padHw } = windowPartition(x, 3);
    expect(padHw).toEqual([9, 9]);
    expect(windows.shape).toEqual([18, 3, 3, 4]);
    const ref = refWindowPartition({ shape: [2, 8, 8, 4], dtype: 'float32', data: Float64Array.from(data) }, 3);
    expect(Array.from(await windows.data())).toEqual(Array.from(ref.data));
    const w = await windows.data();
    // window (b=0, i=0, j=1), its token (r=1, s=2) is token (h=1, w=5) of the grid
    expect(w[((1 * 3 + 1) * 3 + 2) * 4]).toBe(data[(1 * 8 + 5) * 4]);
    // the last window of image 0 holds grid rows/cols 6..8: row 8 and col 8 are padding
    expect(w[((8 * 3 + 2) * 3 + 0) * 4]).toBe(0);
    expect(Array.from(await windowUnpartition(windows, 3, padHw, [8, 8]).data())).toEqual(Array.from(data));
  });

  it('rejects bad arguments with one-line errors', () => {
    const x = tensor(new Float32Array(16), { shape: [1, 4, 4, 1] });
    expect(() => windowPartition(x, 0)).toThrow(/windowPartition: argument 'windowSize' is 0; expected a positive integer/);
    const { windows } = windowPartition(x, 3);
    expect(() => windowUnpartition(windows, 3, [6, 5], [4, 4])).toThrow(/windowUnpartition: argument 'padHw'/);
    expect(() => windowUnpartition(windows, 3, [6, 6], [7, 4])).toThrow(/windowUnpartition: argument 'hw'/);
    expect(() => getRelPos(0, 3, x)).toThrow(/getRelPos: argument 'qSize'/);
    expect(() => imageEncoderViT({ ...cfg, embedDim: 33 })).toThrow(
      /imageEncoderViT: argument 'cfg.embedDim' is 33 with numHeads 2; expected a multiple of numHeads/,
    );
    expect(() => imageEncoderParamShapes({ ...cfg, globalAttnIndexes: [3] })).toThrow(/argument 'cfg.globalAttnIndexes' is \[3\]/);
    const params = initImageEncoder(cfg, random.key(0));
    expect(() => applyImageEncoder(cfg, params, tensor(new Float32Array(3 * 32 * 32), { shape: [1, 3, 32, 32] }))).toThrow(
      /applyImageEncoder: argument 'x' has shape \[1, 3, 32, 32\]; expected \[B, 3, 64, 64\]/,
    );
    tree.dispose(params);
  });

  it('decomposedRelPos computes both einsums of add_decomposed_rel_pos, also for q and k grids of different sizes', async () => {
    const [B, qh, qw, kh, kw, C] = [2, 2, 3, 4, 5, 3];
    const wave = (n: number, k: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(k * i + 0.3));
    const qData = wave(B * qh * qw * C, 0.9),
      hData = wave((2 * kh - 1) * C, 1.3),
      wData = wave((2 * kw - 1) * C, 2.1);
    const { h, w } = decomposedRelPos(
      tensor(qData, { shape: [B, qh * qw, C] }),
      tensor(hData, { shape: [2 * kh - 1, C] }),
      tensor(wData, { shape: [2 * kw - 1, C] }),
      [qh, qw],
      [kh, kw],
    );
    expect([h.shape, w.shape]).toEqual([
      [B, qh * qw, kh],
      [B, qh * qw, kw],
    ]);
    // on the host: Rh[y, i] = table row relPosIndex(qh, kh)[y·kh + i]; h[b, (y, x), i] = Σ_c q[b, (y, x), c]·Rh[y, i, c]
    const ih = relPosIndex(qh, kh),
      iw = relPosIndex(qw, kw);
    const [hv, wv] = [await h.data(), await w.data()];
    for (let b = 0; b < B; b++)
      for (let y = 0; y < qh; y++)
        for (let x = 0; x < qw; x++) {
          const qAt = (c: number) => qData[((b * qh + y) * qw + x) * C + c];
          for (let i = 0; i < kh; i++) {
            let e = 0;
            for (let c = 0; c < C; c++) e += qAt(c) * hData[ih[y * kh + i] * C + c];
            expect(hv[((b * qh + y) * qw + x) * kh + i]).toBeCloseTo(e, 5);
          }
          for (let j = 0; j < kw; j++) {
            let e = 0;
            for (let c = 0; c < C; c++) e += qAt(c) * wData[iw[x * kw + j] * C + c];
            expect(wv[((b * qh + y) * qw + x) * kw + j]).toBeCloseTo(e, 5);
          }
        }
  });

  it('rel-pos indices follow get_rel_pos (offset q − k shifted to be ≥ 0; the shorter axis stretched)', () => {
    expect(Array.from(relPosIndex(3, 3))).toEqual([2, 1, 0, 3, 2, 1, 4, 3, 2]);
    // q = 2, k = 4: query coords ×2, shift (k − 1)·1 = 3
    expect(Array.from(relPosIndex(2, 4))).toEqual([3, 2, 1, 0, 5, 4, 3, 2]);
    // q = 4, k = 2: key coords ×2, shift (2 − 1)·2 = 2
    expect(Array.from(relPosIndex(4, 2))).toEqual([2, 0, 3, 1, 4, 2, 5, 3]);
  });
});
