/** The official tiny-model fixture (test/fixtures/sam-official/tiny.pth), read once per test file. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readPth } from '../../src/formats/pth';
import type { HostTensor } from '../../src/formats/host-tensor';

const path = fileURLToPath(new URL('../fixtures/sam-official/tiny.pth', import.meta.url));
let cached: Promise<{ state_dict: Record<string, HostTensor>; cases: Record<string, HostTensor> }> | undefined;

/** The state_dict and the cases (name → HostTensor) of tiny.pth. */
export function tinyFixture(): Promise<{ state_dict: Record<string, HostTensor>; cases: Record<string, HostTensor> }> {
  cached ??= readPth(new Uint8Array(readFileSync(path))) as Promise<{ state_dict: Record<string, HostTensor>; cases: Record<string, HostTensor> }>;
  return cached;
}

/** A case's values as plain numbers (int64 BigInts converted). */
export const values = (t: HostTensor): number[] => Array.from(t.data as ArrayLike<number | bigint>, Number);
