import { describe, expect, it } from 'vitest';
import { loadStateDict } from '../../src/formats/load-state';
import { HostTensor } from '../../src/formats/host-tensor';
import { readPth } from '../../src/formats/pth';
import { tensor, zeros } from '../../src/tensor/ops/creation';
import { Tensor } from '../../src/tensor/tensor';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './helpers';

const h = (shape: number[], xs: number[]) => new HostTensor('float32', shape, Float32Array.from(xs));

describe('loadStateDict', () => {
  it('loads a real nested .pt state_dict into a param tree by dotted path', async () => {
    const sd = await readPth(new Uint8Array(readFileSync(join(FIXTURES, 'nested_dict.pt'))));
    const params = { layer1: { weight: zeros([2, 3]), bias: zeros([2]) }, layer2: { weight: zeros([4, 2]), bias: zeros([4]) } };
    const r = loadStateDict(params, sd);
    expect([r.missing, r.unexpected, r.shapeMismatch]).toEqual([[], [], []]);
    const src = (sd as any).layer2.weight as HostTensor;
    expect(await r.params.layer2.weight.data()).toEqual(src.data);
    expect(r.params.layer2.weight).not.toBe(params.layer2.weight);
  });

  it('casts to the parameter dtype, keeps non-tensor leaves, applies map', async () => {
    const params = { enc: { w: zeros([2]), steps: zeros([1], { dtype: 'int32' }) }, lr: 0.1, blocks: [zeros([1])] };
    const sd = {
      'encoder.w': h([2], [1, 2]),
      'encoder.steps': new HostTensor('int64', [1], BigInt64Array.of(7n)),
      'blocks.0': tensor([5]),
      num_batches_tracked: new HostTensor('int64', [], BigInt64Array.of(1n)),
    };
    const r = loadStateDict(params, sd, { map: (k) => (k.endsWith('num_batches_tracked') ? null : k.replace(/^encoder\./, 'enc.')) });
    expect([r.missing, r.unexpected]).toEqual([[], []]);
    expect(r.params.lr).toBe(0.1);
    expect(await r.params.enc.w.toArray()).toEqual([1, 2]);
    expect(r.params.enc.steps.dtype).toBe('int32');
    expect(await r.params.enc.steps.toArray()).toEqual([7]);
    expect(r.params.blocks[0]).toBe(sd['blocks.0']);
  });

  it('reports missing, unexpected and mis-shaped keys; strict mode throws a readable report', () => {
    const params = { a: zeros([2]), b: zeros([3]), c: zeros([1]) };
    const sd = { a: h([2], [1, 2]), b: h([2], [1, 2]), d: h([1], [0]) };
    const r = loadStateDict(params, sd, { strict: false });
    expect(r.missing).toEqual(['c']);
    expect(r.unexpected).toEqual(['d']);
    expect(r.shapeMismatch).toEqual([{ key: 'b', expected: [3], got: [2] }]);
    expect(r.params.b).toBe(params.b);
    expect(r.params.c).toBe(params.c);
    expect(r.params.a).toBeInstanceOf(Tensor);
    expect(() => loadStateDict(params, sd)).toThrow(
      /missing keys \(1\): c\n {2}unexpected keys \(1\): d\n {2}shape mismatch for b: parameter has \[3\], state_dict has \[2\]/,
    );
  });
});
