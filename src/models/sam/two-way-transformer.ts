/**
 * SAM's two-way transformer (segment_anything/modeling/transformer.py): the prompt tokens attend to themselves and
 * to the image, the image attends back to the tokens, `depth` times; a last token-to-image attention and a LayerNorm
 * finish the tokens. The cross attentions project to half the width (attention_downsample_rate 2); the first
 * block's self-attention runs without the positional encoding and replaces the tokens instead of adding to them.
 * The MLP uses ReLU; the LayerNorms PyTorch's default eps 1e-5.
 */
import type { Params } from '../../nn/module';
import { scaledDotProductAttention } from '../../tensor/ops/attention';
import { add, relu } from '../../tensor/ops/elementwise';
import { flatten, permute, transpose } from '../../tensor/ops/layout';
import { linear } from '../../tensor/ops/matmul';
import { layerNorm } from '../../tensor/ops/norm';
import { reshape } from '../../tensor/ops/shape-ops';
import type { Tensor } from '../../tensor/tensor';
import type { SamConfig } from './config';
import { linearLeaves, normLeaves, type Leaf } from './param-spec';
import { at, scoped } from './prompt-encoder';

const DOWNSAMPLE = 2;

/** Attention(embeddingDim, heads, downsampleRate): q/k/v projections to dim/rate, out projection back. */
function attentionLeaves(path: string, dim: number, rate: number): Leaf[] {
  const inner = dim / rate;
  return [
    ...linearLeaves(`${path}.q_proj`, dim, inner),
    ...linearLeaves(`${path}.k_proj`, dim, inner),
    ...linearLeaves(`${path}.v_proj`, dim, inner),
    ...linearLeaves(`${path}.out_proj`, inner, dim),
  ];
}

/** The transformer's parameters in state_dict order, under `prefix` (e.g. 'transformer.'). */
export function twoWayTransformerLeaves(cfg: SamConfig, prefix = ''): Leaf[] {
  const C = cfg.promptEmbedDim,
    d = cfg.decoder;
  const out: Leaf[] = [];
  for (let i = 0; i < d.depth; i++) {
    const b = `${prefix}layers.${i}`;
    out.push(
      ...attentionLeaves(`${b}.self_attn`, C, 1),
      ...normLeaves(`${b}.norm1`, C),
      ...attentionLeaves(`${b}.cross_attn_token_to_image`, C, DOWNSAMPLE),
      ...normLeaves(`${b}.norm2`, C),
      ...linearLeaves(`${b}.mlp.lin1`, C, d.mlpDim),
      ...linearLeaves(`${b}.mlp.lin2`, d.mlpDim, C),
      ...normLeaves(`${b}.norm3`, C),
      ...normLeaves(`${b}.norm4`, C),
      ...attentionLeaves(`${b}.cross_attn_image_to_token`, C, DOWNSAMPLE),
    );
  }
  out.push(...attentionLeaves(`${prefix}final_attn_token_to_image`, C, DOWNSAMPLE), ...normLeaves(`${prefix}norm_final_attn`, C));
  return out;
}

const fn = 'sam.maskDecoder';
const lin = (p: Params, path: string, x: Tensor) => linear(x, at(p, `${path}.weight`, fn), at(p, `${path}.bias`, fn));
const norm = (p: Params, path: string, x: Tensor) => layerNorm(x, [x.shape[x.shape.length - 1]], at(p, `${path}.weight`, fn), at(p, `${path}.bias`, fn), 1e-5);

/** The decoder's Attention: project, split into heads, scaled dot-product attention, recombine, project back. */
export function decoderAttention(p: Params, path: string, q: Tensor, k: Tensor, v: Tensor, numHeads: number): Tensor {
  return scoped(() => {
    const heads = (x: Tensor) => transpose(reshape(x, [x.shape[0], x.shape[1], numHeads, x.shape[2] / numHeads]), 1, 2); // [B, h, N, d]
    const qh = heads(lin(p, `${path}.q_proj`, q));
    const kh = heads(lin(p, `${path}.k_proj`, k));
    const vh = heads(lin(p, `${path}.v_proj`, v));
    const o = transpose(scaledDotProductAttention(qh, kh, vh), 1, 2); // [B, Nq, h, d]
    return lin(p, `${path}.out_proj`, reshape(o, [o.shape[0], o.shape[1], -1]));
  });
}

function block(p: Params, b: string, queries: Tensor, keys: Tensor, queryPe: Tensor, keyPe: Tensor, numHeads: number, skipFirstLayerPe: boolean) {
  let q: Tensor;
  if (skipFirstLayerPe) q = decoderAttention(p, `${b}.self_attn`, queries, queries, queries, numHeads);
  else {
    const qp = add(queries, queryPe);
    q = add(queries, decoderAttention(p, `${b}.self_attn`, qp, qp, queries, numHeads));
  }
  q = norm(p, `${b}.norm1`, q);
  const kp = add(keys, keyPe);
  q = norm(p, `${b}.norm2`, add(q, decoderAttention(p, `${b}.cross_attn_token_to_image`, add(q, queryPe), kp, keys, numHeads)));
  const mlp = lin(p, `${b}.mlp.lin2`, relu(lin(p, `${b}.mlp.lin1`, q)));
  q = norm(p, `${b}.norm3`, add(q, mlp));
  const k = norm(p, `${b}.norm4`, add(keys, decoderAttention(p, `${b}.cross_attn_image_to_token`, kp, add(q, queryPe), q, numHeads)));
  return { queries: q, keys: k };
}

/**
 * TwoWayTransformer.forward: image [B, C, H, W], its positional encoding (same shape) and the tokens [B, N, C] →
 * the processed tokens [B, N, C] and image [B, H·W, C].
 */
export function applyTwoWayTransformer(cfg: SamConfig, p: Params, image: Tensor, imagePe: Tensor, tokens: Tensor): { queries: Tensor; keys: Tensor } {
  const h = cfg.decoder.numHeads;
  return scoped(() => {
    const keys0 = permute(flatten(image, 2), [0, 2, 1]);
    const keyPe = permute(flatten(imagePe, 2), [0, 2, 1]);
    let queries = tokens,
      keys = keys0;
    for (let i = 0; i < cfg.decoder.depth; i++) ({ queries, keys } = block(p, `layers.${i}`, queries, keys, tokens, keyPe, h, i === 0));
    const attn = decoderAttention(p, 'final_attn_token_to_image', add(queries, tokens), add(keys, keyPe), keys, h);
    queries = norm(p, 'norm_final_attn', add(queries, attn));
    return { queries, keys };
  });
}
