/**
 * SAM's prompt encoder and mask decoder described once as a list of leaves (state_dict key, shape, how PyTorch
 * initialises it): the shape list (`samParamShapes`) and the allocation (`init`) both read it, so they cannot drift
 * apart, and the shapes of vit_h come out without touching the GPU.
 */
import { split, type Key } from '../../base/random';
import type { Device } from '../../kernels/webgpu/device';
import { full } from '../../tensor/ops/creation';
import { randn } from '../../tensor/ops/random';
import type { Tensor } from '../../tensor/tensor';
import { defaultBias, defaultWeight } from '../../nn/init';
import type { Params } from '../../nn/module';

/** How a leaf starts: PyTorch's Linear/Conv weight (kaiming-uniform a=√5) or bias (U(±1/√fanIn) of `fanShape`), ones, zeros, N(0, 1). */
export type LeafInit = { kind: 'weight' } | { kind: 'bias'; fanShape: readonly number[] } | { kind: 'ones' } | { kind: 'zeros' } | { kind: 'randn' };

/** One state_dict entry of a layer: dotted path, shape and initialiser. */
export interface Leaf {
  path: string;
  shape: number[];
  init: LeafInit;
}

/** nn.Linear(inF, outF): weight [out, in], bias [out]. */
export const linearLeaves = (path: string, inF: number, outF: number): Leaf[] => [
  { path: `${path}.weight`, shape: [outF, inF], init: { kind: 'weight' } },
  { path: `${path}.bias`, shape: [outF], init: { kind: 'bias', fanShape: [outF, inF] } },
];

/** A conv's weight of `shape` and a bias of `size` (ConvTranspose2d passes its [in, out, k, k] weight: fan-in out·k²). */
export const convLeaves = (path: string, shape: number[], size: number): Leaf[] => [
  { path: `${path}.weight`, shape, init: { kind: 'weight' } },
  { path: `${path}.bias`, shape: [size], init: { kind: 'bias', fanShape: shape } },
];

/** nn.LayerNorm / LayerNorm2d: weight ones, bias zeros. */
export const normLeaves = (path: string, n: number): Leaf[] => [
  { path: `${path}.weight`, shape: [n], init: { kind: 'ones' } },
  { path: `${path}.bias`, shape: [n], init: { kind: 'zeros' } },
];

/** nn.Embedding(n, dim): weight N(0, 1). */
export const embeddingLeaves = (path: string, n: number, dim: number): Leaf[] => [{ path: `${path}.weight`, shape: [n, dim], init: { kind: 'randn' } }];

function makeLeaf(key: Key, leaf: Leaf, device: Device | undefined): Tensor {
  const o = { device };
  switch (leaf.init.kind) {
    case 'weight':
      return defaultWeight(key, leaf.shape, o);
    case 'bias':
      return defaultBias(key, leaf.init.fanShape, leaf.shape[0], o);
    case 'ones':
      return full(leaf.shape, 1, o);
    case 'zeros':
      return full(leaf.shape, 0, o);
    case 'randn':
      return randn(key, leaf.shape, o);
  }
}

/** Allocates every leaf (each with its own key) into a nested tree whose flattened paths are the leaves' paths. */
export function initLeaves(key: Key, leaves: readonly Leaf[], device?: Device): Params {
  const keys = leaves.length ? split(key, leaves.length) : [];
  const root: Params = {};
  leaves.forEach((leaf, i) => {
    const parts = leaf.path.split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Params;
    node[parts[parts.length - 1]] = makeLeaf(keys[i], leaf, device);
  });
  return root;
}
