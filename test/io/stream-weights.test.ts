import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HostTensor } from '../../src/formats/host-tensor';
import { flattenStateDict, readPth } from '../../src/formats/pth';
import { serializePth } from '../../src/formats/pth-write';
import { loadPthTrees } from '../../src/io/stream-weights';
import { type Tensor, tree } from '../../src/node';
import { liveTensors } from '../../src/tensor/scope';
import { f32bytes, makePtZip, op, pickle, tensorOps } from '../formats/helpers';

const SAM_TINY = new URL('../fixtures/sam-official/tiny.pth', import.meta.url).pathname;
const PE = 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix';
const tmp = mkdtempSync(join(tmpdir(), 'stream-weights-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The tiny SAM's official state_dict (from the reference fixture), and a file holding just it. */
async function tinySam() {
  const all = flattenStateDict(((await readPth(new Uint8Array(readFileSync(SAM_TINY)))) as Record<string, unknown>).state_dict);
  const path = join(tmp, 'tiny-sam.pth');
  writeFileSync(path, await serializePth(all));
  const expected = Object.entries(all).map(([k, t]) => [k, t.shape.slice()] as [string, number[]]);
  return { all, path, expected };
}

describe('loadPthTrees: a streamed .pth as parameter trees', () => {
  it("the tiny SAM's official state_dict: nested objects, the buffer in state, values exact", async () => {
    const { all, path, expected } = await tinySam();
    const before = liveTensors().length;
    const { params, state } = await loadPthTrees(path, expected, { isState: (k) => k === PE, what: path });
    const p = params as Record<string, any>;
    expect(Object.keys(p.image_encoder.blocks)).toEqual(['0', '1', '2']);
    expect(Object.getPrototypeOf(p.mask_decoder.output_hypernetworks_mlps['0'].layers)).toBe(Object.prototype);
    const flat = [...tree.flatten(params), ...tree.flatten(state).map((l) => ({ ...l, path: l.path }))];
    expect(new Set(flat.map((l) => l.path))).toEqual(
      new Set(expected.map(([k]) => k).filter((k) => k !== PE)).add('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'),
    );
    const pe = (state as any).prompt_encoder.pe_layer.positional_encoding_gaussian_matrix as Tensor;
    expect(pe.shape).toEqual(all[PE].shape);
    expect(Array.from(await pe.data())).toEqual(Array.from(all[PE].data as Float32Array));
    const w = p.image_encoder.blocks[2].attn.rel_pos_h as Tensor;
    expect(Array.from(await w.data())).toEqual(Array.from(all['image_encoder.blocks.2.attn.rel_pos_h'].data as Float32Array));
    expect(liveTensors().length - before).toBe(expected.length);
    for (const t of [...tree.tensors(params), ...tree.tensors(state)]) t.dispose();
  });

  it('a file that does not fit: one error naming missing, unexpected and mis-shaped keys; nothing left on the device', async () => {
    const { path, expected } = await tinySam();
    const wrong = expected
      .filter(([k]) => k !== 'image_encoder.neck.0.weight')
      .map(([k, s]) => [k, k === 'mask_decoder.iou_token.weight' ? [2, 16] : s] as [string, number[]]);
    wrong.push(['image_encoder.blocks.3.norm1.weight', [32]]);
    const before = liveTensors().length;
    const err = await loadPthTrees(path, wrong, { isState: (k) => k === PE, what: 'tiny does not fit' }).then(
      () => null,
      (e) => e as Error,
    );
    expect(err?.message).toMatch(
      /^tiny does not fit: 1 missing \(image_encoder\.blocks\.3\.norm1\.weight\); 1 unexpected \(image_encoder\.neck\.0\.weight\); 1 of another shape \(mask_decoder\.iou_token\.weight: file \[1, 16\], model \[2, 16\]\)$/,
    );
    expect(liveTensors().length).toBe(before);
  });

  it('a storage that fails half-way: the tensors already uploaded are freed', async () => {
    const pkl = pickle(
      op.proto(2),
      op.emptyDict,
      op.str('a'),
      tensorOps('FloatStorage', '0', 3, 0, [3], [1]),
      op.setitem,
      op.str('b'),
      tensorOps('FloatStorage', '1', 4, 0, [4], [1]),
      op.setitem,
      op.stop,
    );
    const path = join(tmp, 'short.pth');
    writeFileSync(path, makePtZip(pkl, { 0: f32bytes([1, 2, 3]), 1: f32bytes([1, 2]) }));
    const before = liveTensors().length;
    const expected: [string, number[]][] = [
      ['a', [3]],
      ['b', [4]],
    ];
    await expect(loadPthTrees(path, expected, { isState: () => false, what: path })).rejects.toThrow(/storage '1' declares 4 float32 elements but holds 2/);
    expect(liveTensors().length).toBe(before);
  });

  it('float16 and float64 checkpoints arrive as float32, integers as int32', async () => {
    const path = join(tmp, 'mixed.pth');
    writeFileSync(
      path,
      await serializePth({
        'a.weight': new HostTensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)),
        'a.bias': new HostTensor('float64', [1], Float64Array.of(0.25)),
        'bn.num_batches_tracked': new HostTensor('int64', [], BigInt64Array.of(7n)),
      }),
    );
    const { params, state } = await loadPthTrees(
      path,
      [
        ['a.weight', [2]],
        ['a.bias', [1]],
        ['bn.num_batches_tracked', []],
      ],
      { isState: (k) => k.startsWith('bn.'), what: path },
    );
    const p = params as any;
    expect(p.a.weight.dtype).toBe('float32');
    expect(Array.from(await p.a.weight.data())).toEqual([1, -2]);
    expect(Array.from(await p.a.bias.data())).toEqual([0.25]);
    const n = (state as any).bn.num_batches_tracked as Tensor;
    expect(n.dtype).toBe('int32');
    expect(Array.from(await n.data())).toEqual([7]);
    for (const t of [...tree.tensors(params), ...tree.tensors(state)]) t.dispose();
  });
});
