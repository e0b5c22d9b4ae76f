/** `--devices`: counts, adapter lists by index or name, one-line usage errors; and the `webgrad devices` command. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { UsageError } from '../../src/cli/args';
import { parseAvailableAdapters, type AdapterEntry } from '../../src/cli/adapters';
import { MAX_DEVICES, deviceCount, openDevicesArg, parseDevicesArg, resolveDevicesArg } from '../../src/cli/devices-arg';
import { tensor, add } from '../../src/node';
import { ownLines, runCli } from './run-cli';

const refuse = (raw: string, msg: string) => expect(() => parseDevicesArg(raw)).toThrow(new UsageError(msg));
const EXPECTED = `a device count 1…${MAX_DEVICES} or a comma list of adapter indexes / names (e.g. '0,1', '2,', 'nvidia')`;

const adapter = (index: number, name: string, extra: Partial<AdapterEntry> = {}): AdapterEntry => ({
  index,
  name,
  backend: 'vulkan',
  vendor: '',
  architecture: '',
  device: '',
  description: '',
  isFallbackAdapter: false,
  isDefault: index === 0,
  limits: { maxStorageBufferBindingSize: 1, maxBufferSize: 1, maxComputeWorkgroupStorageSize: 1, maxComputeInvocationsPerWorkgroup: 1 },
  features: [],
  ...extra,
});
const MACHINE = [
  adapter(0, 'NVIDIA GeForce RTX 4090', { vendor: 'nvidia' }),
  adapter(1, 'Intel(R) UHD Graphics 770', { vendor: 'intel' }),
  adapter(2, 'llvmpipe (LLVM 15.0.6, 256 bits)'),
];
const names = (arg: string, machine = MACHINE) => resolveDevicesArg(parseDevicesArg(arg), machine).map((a) => a.index);

describe('parseDevicesArg', () => {
  it('a bare number is a device count; a comma list or a name picks adapters', () => {
    expect(parseDevicesArg('4')).toEqual({ count: 4 });
    expect(parseDevicesArg(' 1 ')).toEqual({ count: 1 });
    expect(parseDevicesArg('0,1')).toEqual({ adapters: [0, 1] });
    expect(parseDevicesArg('2,')).toEqual({ adapters: [2] });
    expect(parseDevicesArg('nvidia, 1 ,Intel')).toEqual({ adapters: ['nvidia', 1, 'Intel'] });
    expect(parseDevicesArg('llvmpipe')).toEqual({ adapters: ['llvmpipe'] });
    expect(deviceCount(parseDevicesArg('3'))).toBe(3);
    expect(deviceCount(parseDevicesArg('0,0,1'))).toBe(3);
  });
  it('refuses bad values with one line naming the option, what it got and what it expects', () => {
    refuse('', `--devices must be ${EXPECTED}; got ''`);
    refuse('0', `--devices must be ${EXPECTED}; got 0`);
    refuse('-2', `--devices must be ${EXPECTED}; got -2`);
    refuse('1.5', `--devices must be ${EXPECTED}; got 1.5`);
    refuse('65', `--devices must be ${EXPECTED}; got 65`);
    refuse('0,,1', `--devices has an empty item in '0,,1'; expected ${EXPECTED}`);
    refuse(',', `--devices has an empty item in ','; expected ${EXPECTED}`);
    refuse('0,-1', `--devices: '-1' in '0,-1' is not an adapter index (0, 1, …); expected ${EXPECTED}`);
    refuse('1.0,2', `--devices: '1.0' in '1.0,2' is not an adapter index (0, 1, …); expected ${EXPECTED}`);
    refuse(Array(65).fill('0').join(','), `--devices lists 65 devices; at most ${MAX_DEVICES}`);
    expect(() => parseDevicesArg('0', '--gpus')).toThrow(/^--gpus must be/);
  });
  it('every count 1…64 round-trips; every other integer is refused (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 1000 }), (n) => {
        if (n >= 1 && n <= MAX_DEVICES) expect(parseDevicesArg(String(n))).toEqual({ count: n });
        else expect(() => parseDevicesArg(String(n))).toThrow(UsageError);
      }),
    );
  });
  it('every list of indexes round-trips, in order, repeats kept (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(99), { minLength: 1, maxLength: MAX_DEVICES }), (xs) => {
        expect(parseDevicesArg(`${xs.join(',')},`)).toEqual({ adapters: xs });
      }),
    );
  });
});

describe('resolveDevicesArg', () => {
  it('spreads a count over the adapters in turn, several per adapter when there are fewer', () => {
    expect(names('4')).toEqual([0, 1, 2, 0]);
    expect(names('4', [MACHINE[2]])).toEqual([2, 2, 2, 2]);
    expect(names('1')).toEqual([0]);
  });
  it('picks adapters by index and by a case-insensitive piece of the name or vendor; repeats allowed', () => {
    expect(names('2,0')).toEqual([2, 0]);
    expect(names('0,0')).toEqual([0, 0]);
    expect(names('rtx,INTEL,llvm')).toEqual([0, 1, 2]);
    expect(names('nvidia')).toEqual([0]);
  });
  it('an index or name that does not exist, or a name that matches several, is one line', () => {
    const resolve =
      (arg: string, machine = MACHINE) =>
      () =>
        resolveDevicesArg(parseDevicesArg(arg), machine);
    expect(resolve('0,3')).toThrow(
      new UsageError(
        '--devices: there is no adapter 3; adapters: 0: NVIDIA GeForce RTX 4090 (vulkan); 1: Intel(R) UHD Graphics 770 (vulkan); 2: llvmpipe (LLVM 15.0.6, 256 bits) (vulkan)',
      ),
    );
    expect(resolve('1,', [MACHINE[2]])).toThrow(
      new UsageError('--devices: there is no adapter 1; this machine has 1 adapter (2: llvmpipe (LLVM 15.0.6, 256 bits) (vulkan))'),
    );
    expect(resolve('amd', [MACHINE[0]])).toThrow(
      new UsageError("--devices: no adapter's name contains 'amd'; this machine has 1 adapter (0: NVIDIA GeForce RTX 4090 (vulkan))"),
    );
    expect(resolve('vulkan')).toThrow(/^--devices: 'vulkan' matches 3 adapters \(0: NVIDIA.*\); give an index$/);
    expect(resolve('2', [])).toThrow(new UsageError('--devices: WebGPU found no adapter on this machine (webgrad devices says more)'));
  });
});

describe('parseAvailableAdapters', () => {
  it("reads Dawn-node's list from the error of an adapter= flag that matches nothing", () => {
    const msg = [
      'no suitable backends found',
      'Available adapters:',
      " * backend: 'vulkan', name: 'NVIDIA GeForce RTX 4090'",
      " * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'",
      " * backend: 'opengl', name: 'Mesa Intel(R) Graphics (ADL-S GT1)'",
    ].join('\n');
    expect(parseAvailableAdapters(msg)).toEqual([
      { backend: 'vulkan', name: 'NVIDIA GeForce RTX 4090' },
      { backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)' },
      { backend: 'opengl', name: 'Mesa Intel(R) Graphics (ADL-S GT1)' },
    ]);
    expect(parseAvailableAdapters('no suitable backends found')).toEqual([]);
  });
});

describe('openDevicesArg', () => {
  it('opens one device per item (two on this machine’s one adapter), each computing on its own', async () => {
    const { devices, adapters } = await openDevicesArg('0,0');
    expect(devices).toHaveLength(2);
    expect(devices[0]).not.toBe(devices[1]);
    expect(adapters.map((a) => a.index)).toEqual([0, 0]);
    for (const [k, device] of devices.entries()) {
      const y = add(tensor([1, 2], { device }), tensor([k, k], { device }));
      expect(Array.from(await y.data())).toEqual([1 + k, 2 + k]);
      y.dispose();
    }
    devices.forEach((d) => d.gpu.destroy());
    await expect(openDevicesArg('0,9')).rejects.toThrow(/^--devices: there is no adapter 9; this machine has 1 adapter \(0: /);
  }, 60_000);
});

describe('webgrad devices', () => {
  it('--json lists at least this machine’s adapter with its limits and features; a bad option is one line, exit 2', () => {
    const r = runCli(['devices', '--json']);
    expect(r.status).toBe(0);
    expect(ownLines(r.stderr)).toEqual([]);
    const list = JSON.parse(r.stdout) as AdapterEntry[];
    expect(list.length).toBeGreaterThan(0);
    expect(list[0].index).toBe(0);
    expect(list.filter((a) => a.isDefault)).toHaveLength(1);
    expect(list[0].name).not.toBe('');
    expect(list[0].limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 27);
    expect(list[0].limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    const text = runCli(['devices']);
    expect(text.status).toBe(0);
    expect(text.stdout).toMatch(
      /^0 {2}\S.*\n {3}backend .*\n(.|\n)* {3}limits: maxStorageBufferBindingSize .* maxComputeInvocationsPerWorkgroup \d+\n {3}features: /,
    );
    const bad = runCli(['devices', '--jsn']);
    expect([bad.status, bad.stdout, ownLines(bad.stderr)]).toEqual([2, '', ['webgrad devices: unknown option --jsn; known: --json (webgrad devices --help)']]);
  }, 60_000);
});
