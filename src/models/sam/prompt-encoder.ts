/**
 * SAM's prompt encoder (segment_anything/modeling/prompt_encoder.py): points and box corners become sparse tokens
 * (a random-Fourier positional encoding of their position plus a learned embedding of their kind), a low-resolution
 * mask becomes a dense map through a small strided-conv stack, and without a mask every position gets `no_mask_embed`.
 *
 * The random projection `pe_layer.positional_encoding_gaussian_matrix` [2, C/2] is a buffer in PyTorch, so it lives
 * in the state here, not in the trained parameters.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Params } from '../../nn/module';
import { tensor, full } from '../../tensor/ops/creation';
import { add, cast, cos, eq, gelu, mul, sin, sub } from '../../tensor/ops/elementwise';
import { concat, expand, permute, unsqueeze } from '../../tensor/ops/layout';
import { matmul } from '../../tensor/ops/matmul';
import { conv2d } from '../../tensor/ops/conv';
import { layerNorm2d } from '../../tensor/ops/layer-norm-2d';
import { reshape } from '../../tensor/ops/shape-ops';
import { tidy } from '../../tensor/scope';
import { isRecording } from '../../tensor/tape';
import { Tensor } from '../../tensor/tensor';
import type { SamConfig } from './config';
import { convLeaves, embeddingLeaves, normLeaves, type Leaf } from './param-spec';

/** The buffer's state_dict key inside `prompt_encoder`. */
export const PE_MATRIX_KEY = 'pe_layer.positional_encoding_gaussian_matrix';

/** Runs `fn` in a tidy scope in inference; inside a gradient trace every intermediate must live on for the backward pass. */
export const scoped = <T>(fn: () => T): T => (isRecording() ? fn() : tidy(fn));

/** The tensor at a dotted path of a parameter tree, or a one-line error naming the missing key. */
export function at(p: Params, path: string, fn = 'sam'): Tensor {
  let node: Params | Tensor | undefined = p;
  for (const part of path.split('.')) node = node instanceof Tensor || node === undefined ? undefined : node[part];
  if (!(node instanceof Tensor)) throw new ArgumentError(fn, 'params', `has no tensor at '${path}'`, 'the official state_dict layout');
  return node;
}

/** Side of the image embedding (E = imgSize / patchSize) and of the low-res masks (4E). */
export const embeddingSide = (cfg: SamConfig) => cfg.encoder.imgSize / cfg.encoder.patchSize;

/** The prompt encoder's parameters in state_dict order (the buffer, which comes first there, is {@link promptEncoderStateLeaves}). */
export function promptEncoderLeaves(cfg: SamConfig): Leaf[] {
  const C = cfg.promptEmbedDim,
    m = cfg.maskInChans;
  return [
    ...[0, 1, 2, 3].flatMap((i) => embeddingLeaves(`point_embeddings.${i}`, 1, C)),
    ...embeddingLeaves('not_a_point_embed', 1, C),
    ...convLeaves('mask_downscaling.0', [m / 4, 1, 2, 2], m / 4),
    ...normLeaves('mask_downscaling.1', m / 4),
    ...convLeaves('mask_downscaling.3', [m, m / 4, 2, 2], m),
    ...normLeaves('mask_downscaling.4', m),
    ...convLeaves('mask_downscaling.6', [C, m, 1, 1], C),
    ...embeddingLeaves('no_mask_embed', 1, C),
  ];
}

/** The prompt encoder's buffer: the random Fourier projection, N(0, 1)·scale with scale 1. */
export const promptEncoderStateLeaves = (cfg: SamConfig): Leaf[] => [{ path: PE_MATRIX_KEY, shape: [2, cfg.promptEmbedDim / 2], init: { kind: 'randn' } }];

/** PositionEmbeddingRandom._pe_encoding: coords in [0, 1] [..., 2] → [sin, cos] of 2π·(2c − 1)·G, [..., C]. */
export function peEncoding(coords: Tensor, gaussian: Tensor): Tensor {
  return scoped(() => {
    const lead = coords.shape.slice(0, -1);
    const flat = reshape(sub(mul(coords, 2), 1), [lead.reduce((a, b) => a * b, 1), 2]);
    const proj = mul(matmul(flat, gaussian), 2 * Math.PI);
    return reshape(concat([sin(proj), cos(proj)], -1), [...lead, gaussian.shape[1] * 2]);
  });
}

