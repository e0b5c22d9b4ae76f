/**
 * SAM's prompt encoder, mask decoder and pre/post-processing against the official modules run in float64 on the
 * tiny configuration's weights (test/fixtures/sam-official/tiny.pth, made by generate.py there); the mask decoder's
 * gradients (every parameter gets one; central differences along random directions agree); one-line errors.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { random, tree, tidy, tensor, zeros, full, randn, valueAndGrad, sum, mul, add, memory, permute, reshape, type Tensor } from '../../src/node';
import { readPth, flattenStateDict } from '../../src/formats';
import { toTensor, hostValues, type HostTensor } from '../../src/formats/host-tensor';
import { sam, type SamModel, type SamParams, type SamState } from '../../src/models/sam/sam';
import { samConfig, type SamConfig } from '../../src/models/sam/config';
import type { Params } from '../../src/nn/module';
import { initLeaves } from '../../src/models/sam/param-spec';
import { maskDecoderLeaves } from '../../src/models/sam/mask-decoder';
import { promptEncoderLeaves, promptEncoderStateLeaves } from '../../src/models/sam/prompt-encoder';
import { subtree } from '../sam/tiny-fixture';

const TINY = 'test/fixtures/sam-official/tiny.pth';

function tinyConfig(): SamConfig {
  const j = JSON.parse(readFileSync('test/fixtures/sam-official/tiny.json', 'utf8')).config;
  return samConfig('vit_b', { promptEmbedDim: j.promptEmbedDim, maskInChans: j.maskInChans, encoder: j.encoder, decoder: j.decoder });
}

/** Largest |got − want| / (atol + rtol·|want|): ≤ 1 passes. */
async function closeness(got: Tensor, want: HostTensor, atol = 1e-4, rtol = 1e-4): Promise<number> {
  expect(got.shape).toEqual(want.shape);
  const g = await got.data(),
    w = hostValues(want);
  let worst = 0;
  for (let i = 0; i < w.length; i++) worst = Math.max(worst, Math.abs(g[i] - w[i]) / (atol + rtol * Math.abs(w[i])));
  return worst;
}

