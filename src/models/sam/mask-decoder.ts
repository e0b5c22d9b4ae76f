/**
 * SAM's mask decoder (segment_anything/modeling/mask_decoder.py): an IoU token and 1 + numMultimaskOutputs mask
 * tokens join the prompt tokens; the two-way transformer mixes them with the image embedding (repeated per prompt);
 * the image side is upscaled 4× by two transposed convs (LayerNorm2d and GELU between, GELU after); each mask token
 * goes through its own 3-layer MLP (a hypernetwork) whose output, dotted with every upscaled pixel, is that mask's
 * logits; the IoU token's MLP scores every mask. Multimask output keeps masks 1…M, single output mask 0.
 */
import { ArgumentError, fmtShape } from '../../base/shape';
import type { Params } from '../../nn/module';
import { convTranspose2d } from '../../tensor/ops/conv';
import { add, gelu, relu } from '../../tensor/ops/elementwise';
import { concat, expand, repeatInterleave, slice, squeeze, stack, transpose, unsqueeze } from '../../tensor/ops/layout';
import { linear, matmul } from '../../tensor/ops/matmul';
import { reshape } from '../../tensor/ops/shape-ops';
import { Tensor } from '../../tensor/tensor';
import type { SamConfig } from './config';
import { convLeaves, embeddingLeaves, linearLeaves, normLeaves, type Leaf } from './param-spec';
import { at, embeddingSide, scoped } from './prompt-encoder';
import { layerNorm2d } from '../../tensor/ops/layer-norm-2d';
import { applyTwoWayTransformer, twoWayTransformerLeaves } from './two-way-transformer';

const fn = 'sam.maskDecoder';

/** Token i of [B, N, C] as [B, C]. */
const token = (hs: Tensor, i: number) => squeeze(slice(hs, 1, i, i + 1), 1);

/** mask_decoder.MLP(in, hidden, out, layers): `layers.i` Linear layers, ReLU between (sigmoid_output false). */
function mlpLeaves(path: string, inF: number, hidden: number, outF: number, layers: number): Leaf[] {
  const dims = [inF, ...Array<number>(layers - 1).fill(hidden), outF];
  return Array.from({ length: layers }, (_, i) => linearLeaves(`${path}.layers.${i}`, dims[i], dims[i + 1])).flat();
}

function applyMlp(p: Params, path: string, x: Tensor, layers: number): Tensor {
  let h = x;
  for (let i = 0; i < layers; i++) {
    h = linear(h, at(p, `${path}.layers.${i}.weight`, fn), at(p, `${path}.layers.${i}.bias`, fn));
    if (i < layers - 1) h = relu(h);
  }
  return h;
}

/** The mask decoder's parameters in state_dict order. */
export function maskDecoderLeaves(cfg: SamConfig): Leaf[] {
  const C = cfg.promptEmbedDim,
    d = cfg.decoder,
    tokens = d.numMultimaskOutputs + 1;
  return [
    ...twoWayTransformerLeaves(cfg, 'transformer.'),
    ...embeddingLeaves('iou_token', 1, C),
    ...embeddingLeaves('mask_tokens', tokens, C),
    ...convLeaves('output_upscaling.0', [C, C / 4, 2, 2], C / 4),
    ...normLeaves('output_upscaling.1', C / 4),
    ...convLeaves('output_upscaling.3', [C / 4, C / 8, 2, 2], C / 8),
    ...Array.from({ length: tokens }, (_, i) => mlpLeaves(`output_hypernetworks_mlps.${i}`, C, C, C / 8, 3)).flat(),
    ...mlpLeaves('iou_prediction_head', C, d.iouHeadHiddenDim, tokens, d.iouHeadDepth),
  ];
}

/** What the mask decoder takes (the model API's maskDecoder input). */
export interface MaskDecoderInput {
  /** [1 or B, C, E, E]; one embedding is repeated for every prompt. */
  imageEmbeddings: Tensor;
  /** [1, C, E, E] (get_dense_pe). */
  imagePe: Tensor;
  /** [B, N, C] point and box tokens. */
  sparse: Tensor;
  /** [B, C, E, E] mask embedding or no_mask_embed. */
  dense: Tensor;
  /** Masks 1…M (true) or mask 0 alone (false). */
  multimaskOutput: boolean;
}