/** get_dense_pe: the encoding of every cell centre of the E×E embedding grid, [1, C, E, E]. */
export function denseImagePe(cfg: SamConfig, gaussian: Tensor): Tensor {
  const E = embeddingSide(cfg);
  const grid = new Float32Array(E * E * 2);
  for (let i = 0; i < E; i++)
    for (let j = 0; j < E; j++) {
      grid[(i * E + j) * 2] = (j + 0.5) / E; // x (column) first, as the official stack([x, y])
      grid[(i * E + j) * 2 + 1] = (i + 0.5) / E;
    }
  return scoped(() => {
    const pe = peEncoding(tensor(grid, { shape: [E, E, 2], device: gaussian.device }), gaussian);
    return unsqueeze(permute(pe, [2, 0, 1]), 0);
  });
}

/** Point labels as the caller gave them: a tensor, or nested numbers (then their values are checked here). */
export type PointLabels = Tensor | readonly (readonly number[])[];

/** What the prompt encoder takes (the model API's SamPrompts, with labels also as plain arrays). */
export interface PromptInput {
  points?: { coords: Tensor; labels: PointLabels };
  boxes?: Tensor;
  masks?: Tensor;
}

function checkPrompts(cfg: SamConfig, prompts: PromptInput, batch: number | undefined): number {
  const fn = 'sam.promptEncoder';
  const M = 4 * embeddingSide(cfg);
  if (typeof prompts !== 'object' || prompts === null)
    throw new ArgumentError(fn, 'prompts', `is ${prompts === null ? 'null' : typeof prompts}`, '{ points?, boxes?, masks? }');
  const unknown = Object.keys(prompts).filter((k) => !['points', 'boxes', 'masks'].includes(k) && (prompts as Record<string, unknown>)[k] !== undefined);
  if (unknown.length) throw new ArgumentError(fn, 'prompts', `has unknown key '${unknown[0]}'`, 'points, boxes or masks');
  const sizes: [string, number][] = [];
  const { points, boxes, masks } = prompts;
  if (points !== undefined) {
    const { coords, labels } = points ?? ({} as never);
    if (!(coords instanceof Tensor) || coords.ndim !== 3 || coords.shape[2] !== 2)
      throw new ArgumentError(
        fn,
        'points.coords',
        coords instanceof Tensor ? `has shape ${fmtShape(coords.shape)}` : `is ${typeof coords}`,
        'a [B, N, 2] tensor of (x, y)',
      );
    const [B, N] = coords.shape;
    if (labels instanceof Tensor) {
      if (labels.ndim !== 2 || labels.shape[0] !== B || labels.shape[1] !== N)
        throw new ArgumentError(
          fn,
          'points.labels',
          `has shape ${fmtShape(labels.shape)}`,
          `[${B}, ${N}] (one label per point of coords ${fmtShape(coords.shape)})`,
        );
      if (labels.dtype !== 'float32' && labels.dtype !== 'int32') throw new ArgumentError(fn, 'points.labels', `has dtype ${labels.dtype}`, 'float32 or int32');
    } else {
      const ok = Array.isArray(labels) && labels.length === B && labels.every((r) => Array.isArray(r) && r.length === N);
      if (!ok) throw new ArgumentError(fn, 'points.labels', `is ${JSON.stringify(labels)?.slice(0, 60)}`, `a [${B}, ${N}] tensor or nested array`);
      const bad = labels.flat().find((v) => v !== -1 && v !== 0 && v !== 1);
      if (bad !== undefined) throw new ArgumentError(fn, 'points.labels', `contains ${JSON.stringify(bad)}`, '1 (foreground), 0 (background) or -1 (padding)');
    }
    if (coords.dtype !== 'float32') throw new ArgumentError(fn, 'points.coords', `has dtype ${coords.dtype}`, 'float32');
    sizes.push(['points.coords', B]);
  }
  if (boxes !== undefined) {
    if (!(boxes instanceof Tensor) || boxes.ndim !== 2 || boxes.shape[1] !== 4 || boxes.dtype !== 'float32')
      throw new ArgumentError(
        fn,
        'boxes',
        boxes instanceof Tensor ? `has shape ${fmtShape(boxes.shape)} (${boxes.dtype})` : `is ${typeof boxes}`,
        'a float32 [B, 4] tensor of x1, y1, x2, y2',
      );
    sizes.push(['boxes', boxes.shape[0]]);
  }
  if (masks !== undefined) {
    if (!(masks instanceof Tensor) || masks.ndim !== 4 || masks.shape[1] !== 1 || masks.shape[2] !== M || masks.shape[3] !== M || masks.dtype !== 'float32')
      throw new ArgumentError(
        fn,
        'masks',
        masks instanceof Tensor ? `has shape ${fmtShape(masks.shape)} (${masks.dtype})` : `is ${typeof masks}`,
        `a float32 [B, 1, ${M}, ${M}] tensor of low-res logits`,
      );
    sizes.push(['masks', masks.shape[0]]);
  }
  if (batch !== undefined) {
    if (!Number.isInteger(batch) || batch < 1) throw new ArgumentError(fn, 'batch', `is ${batch}`, 'a positive integer');
    sizes.push(['batch', batch]);
  }
  const bs = sizes.length ? sizes[0][1] : 1;
  const other = sizes.find(([, n]) => n !== bs);
  if (other) throw new ArgumentError(fn, other[0], `has batch size ${other[1]}`, `${bs} (the batch size of ${sizes[0][0]})`);
  return bs;
}