describe('SAM prompt encoder and mask decoder vs the official float64 outputs (tiny.pth)', () => {
  let model: SamModel;
  let params: SamParams;
  let state: SamState;
  let cases: Record<string, HostTensor>;
  const input = (name: string) => {
    const c = cases[name];
    if (!c) throw new Error(`tiny.pth has no case '${name}'`);
    return toTensor(c, undefined, 'float32');
  };

  beforeAll(async () => {
    const file = (await readPth(new Uint8Array(readFileSync(TINY)))) as { state_dict: unknown; cases: unknown };
    const sd = flattenStateDict(file.state_dict);
    cases = flattenStateDict(file.cases);
    model = sam(tinyConfig());
    params = { image_encoder: subtree(sd, 'image_encoder.'), prompt_encoder: subtree(sd, 'prompt_encoder.'), mask_decoder: subtree(sd, 'mask_decoder.') };
    state = { prompt_encoder: subtree(sd, 'prompt_encoder.') as unknown as SamState['prompt_encoder'] };
  });

  const prompts = () => ({
    points: { coords: input('pe.coords'), labels: input('pe.labels') },
    boxes: input('pe.boxes'),
    masks: input('pe.masks'),
  });

  it('prompt encoder: points (with the padding point), boxes, points+boxes, points+masks; dense PE', async () => {
    const all = prompts();
    const variants = {
      points: { points: all.points },
      boxes: { boxes: all.boxes },
      points_boxes: { points: all.points, boxes: all.boxes },
      points_masks: { points: all.points, masks: all.masks },
    };
    for (const [name, pr] of Object.entries(variants)) {
      const { sparse, dense } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, pr);
      expect(await closeness(sparse, cases[`pe.${name}.sparse`]), `${name} sparse`).toBeLessThanOrEqual(1);
      expect(await closeness(dense, cases[`pe.${name}.dense`]), `${name} dense`).toBeLessThanOrEqual(1);
      tree.dispose([sparse, dense]);
    }
    // the padding point: 3 points + 1 without a box, 3 + 2 corners with one
    expect(cases['pe.points.sparse'].shape).toEqual([2, 4, 16]);
    expect(await closeness(model.denseImagePe(state.prompt_encoder), cases['pe.dense_pe'])).toBeLessThanOrEqual(1);
    // labels as plain arrays give the same tokens
    const labels = hostValues(cases['pe.labels']);
    const { sparse } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, {
      points: { coords: all.points.coords, labels: [labels.slice(0, 3), labels.slice(3)] },
    });
    expect(await closeness(sparse, cases['pe.points.sparse'])).toBeLessThanOrEqual(1);
  });

  it('mask decoder: multimask and single-mask outputs from our own prompt embeddings (the whole prompt → mask path)', async () => {
    const all = prompts();
    const { sparse } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, { points: all.points, boxes: all.boxes });
    const { dense } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, { points: all.points, masks: all.masks });
    const imagePe = model.denseImagePe(state.prompt_encoder);
    const imageEmbeddings = input('dec.image_embeddings');
    for (const [tag, multimaskOutput] of [
      ['multi', true],
      ['single', false],
    ] as const) {
      const before = memory().liveTensors;
      const out = model.maskDecoder(params.mask_decoder, { imageEmbeddings, imagePe, sparse, dense, multimaskOutput });
      expect(memory().liveTensors - before, 'only the two outputs stay alive').toBe(2);
      expect(out.masks.shape).toEqual(multimaskOutput ? [2, 3, 32, 32] : [2, 1, 32, 32]);
      expect(await closeness(out.masks, cases[`dec.${tag}.masks`], 2e-4, 2e-4), `${tag} masks`).toBeLessThanOrEqual(1);
      expect(await closeness(out.iouPred, cases[`dec.${tag}.iou`], 2e-4, 2e-4), `${tag} iou`).toBeLessThanOrEqual(1);
      // one embedding per prompt gives the same as one shared embedding
      const rep = tidy(() => add(zeros([2, 16, 8, 8]), imageEmbeddings));
      const again = model.maskDecoder(params.mask_decoder, { imageEmbeddings: rep, imagePe, sparse, dense, multimaskOutput });
      expect(await closeness(again.masks, cases[`dec.${tag}.masks`], 2e-4, 2e-4)).toBeLessThanOrEqual(1);
      tree.dispose([out, again, rep]);
    }
  });

  it('preprocess (normalise, pad) and postprocessMasks (upscale, crop, resize)', async () => {
    expect(await closeness(model.preprocess(input('sam.preprocess.input')), cases['sam.preprocess.output'], 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    const post = model.postprocessMasks(input('sam.postprocess.input'), [50, 64], [100, 128]);
    expect(await closeness(post, cases['sam.postprocess.output'], 1e-5, 1e-5)).toBeLessThanOrEqual(1);
  });

  it('the whole model: image → preprocess → image encoder → prompts → mask decoder → postprocess, as the official predictor (float32)', async () => {
    // what SamPredictor does around the model: the image resized by ResizeLongestSide (given), prompts scaled to that frame
    const img = cases['pred.input_image']; // [43, 64, 3] uint8
    const [h, w] = img.shape;
    const chw = tidy(() => permute(reshape(toTensor(img, undefined, 'float32'), [1, h, w, 3]), [0, 3, 1, 2]));
    const features = model.imageEncoder(params.image_encoder, model.preprocess(chw));
    expect(await closeness(features, cases['pred.features'], 1e-4, 1e-3), 'features').toBeLessThanOrEqual(1);
    const [H, W] = cases['pred.image'].shape;
    const sx = w / W,
      sy = h / H; // apply_coords: x·new_w/old_w, y·new_h/old_h
    const pts = hostValues(cases['pred.points']);
    const box = hostValues(cases['pred.box']);
    const coords = tensor([pts.map((v, i) => v * (i % 2 ? sy : sx))], { shape: [1, 2, 2] });
    const boxes = tensor(
      box.map((v, i) => v * (i % 2 ? sy : sx)),
      { shape: [1, 4] },
    );
    const { sparse, dense } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, {
      points: { coords, labels: [hostValues(cases['pred.labels'])] },
      boxes,
    });
    const out = model.maskDecoder(params.mask_decoder, {
      imageEmbeddings: features,
      imagePe: model.denseImagePe(state.prompt_encoder),
      sparse,
      dense,
      multimaskOutput: true,
    });
    expect(
      await closeness(out.masks, { ...cases['pred.multi.low_res'], shape: [1, 3, 32, 32] } as HostTensor, 1e-3, 1e-3),
      'low-res logits',
    ).toBeLessThanOrEqual(1);
    expect(await closeness(out.iouPred, { ...cases['pred.multi.iou'], shape: [1, 3] } as HostTensor, 1e-3, 1e-3), 'iou').toBeLessThanOrEqual(1);
    const logits = model.postprocessMasks(out.masks, [h, w], [H, W]);
    expect(await closeness(logits, { ...cases['pred.multi.logits'], shape: [1, 3, H, W] } as HostTensor, 1e-3, 1e-3), 'logits').toBeLessThanOrEqual(1);
    tree.dispose([chw, features, coords, boxes, sparse, dense, out, logits]);
  });

  it('mask decoder gradients: every parameter gets a finite, non-zero gradient; central differences agree', async () => {
    const all = prompts();
    const { sparse } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, { points: all.points, boxes: all.boxes });
    const { dense } = model.promptEncoder(params.prompt_encoder, state.prompt_encoder, { points: all.points, masks: all.masks });
    const imagePe = model.denseImagePe(state.prompt_encoder);
    const imageEmbeddings = input('dec.image_embeddings');
    const wMask = randn(random.key(5), [2, 3, 32, 32]);
    const wIou = randn(random.key(6), [2, 3]);
    const wSingle = randn(random.key(7), [2, 1, 32, 32]);
    // both outputs, so that mask token 0 (single-mask) and tokens 1..3 (multimask) all reach the loss
    const loss = (p: Params) => {
      const o = model.maskDecoder(p, { imageEmbeddings, imagePe, sparse, dense, multimaskOutput: true });
      const s = model.maskDecoder(p, { imageEmbeddings, imagePe, sparse, dense, multimaskOutput: false });
      return add(add(mul(sum(mul(o.masks, wMask)), 0.01), sum(mul(o.iouPred, wIou))), add(mul(sum(mul(s.masks, wSingle)), 0.01), sum(s.iouPred)));
    };
    const [value, grads] = valueAndGrad(loss)(params.mask_decoder);
    const g = tree.flatten(grads) as { path: string; value: Tensor }[];
    expect(g.length).toBe(tree.flatten(params.mask_decoder).length);
    for (const { path, value: t } of g) {
      const d = await t.data();
      expect(d.every(Number.isFinite), path).toBe(true);
      expect(
        d.some((v) => v !== 0),
        `${path} has a zero gradient`,
      ).toBe(true);
    }
    // directional derivatives of three parameters (token, upscaling conv bias, a transformer projection)
    const flatP = tree.flatten(params.mask_decoder) as { path: string; value: Tensor }[];
    for (const [i, path] of ['mask_tokens.weight', 'output_upscaling.0.bias', 'transformer.layers.1.cross_attn_image_to_token.v_proj.weight'].entries()) {
      const leaf = flatP.find((l) => l.path === path)!;
      const dir = randn(random.key(10 + i), leaf.value.shape);
      const eps = 1e-4; // small: the ReLU kinks make larger steps biased (1e-2 is off by 15%, 1e-3 by 3%, 1e-4 by 0.2%)
      const at = (s: number) =>
        tidy(() => {
          const moved = tree.unflatten(
            params.mask_decoder,
            flatP.map((l) => (l.path === path ? add(l.value, mul(dir, s)) : l.value)),
          ) as Params;
          return loss(moved);
        });
      const [lp, lm] = [at(eps), at(-eps)];
      const fd = ((await lp.item()) - (await lm.item())) / (2 * eps);
      const gl = g.find((l) => l.path === path)!.value;
      const an = await sum(mul(gl, dir)).item();
      expect(Math.abs(fd - an), `${path}: fd ${fd} vs analytic ${an} (loss ${await value.item()})`).toBeLessThanOrEqual(0.01 * Math.max(1, Math.abs(an)));
    }
  });
});

