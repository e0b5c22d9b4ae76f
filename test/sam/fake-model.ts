/**
 * A stand-in SamModel with predictable masks, for the predictor's and the generator's plumbing: the "decoder" draws
 * discs around the first prompt point (radii 6, 12 and 24 pixels of the input frame, logit = 10·(radius − distance),
 * so the stability score is known) and predicts fixed IoUs; a box prompt gives a filled box. Shapes follow the model API.
 */
import { add, arange, avgPool2d, concat, div, interpolate, mul, pad, reshape, sliceAxes, sqrt, square, sub, tensor, tidy, zeros } from '../../src/node';
import type { SamModel, SamParams, SamState } from '../../src/models/sam/sam';
import { samConfig } from '../../src/models/sam/config';
import type { Tensor } from '../../src/node';

export const FAKE_RADII = [6, 12, 24];
export const FAKE_IOUS = [0.5, 0.9, 0.95];
/** Logits per pixel of distance: steep enough that the larger discs are stable at offset 1 (radius 6: 0.93, 12: 0.97, 24: 0.98). */
export const FAKE_SLOPE = 10;

export function fakeSam(): { model: SamModel; params: SamParams; state: SamState } {
  const config = samConfig('vit_b', {
    encoder: { imgSize: 64, patchSize: 8, embedDim: 16, depth: 1, numHeads: 2, windowSize: 3, globalAttnIndexes: [0] },
    promptEmbedDim: 16,
  });
  const S = 64;
  const L = 32;
  const C = 16;
  const model: SamModel = {
    config,
    init: () => ({
      params: { image_encoder: { w: zeros([1]) }, prompt_encoder: { w: zeros([1]) }, mask_decoder: { w: zeros([1]) } },
      state: { prompt_encoder: { pe_layer: { positional_encoding_gaussian_matrix: zeros([2, C / 2]) } } },
    }),
    imageEncoder: (_p, x) => tidy(() => pad(avgPool2d(x, { kernelSize: 8 }), [0, 0, 0, 0, 0, C - 3])),
    promptEncoder: (_p, _s, prompts) =>
      tidy(() => {
        // sparse carries the geometry: [B, 1, 4] = first point (x, y, x, y) or the box
        const g = prompts.boxes
          ? reshape(prompts.boxes, [prompts.boxes.shape[0], 1, 4])
          : (() => {
              const c = sliceAxes(prompts.points!.coords, [null, [0, 1]]);
              return concat([c, c], 2);
            })();
        return { sparse: g, dense: zeros([g.shape[0], C, 8, 8]) };
      }),
    denseImagePe: () => zeros([1, C, 8, 8]),
    maskDecoder: (_p, input) =>
      tidy(() => {
        const B = input.sparse.shape[0];
        const g = reshape(input.sparse, [B, 1, 4, 1, 1]);
        const at = (i: number) => sliceAxes(g, [null, null, [i, i + 1]]);
        // pixel centres of the low-res grid in input-frame pixels
        const xs = reshape(mul(add(arange(0, L), 0.5), S / L), [1, 1, 1, 1, L]);
        const ys = reshape(mul(add(arange(0, L), 0.5), S / L), [1, 1, 1, L, 1]);
        const dx = sub(xs, div(add(at(0), at(2)), 2));
        const dy = sub(ys, div(add(at(1), at(3)), 2));
        const dist = sqrt(add(square(dx), square(dy)));
        const radii = tensor(FAKE_RADII, { shape: [1, 3, 1, 1, 1] });
        // a box widens the disc to the box's half diagonal
        const half = div(sqrt(add(square(sub(at(2), at(0))), square(sub(at(3), at(1))))), 2);
        const m = reshape(mul(sub(add(radii, half), dist), FAKE_SLOPE), [B, 3, L, L]);
        const masks = input.multimaskOutput ? m : sliceAxes(m, [null, [0, 1]]);
        const iou = tensor(input.multimaskOutput ? FAKE_IOUS : [FAKE_IOUS[0]], { shape: [1, input.multimaskOutput ? 3 : 1] });
        return { masks, iouPred: add(zeros([B, iou.shape[1]]), iou) };
      }),
    preprocess: (x) => tidy(() => pad(x, [0, S - x.shape[3], 0, S - x.shape[2]])),
    postprocessMasks: (masks, inputSize, originalSize) =>
      tidy(() => {
        const full = interpolate(masks, { size: [S, S], mode: 'bilinear', alignCorners: false });
        const cropped = sliceAxes(full, [null, null, [0, inputSize[0]], [0, inputSize[1]]]);
        return interpolate(cropped, { size: [...originalSize] as [number, number], mode: 'bilinear', alignCorners: false });
      }),
  };
  const { params, state } = model.init(null as never);
  return { model, params, state };
}

export type { Tensor };
