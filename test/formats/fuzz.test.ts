import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readPth } from '../../src/formats/pth';
import { parseSafetensors, serializeSafetensors } from '../../src/formats/safetensors';
import { HostTensor } from '../../src/formats/host-tensor';
import { FIXTURES, f32bytes, makePtZip, op, pickle, tensorOps } from './helpers';

/** Applies byte edits: overwrite, flip, delete, insert, truncate. Offsets wrap around the input size. */
const mutation = fc.record({
  kind: fc.constantFrom('set', 'flip', 'delete', 'insert', 'truncate'),
  // half of the edits land in the first 512 bytes, where the headers and pickles are
  pos: fc.oneof(fc.nat(511), fc.nat()),
  byte: fc.nat(255),
});
function mutate(src: Uint8Array, edits: { kind: string; pos: number; byte: number }[]): Uint8Array {
  let b = src.slice();
  for (const e of edits) {
    const p = b.length ? e.pos % b.length : 0;
    if (e.kind === 'set') b[p] = e.byte;
    else if (e.kind === 'flip') b[p] ^= 1 << (e.byte & 7);
    else if (e.kind === 'delete') b = Uint8Array.from([...b.subarray(0, p), ...b.subarray(p + 1)]);
    else if (e.kind === 'insert') b = Uint8Array.from([...b.subarray(0, p), e.byte, ...b.subarray(p)]);
    else b = b.slice(0, p);
  }
  return b;
}

/** Outcome of parsing: fine, or an Error instance. Anything else (non-Error throw) fails the test. */
async function outcome(f: () => unknown): Promise<'ok' | 'error'> {
  try {
    await f();
    return 'ok';
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`non-Error thrown: ${String(e)}`);
    expect(e.message.length).toBeGreaterThan(0);
    return 'error';
  }
}

describe('fuzz: mutated checkpoints give an Error or parse, never crash or hang', () => {
  it('.pt / .tar fixtures and hand-made zips (200 mutations)', async () => {
    const files: Uint8Array[] = [
      'float32.pt',
      'checkpoint.pt',
      'legacy_with_offsets.pt',
      'simple_legacy.pt',
      'tar_weight_bias.tar',
      'bool.pt',
      'parameter.pt',
    ].map((f) => new Uint8Array(readFileSync(join(FIXTURES, f))));
    const strided = pickle(op.proto(2), op.emptyDict, op.str('a'), tensorOps('FloatStorage', '0', 12, 0, [4, 3], [1, 4]), op.setitem, op.stop);
    files.push(makePtZip(strided, { 0: f32bytes(Array.from({ length: 12 }, (_, i) => i)) }, { deflate: true }));
    const counts = { ok: 0, error: 0 };
    await fc.assert(
      fc.asyncProperty(fc.nat(files.length - 1), fc.array(mutation, { minLength: 1, maxLength: 4 }), async (i, edits) => {
        counts[await outcome(() => readPth(mutate(files[i], edits)))]++;
      }),
      { numRuns: 200, seed: 20261122 },
    );
    expect(counts.error).toBeGreaterThan(20); // the mutations do reach the parsers' checks
  });

  it('safetensors files (200 mutations)', async () => {
    const bytes = await serializeSafetensors(
      {
        a: new HostTensor('float32', [2, 3], Float32Array.of(1, 2, 3, 4, 5, 6)),
        b: new HostTensor('int64', [2], BigInt64Array.of(1n, -1n)),
        c: new HostTensor('bool', [3], Uint8Array.of(1, 0, 1)),
        d: new HostTensor('bfloat16', [1], Uint16Array.of(0x3fc0)),
      },
      { note: 'fuzz' },
    );
    const counts = { ok: 0, error: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 4 }), async (edits) => {
        counts[await outcome(() => parseSafetensors(mutate(bytes, edits)))]++;
      }),
      { numRuns: 200, seed: 11 },
    );
    expect(counts.error).toBeGreaterThan(20);
  });
});