describe('SAM prompt encoder and mask decoder: shapes and errors (random weights)', () => {
  const cfg = samConfig('vit_b', {
    promptEmbedDim: 16,
    encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 1, numHeads: 2, windowSize: 3, globalAttnIndexes: [0] },
    decoder: { depth: 1, mlpDim: 32, numHeads: 2, iouHeadHiddenDim: 16 },
  });
  const model = sam(cfg);
  // the prompt encoder and mask decoder alone (the image encoder is not needed here)
  let params: Pick<SamParams, 'prompt_encoder' | 'mask_decoder'>;
  let pe: Params, st: SamState['prompt_encoder'], coords: Tensor;
  beforeAll(() => {
    params = { prompt_encoder: initLeaves(random.key(1), promptEncoderLeaves(cfg)), mask_decoder: initLeaves(random.key(2), maskDecoderLeaves(cfg)) };
    pe = params.prompt_encoder;
    st = initLeaves(random.key(3), promptEncoderStateLeaves(cfg)) as unknown as SamState['prompt_encoder'];
    coords = tensor([
      [
        [1, 2],
        [3, 4],
      ],
    ]);
  });

  it('no prompt at all: an empty sparse set, no_mask_embed everywhere, batch from the argument', async () => {
    const { sparse, dense } = model.promptEncoder(pe, st, {}, 3);
    expect(sparse.shape).toEqual([3, 0, 16]);
    expect(dense.shape).toEqual([3, 16, 8, 8]);
    const noMask = await ((pe.no_mask_embed as Params).weight as Tensor).data();
    const d = await dense.data();
    expect(d[5 * 64 + 7]).toBe(noMask[5]);
    const out = model.maskDecoder(params.mask_decoder, {
      imageEmbeddings: zeros([1, 16, 8, 8]),
      imagePe: model.denseImagePe(st),
      sparse,
      dense,
      multimaskOutput: false,
    });
    expect(out.masks.shape).toEqual([3, 1, 32, 32]);
    expect(out.iouPred.shape).toEqual([3, 1]);
  });

  it('zero points: only the padding point, or only the box corners', async () => {
    const none = { coords: zeros([2, 0, 2]), labels: zeros([2, 0]) };
    const boxes = tensor([
      [1, 2, 30, 40],
      [5, 6, 7, 8],
    ]);
    expect(model.promptEncoder(pe, st, { points: none }).sparse.shape).toEqual([2, 1, 16]);
    const both = model.promptEncoder(pe, st, { points: none, boxes }).sparse;
    const alone = model.promptEncoder(pe, st, { boxes }).sparse;
    expect(both.shape).toEqual([2, 2, 16]);
    expect(Array.from(await both.data())).toEqual(Array.from(await alone.data()));
  });

  it('a training step (prompt encoder and mask decoder under valueAndGrad) leaves only its gradients alive', async () => {
    const img = zeros([1, 16, 8, 8]);
    const before = memory().liveTensors;
    const grads = tidy(() => {
      const loss = (p: typeof params) => {
        const { sparse, dense } = model.promptEncoder(p.prompt_encoder, st, { points: { coords, labels: [[1, 0]] }, masks: zeros([1, 1, 32, 32]) });
        const o = model.maskDecoder(p.mask_decoder, { imageEmbeddings: img, imagePe: model.denseImagePe(st), sparse, dense, multimaskOutput: true });
        return add(sum(o.masks), sum(o.iouPred));
      };
      return valueAndGrad(loss)(params)[1];
    });
    const n = tree.flatten(params).length;
    expect(tree.flatten(grads).length).toBe(n);
    expect(memory().liveTensors - before).toBe(n);
    tree.dispose(grads);
    img.dispose();
  });

  it('bad prompts and decoder inputs: one-line ArgumentErrors', () => {
    const bad: [() => unknown, RegExp][] = [
      [
        () => model.promptEncoder(pe, st, { points: { coords: zeros([1, 2]), labels: [[1, 0]] } }),
        /^sam\.promptEncoder: argument 'points\.coords' has shape \[1, 2\]; expected a \[B, N, 2\] tensor/,
      ],
      [
        () => model.promptEncoder(pe, st, { points: { coords, labels: zeros([1, 3]) } }),
        /^sam\.promptEncoder: argument 'points\.labels' has shape \[1, 3\]; expected \[1, 2\]/,
      ],
      [
        () => model.promptEncoder(pe, st, { points: { coords, labels: [[1, 2]] } }),
        /^sam\.promptEncoder: argument 'points\.labels' contains 2; expected 1 \(foreground\), 0 \(background\) or -1 \(padding\)$/,
      ],
      [
        () => model.promptEncoder(pe, st, { boxes: zeros([2, 3]) }),
        /^sam\.promptEncoder: argument 'boxes' has shape \[2, 3\] \(float32\); expected a float32 \[B, 4\]/,
      ],
      [
        () => model.promptEncoder(pe, st, { masks: zeros([1, 1, 64, 64]) }),
        /^sam\.promptEncoder: argument 'masks' has shape \[1, 1, 64, 64\] \(float32\); expected a float32 \[B, 1, 32, 32\]/,
      ],
      [
        () => model.promptEncoder(pe, st, { points: { coords, labels: [[1, 1]] }, boxes: zeros([2, 4]) }),
        /^sam\.promptEncoder: argument 'boxes' has batch size 2; expected 1/,
      ],
      [() => model.promptEncoder(pe, st, { point: {} } as never), /^sam\.promptEncoder: argument 'prompts' has unknown key 'point'/],
      [() => model.denseImagePe({} as never), /^sam\.denseImagePe: argument 'state\.pe_layer\.positional_encoding_gaussian_matrix' is missing/],
      [
        () =>
          model.maskDecoder(params.mask_decoder, {
            imageEmbeddings: zeros([2, 16, 8, 8]),
            imagePe: zeros([1, 16, 8, 8]),
            sparse: zeros([3, 1, 16]),
            dense: zeros([3, 16, 8, 8]),
            multimaskOutput: true,
          }),
        /^sam\.maskDecoder: argument 'imageEmbeddings' has shape \[2, 16, 8, 8\]; expected \[1 or 3, 16, 8, 8\]$/,
      ],
      [
        () =>
          model.maskDecoder(params.mask_decoder, {
            imageEmbeddings: zeros([1, 16, 8, 8]),
            imagePe: zeros([1, 16, 8, 8]),
            sparse: zeros([1, 1, 8]),
            dense: zeros([1, 16, 8, 8]),
            multimaskOutput: true,
          }),
        /^sam\.maskDecoder: argument 'sparse' has shape \[1, 1, 8\]; expected \[B, N, 16\]$/,
      ],
      [
        () => model.preprocess(zeros([1, 3, 65, 10])),
        /^sam\.preprocess: argument 'x' has shape \[1, 3, 65, 10\] \(float32\); expected a float32 \[B, 3, h, w\] image with h, w ≤ 64$/,
      ],
      [
        () => model.postprocessMasks(zeros([1, 1, 32, 32]), [70, 64], [10, 10]),
        /^sam\.postprocessMasks: argument 'inputSize' is \[70,64\]; expected \[h, w\] of integers in 1\.\.64$/,
      ],
      [
        () => model.postprocessMasks(zeros([1, 1, 16, 16]), [64, 64], [10, 10]),
        /^sam\.postprocessMasks: argument 'masks' has shape \[1, 1, 16, 16\]; expected \[B, M, 32, 32\]/,
      ],
    ];
    for (const [f, re] of bad) {
      let msg = '';
      try {
        f();
      } catch (e) {
        msg = (e as Error).message;
        expect((e as Error).name).toBe('ArgumentError');
      }
      expect(msg).toMatch(re);
      expect(msg).not.toContain('\n');
    }
  });

  it('frees its intermediates in inference', () => {
    const before = memory().liveTensors;
    const labels = full([1, 2], 1);
    const r = model.promptEncoder(pe, st, { points: { coords, labels }, boxes: tensor([[0, 0, 10, 10]]), masks: zeros([1, 1, 32, 32]) });
    expect(r.sparse.shape).toEqual([1, 4, 16]);
    expect(memory().liveTensors - before).toBe(2 + 3); // sparse, dense and the three inputs made here
  });
});
