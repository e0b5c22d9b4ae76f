/** The official tiny-model fixture (test/fixtures/sam-official/tiny.pth), read once per test file. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readPth } from '../../src/formats/pth';
import { type HostTensor, toTensor } from '../../src/formats/host-tensor';
import type { Params } from '../../src/nn/module';

const path = fileURLToPath(new URL('../fixtures/sam-official/tiny.pth', import.meta.url));
let cached: Promise<{ state_dict: Record<string, HostTensor>; cases: Record<string, HostTensor> }> | undefined;

/** The state_dict and the cases (name → HostTensor) of tiny.pth. */
export function tinyFixture(): Promise<{ state_dict: Record<string, HostTensor>; cases: Record<string, HostTensor> }> {
  cached ??= readPth(new Uint8Array(readFileSync(path))) as Promise<{ state_dict: Record<string, HostTensor>; cases: Record<string, HostTensor> }>;
  return cached;
}

/** A case's values as plain numbers (int64 BigInts converted). */
export const values = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);

/** The float32 weights under `prefix` as a nested parameter tree (paths without the prefix), uploaded. */
export function subtree(sd: Record<string, HostTensor>, prefix: string): Params {
  const root: Params = {};
  for (const [k, v] of Object.entries(sd)) {
    if (!k.startsWith(prefix)) continue;
    const parts = k.slice(prefix.length).split('.');
    let node = root;
    for (const p of parts.slice(0, -1)) node = (node[p] ??= {}) as Params;
    node[parts[parts.length - 1]] = toTensor(v, undefined, 'float32');
  }
  return root;
}