/**
 * PromptEncoder.forward: sparse [B, N', C] (points with a padding point when there is no box, then two corners per
 * box) and dense [B, C, E, E] (the downscaled mask, or `no_mask_embed` everywhere).
 */
export function applyPromptEncoder(cfg: SamConfig, p: Params, gaussian: Tensor, prompts: PromptInput, batch?: number): { sparse: Tensor; dense: Tensor } {
  const bs = checkPrompts(cfg, prompts, batch);
  const C = cfg.promptEmbedDim,
    S = cfg.encoder.imgSize,
    E = embeddingSide(cfg);
  const device = gaussian.device;
  const weight = (path: string) => at(p, path, 'sam.promptEncoder');
  return scoped(() => {
    const parts: Tensor[] = [];
    const { points, boxes, masks } = prompts;
    if (points) {
      const N = points.coords.shape[1];
      const labels = points.labels instanceof Tensor ? cast(points.labels, 'float32') : tensor(points.labels.flat() as number[], { shape: [bs, N], device });
      let coords = add(points.coords, 0.5); // pixel centres
      let lab = labels;
      if (!boxes) {
        // the padding point stands in for the missing box (its coordinates are not shifted)
        coords = concat([coords, full([bs, 1, 2], 0, { device })], 1);
        lab = concat([labels, full([bs, 1], -1, { device })], 1);
      }
      const pe = peEncoding(mul(coords, 1 / S), gaussian);
      const l3 = unsqueeze(lab, 2);
      const is = (v: number) => cast(eq(l3, v), 'float32');
      const pad = is(-1);
      // padding points lose their encoding and get not_a_point_embed; negatives and positives add their embedding
      let emb = sub(pe, mul(pe, pad));
      emb = add(emb, mul(pad, weight('not_a_point_embed.weight')));
      emb = add(emb, mul(is(0), weight('point_embeddings.0.weight')));
      emb = add(emb, mul(is(1), weight('point_embeddings.1.weight')));
      parts.push(emb);
    }
    if (boxes) {
      const corners = reshape(mul(add(boxes, 0.5), 1 / S), [bs, 2, 2]);
      const pe = peEncoding(corners, gaussian);
      const cornerEmb = concat([weight('point_embeddings.2.weight'), weight('point_embeddings.3.weight')], 0); // [2, C]
      parts.push(add(pe, cornerEmb));
    }
    const sparse = parts.length === 0 ? full([bs, 0, C], 0, { device }) : parts.length === 1 ? parts[0] : concat(parts, 1);
    let dense: Tensor;
    if (masks) {
      const conv = (x: Tensor, i: number, stride: number) =>
        conv2d(x, weight(`mask_downscaling.${i}.weight`), { bias: weight(`mask_downscaling.${i}.bias`), stride });
      const ln = (x: Tensor, i: number) => layerNorm2d(x, weight(`mask_downscaling.${i}.weight`), weight(`mask_downscaling.${i}.bias`), 1e-6);
      let h = gelu(ln(conv(masks, 0, 2), 1));
      h = gelu(ln(conv(h, 3, 2), 4));
      dense = conv(h, 6, 1);
    } else {
      dense = expand(reshape(weight('no_mask_embed.weight'), [1, C, 1, 1]), [bs, C, E, E]);
    }
    return { sparse, dense };
  });
}
