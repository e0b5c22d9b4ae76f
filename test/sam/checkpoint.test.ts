/**
 * loadSamCheckpoint: the tiny reference model's official state_dict (test/fixtures/sam-official/tiny.pth, written by
 * torch from the official modules) saved alone as a checkpoint, streamed onto the device, gives the tree that
 * `sam(config).init()` builds (same nesting, paths, shapes) and the official image-encoder output.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type HostTensor, hostValues } from '../../src/formats/host-tensor';
import { flattenStateDict, readPth } from '../../src/formats/pth';
import { serializePth } from '../../src/formats/pth-write';
import { samConfig } from '../../src/models/sam/config';
import { sam } from '../../src/models/sam/sam';
import { loadSamCheckpoint } from '../../src/sam/node/checkpoint';
import { random, tensor, tree, type Tensor } from '../../src/node';
import { liveTensors } from '../../src/tensor/scope';

const DIR = join(import.meta.dirname, '..', 'fixtures', 'sam-official');
const tmp = mkdtempSync(join(tmpdir(), 'sam-ckpt-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const j = JSON.parse(readFileSync(join(DIR, 'tiny.json'), 'utf8')).config;
const cfg = samConfig('vit_b', { promptEmbedDim: j.promptEmbedDim, maskInChans: j.maskInChans, encoder: j.encoder, decoder: j.decoder });

async function fixture() {
  const raw = (await readPth(new Uint8Array(readFileSync(join(DIR, 'tiny.pth'))))) as { state_dict: unknown; cases: Record<string, HostTensor> };
  const sd = flattenStateDict(raw.state_dict);
  const path = join(tmp, 'sam_tiny.pth');
  writeFileSync(path, await serializePth(sd));
  return { sd, cases: raw.cases, path };
}

/** Every leaf as path → shape, with the nesting's container kinds. */
const layout = (t: unknown) => tree.flatten(t).map(({ path, value }) => [path, (value as Tensor).shape.join('×')]);

describe('loadSamCheckpoint', () => {
  it('the official tiny state_dict: the tree init() builds, and the official encoder output', async () => {
    const { sd, cases, path } = await fixture();
    const model = sam(cfg);
    const fresh = model.init(random.key(0));
    const { params, state } = await loadSamCheckpoint(path, cfg);
    expect(layout(params)).toEqual(layout(fresh.params));
    expect(layout(state)).toEqual(layout(fresh.state));
    const pe = state.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix;
    expect(Array.from(await pe.data())).toEqual(hostValues(sd['prompt_encoder.pe_layer.positional_encoding_gaussian_matrix']));
    const x = tensor(Float32Array.from(cases['enc.input'].data as Float32Array), { shape: cases['enc.input'].shape });
    const out = model.imageEncoder(params.image_encoder, x);
    const got = await out.data();
    const ref = hostValues(cases['enc.output']);
    const err = Math.max(...ref.map((r, i) => Math.abs(got[i] - r) / (1 + Math.abs(r))));
    expect(err).toBeLessThan(1e-4);
    for (const t of [...tree.tensors(fresh), ...tree.tensors({ params, state }), x, out]) t.dispose();
  });

  it('a checkpoint of another configuration: one error naming the problems, nothing left on the device', async () => {
    const { path } = await fixture();
    const before = liveTensors().length;
    const other = samConfig('vit_b', { promptEmbedDim: j.promptEmbedDim, maskInChans: j.maskInChans, encoder: { ...j.encoder, depth: 4 }, decoder: j.decoder });
    await expect(loadSamCheckpoint(path, other)).rejects.toThrow(
      /^loadSamCheckpoint: .*sam_tiny\.pth does not fit the given SAM configuration: 14 missing \(image_encoder\.blocks\.3\.norm1\.weight, /,
    );
    await expect(loadSamCheckpoint(path, 'vit_b')).rejects.toThrow(
      /does not fit SAM vit_b: .*of another shape \(image_encoder\.pos_embed: file \[1, 8, 8, 32\], model \[1, 64, 64, 768\]/,
    );
    expect(liveTensors().length).toBe(before);
  });
});
