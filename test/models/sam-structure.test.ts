/**
 * SAM's structure: the state_dict keys and shapes of vit_b, vit_l and vit_h (as the official build functions make
 * them, test/fixtures/sam-official/structure.json) against samParamShapes, which allocates nothing; parameter totals
 * against a hand count from the architecture (and the published totals); a tiny model's init against its shapes.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { random, tree, type Tensor } from '../../src/node';
import { sam, samParamShapes } from '../../src/models/sam/sam';
import { SAM_CONFIGS, samConfig, type SamConfig, type SamName } from '../../src/models/sam/config';

const STRUCTURE = 'test/fixtures/sam-official/structure.json';
const NAMES: SamName[] = ['vit_b', 'vit_l', 'vit_h'];
/** The totals of sam_vit_{b,l,h} as the segment-anything repository's models report them (model.parameters()). */
const PUBLISHED: Record<SamName, number> = { vit_b: 93_735_472, vit_l: 312_342_832, vit_h: 641_090_608 };

/** Parameter count by formula, from the architecture's description (independent of the model code). */
function handCount(cfg: SamConfig): { imageEncoder: number; promptEncoder: number; maskDecoder: number } {
  const e = cfg.encoder,
    D = e.embedDim,
    C = cfg.promptEmbedDim,
    E = e.imgSize / e.patchSize,
    hd = D / e.numHeads;
  const linear = (i: number, o: number) => i * o + o;
  // patch embedding (conv p×p with bias), absolute position embedding E×E×D
  let enc = linear(3 * e.patchSize ** 2, D) + E * E * D;
  for (let i = 0; i < e.depth; i++) {
    const span = e.globalAttnIndexes.includes(i) ? E : e.windowSize; // the rel-pos tables cover 2·span − 1 offsets
    enc += 2 * 2 * D + linear(D, 3 * D) + linear(D, D) + 2 * (2 * span - 1) * hd + linear(D, e.mlpRatio * D) + linear(e.mlpRatio * D, D);
  }
  enc += D * C + 2 * C + C * C * 9 + 2 * C; // neck: 1×1 conv, LN2d, 3×3 conv (no biases), LN2d
  const m = cfg.maskInChans;
  const prompt = 5 * C + (m / 4) * 4 + m / 4 + 2 * (m / 4) + m * (m / 4) * 4 + m + 2 * m + linear(m, C) + C;
  const d = cfg.decoder,
    T = d.numMultimaskOutputs + 1;
  const attn = (rate: number) => 3 * linear(C, C / rate) + linear(C / rate, C);
  const block = attn(1) + 2 * attn(2) + 4 * 2 * C + linear(C, d.mlpDim) + linear(d.mlpDim, C);
  const mlp = (i: number, h: number, o: number, n: number) => (n === 1 ? linear(i, o) : linear(i, h) + (n - 2) * linear(h, h) + linear(h, o));
  const dec =
    d.depth * block +
    attn(2) +
    2 * C +
    C +
    T * C +
    (C * (C / 4) * 4 + C / 4) +
    2 * (C / 4) +
    ((C / 4) * (C / 8) * 4 + C / 8) +
    T * mlp(C, C, C / 8, 3) +
    mlp(C, d.iouHeadHiddenDim, T, d.iouHeadDepth);
  return { imageEncoder: enc, promptEncoder: prompt, maskDecoder: dec };
}

const BUFFERS = ['prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'];
const paramTotal = (keys: [string, number[]][]) => keys.filter(([k]) => !BUFFERS.includes(k)).reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);

describe('SAM structure', () => {
  it('the hand count gives the published totals (vit_b: encoder 89,670,912, prompt encoder 6,220, mask decoder 4,058,340)', () => {
    const b = handCount(SAM_CONFIGS.vit_b);
    expect(b).toEqual({ imageEncoder: 89_670_912, promptEncoder: 6_220, maskDecoder: 4_058_340 });
    for (const name of NAMES) {
      const c = handCount(SAM_CONFIGS[name]);
      expect(c.imageEncoder + c.promptEncoder + c.maskDecoder, name).toBe(PUBLISHED[name]);
    }
  });

  it('samParamShapes: the totals of each part equal the hand count', () => {
    for (const name of NAMES) {
      const keys = samParamShapes(name);
      const part = (prefix: string) => paramTotal(keys.filter(([k]) => k.startsWith(prefix)));
      const c = handCount(SAM_CONFIGS[name]);
      expect([part('image_encoder.'), part('prompt_encoder.'), part('mask_decoder.')], name).toEqual([c.imageEncoder, c.promptEncoder, c.maskDecoder]);
      expect(paramTotal(keys)).toBe(PUBLISHED[name]);
    }
  });

  it('samParamShapes equals the official state_dict keys, order and shapes (structure.json) for vit_b, vit_l, vit_h', () => {
    const official = JSON.parse(readFileSync(STRUCTURE, 'utf8')) as Record<SamName, { keys: [string, number[]][]; total: number }>;
    for (const name of NAMES) {
      expect(official[name].total, name).toBe(PUBLISHED[name]);
      expect(samParamShapes(name), name).toEqual(official[name].keys);
      expect(paramTotal(official[name].keys), name).toBe(official[name].total);
    }
  });

  it("a tiny model's init gives exactly samParamShapes (params and the Fourier buffer)", () => {
    const cfg = samConfig('vit_b', {
      promptEmbedDim: 16,
      encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 3, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] },
      decoder: { depth: 2, mlpDim: 32, numHeads: 2, iouHeadHiddenDim: 16 },
    });
    const { params, state } = sam(cfg).init(random.key(0));
    const got = [...tree.flatten(params), ...tree.flatten(state)].map(({ path, value }) => [path, [...(value as Tensor).shape]] as [string, number[]]);
    const want = samParamShapes(cfg);
    const byName = (a: [string, number[]], b: [string, number[]]) => (a[0] < b[0] ? -1 : 1);
    expect([...got].sort(byName)).toEqual([...want].sort(byName));
    // within each part, the parameter trees flatten in the official order
    for (const part of ['image_encoder', 'mask_decoder'])
      expect(got.filter(([k]) => k.startsWith(part)).map(([k]) => k)).toEqual(want.filter(([k]) => k.startsWith(part)).map(([k]) => k));
    tree.dispose([params, state]);
  });

  it('one-line errors for a bad configuration name', () => {
    expect(() => samParamShapes('vit_x' as SamName)).toThrow(
      /^samParamShapes: argument 'config' is "vit_x"; expected 'vit_b', 'vit_l', 'vit_h' or a SamConfig$/,
    );
    expect(() => sam(null as unknown as SamName)).toThrow(/^sam: argument 'config' is null/);
  });
});