function checkInput(cfg: SamConfig, input: MaskDecoderInput): number {
  const C = cfg.promptEmbedDim,
    E = embeddingSide(cfg);
  if (typeof input !== 'object' || input === null)
    throw new ArgumentError(fn, 'input', `is ${input === null ? 'null' : typeof input}`, '{ imageEmbeddings, imagePe, sparse, dense, multimaskOutput }');
  const { imageEmbeddings: img, imagePe, sparse, dense, multimaskOutput } = input;
  const desc = (t: unknown) => (t instanceof Tensor ? `has shape ${fmtShape(t.shape)}` : `is ${typeof t}`);
  if (!(sparse instanceof Tensor) || sparse.ndim !== 3 || sparse.shape[2] !== C) throw new ArgumentError(fn, 'sparse', desc(sparse), `[B, N, ${C}]`);
  const B = sparse.shape[0];
  const grid = (t: unknown): t is Tensor => t instanceof Tensor && t.ndim === 4 && t.shape[1] === C && t.shape[2] === E && t.shape[3] === E;
  if (!grid(img) || (img.shape[0] !== 1 && img.shape[0] !== B)) throw new ArgumentError(fn, 'imageEmbeddings', desc(img), `[1 or ${B}, ${C}, ${E}, ${E}]`);
  if (!grid(imagePe) || imagePe.shape[0] !== 1) throw new ArgumentError(fn, 'imagePe', desc(imagePe), `[1, ${C}, ${E}, ${E}]`);
  if (!grid(dense) || dense.shape[0] !== B)
    throw new ArgumentError(fn, 'dense', desc(dense), `[${B}, ${C}, ${E}, ${E}] (B from sparse ${fmtShape(sparse.shape)})`);
  if (typeof multimaskOutput !== 'boolean') throw new ArgumentError(fn, 'multimaskOutput', `is ${typeof multimaskOutput}`, 'a boolean');
  return B;
}

/** MaskDecoder.forward: low-res mask logits [B, M, 4E, 4E] and IoU predictions [B, M] (M = 1 or numMultimaskOutputs). */
export function applyMaskDecoder(cfg: SamConfig, p: Params, input: MaskDecoderInput): { masks: Tensor; iouPred: Tensor } {
  const B = checkInput(cfg, input);
  const C = cfg.promptEmbedDim,
    E = embeddingSide(cfg),
    numTokens = cfg.decoder.numMultimaskOutputs + 1;
  const w = (path: string) => at(p, path, fn);
  return scoped(() => {
    const output = concat([w('iou_token.weight'), w('mask_tokens.weight')], 0); // [1 + T, C]
    const outTokens = expand(unsqueeze(output, 0), [B, numTokens + 1, C]);
    const tokens = input.sparse.shape[1] ? concat([outTokens, input.sparse], 1) : outTokens;
    const img = input.imageEmbeddings.shape[0] === B ? input.imageEmbeddings : repeatInterleave(input.imageEmbeddings, B, 0);
    const src = add(img, input.dense);
    const posSrc = repeatInterleave(input.imagePe, B, 0);
    if (typeof p.transformer !== 'object' || p.transformer instanceof Tensor)
      throw new ArgumentError(fn, 'params', "has no 'transformer' subtree", 'the official state_dict layout');
    const { queries: hs, keys } = applyTwoWayTransformer(cfg, p.transformer, src, posSrc, tokens);
    const iouOut = token(hs, 0); // [B, C]
    // the image side back to a map, then 4× up
    const map = reshape(transpose(keys, 1, 2), [B, C, E, E]);
    const up = (x: Tensor, i: number) => convTranspose2d(x, w(`output_upscaling.${i}.weight`), { bias: w(`output_upscaling.${i}.bias`), stride: 2 });
    let u = gelu(layerNorm2d(up(map, 0), w('output_upscaling.1.weight'), w('output_upscaling.1.bias'), 1e-6));
    u = gelu(up(u, 3)); // [B, C/8, 4E, 4E]
    const hyper = stack(
      Array.from({ length: numTokens }, (_, i) => applyMlp(p, `output_hypernetworks_mlps.${i}`, token(hs, 1 + i), 3)),
      1,
    ); // [B, T, C/8]
    const side = 4 * E;
    const all = reshape(matmul(hyper, reshape(u, [B, C / 8, side * side])), [B, numTokens, side, side]);
    const iouAll = applyMlp(p, 'iou_prediction_head', iouOut, cfg.decoder.iouHeadDepth); // [B, T]
    const [from, to] = input.multimaskOutput ? [1, numTokens] : [0, 1];
    return { masks: slice(all, 1, from, to), iouPred: slice(iouAll, 1, from, to) };
  });
}
