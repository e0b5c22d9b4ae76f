/**
 * The `--devices` argument shared by the training CLIs, the examples and the benches:
 *   --devices 4          4 devices; spread over the adapters in turn (adapter 0, 1, …, 0, 1, …), so several
 *                        devices share an adapter when the machine has fewer adapters than that
 *   --devices 0,1        one device on adapter 0 and one on adapter 1 (indexes as `webgrad devices` lists them)
 *   --devices 2,         one device on adapter 2 (a list of one: a bare number is a count)
 *   --devices nvidia,intel   adapters by a piece of their name (case-insensitive); `0,0` = two devices on adapter 0
 * Parsing needs no GPU (so a bad value is refused before anything opens); resolving needs the adapter list.
 */
import { type Device, createDevice } from '../node';
import { type AdapterEntry, listAdapters, requestListedAdapter } from './adapters';
import { UsageError } from './args';

/** The most devices one process opens (a typo such as 1000 is refused instead of opening them). */
export const MAX_DEVICES = 64;

/** A parsed `--devices`: a device count, or a list of adapters by index or name substring. */
export type DevicesArg = { count: number } | { adapters: (number | string)[] };

/** The help line for `--devices` (shared so every command says the same). */
export const DEVICES_HELP =
  "data-parallel devices: N (N devices, spread over the adapters; several per adapter if there are fewer), or adapters as a comma list of indexes or name pieces ('0,1', '2,', 'nvidia,intel'); see `webgrad devices`";

/** Parses `--devices`; throws a one-line UsageError naming the option, what it got and what it expects. */
export function parseDevicesArg(raw: string, option = '--devices'): DevicesArg {
  const text = raw.trim();
  const expected = `a device count 1…${MAX_DEVICES} or a comma list of adapter indexes / names (e.g. '0,1', '2,', 'nvidia')`;
  if (text === '') throw new UsageError(`${option} must be ${expected}; got ''`);
  if (!text.includes(',')) {
    if (/^[+-]?\d+(\.\d*)?$|^[+-]?\.\d+$/.test(text)) {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1 || n > MAX_DEVICES) throw new UsageError(`${option} must be ${expected}; got ${text}`);
      return { count: n };
    }
    return { adapters: [parseItem(text, text, option, expected)] };
  }
  const parts = text.split(',').map((s) => s.trim());
  // one trailing comma marks a list of one ('2,'); any other empty item is a typo
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.some((p) => p === '')) throw new UsageError(`${option} has an empty item in '${raw}'; expected ${expected}`);
  if (parts.length > MAX_DEVICES) throw new UsageError(`${option} lists ${parts.length} devices; at most ${MAX_DEVICES}`);
  return { adapters: parts.map((p) => parseItem(p, raw, option, expected)) };
}

function parseItem(item: string, raw: string, option: string, expected: string): number | string {
  if (/^\d+$/.test(item)) return Number(item);
  if (/^[+-]?[\d.]+$/.test(item)) throw new UsageError(`${option}: '${item}' in '${raw}' is not an adapter index (0, 1, …); expected ${expected}`);
  return item;
}

/** How many devices a parsed `--devices` asks for. */
export const deviceCount = (arg: DevicesArg): number => ('count' in arg ? arg.count : arg.adapters.length);

/** `0: llvmpipe (vulkan)` for messages */
const describe = (a: AdapterEntry): string => `${a.index}: ${a.name} (${a.backend || 'default'})`;
const listText = (adapters: AdapterEntry[]): string =>
  adapters.length === 1 ? `this machine has 1 adapter (${describe(adapters[0])})` : `adapters: ${adapters.map(describe).join('; ')}`;

/** Picks the adapter of each device (an adapter may appear several times); one-line UsageError when one does not exist or a name is ambiguous. */
export function resolveDevicesArg(arg: DevicesArg, adapters: AdapterEntry[], option = '--devices'): AdapterEntry[] {
  if (adapters.length === 0) throw new UsageError(`${option}: WebGPU found no adapter on this machine (webgrad devices says more)`);
  if ('count' in arg) return Array.from({ length: arg.count }, (_, i) => adapters[i % adapters.length]);
  return arg.adapters.map((item) => {
    if (typeof item === 'number') {
      if (item >= adapters.length) throw new UsageError(`${option}: there is no adapter ${item}; ${listText(adapters)}`);
      return adapters[item];
    }
    const needle = item.toLowerCase();
    const hits = adapters.filter((a) => [a.name, a.description, a.device, a.vendor, a.architecture, a.backend].some((s) => s.toLowerCase().includes(needle)));
    if (hits.length === 0) throw new UsageError(`${option}: no adapter's name contains '${item}'; ${listText(adapters)}`);
    if (hits.length > 1 && new Set(hits.map((h) => h.name)).size > 1)
      throw new UsageError(`${option}: '${item}' matches ${hits.length} adapters (${hits.map(describe).join('; ')}); give an index`);
    return hits[0];
  });
}

/** Checks that every adapter `arg` names exists (one-line UsageError otherwise) before anything is opened; returns `arg`. */
export async function checkDevicesArg(arg: DevicesArg, option = '--devices'): Promise<DevicesArg> {
  if (!('count' in arg)) resolveDevicesArg(arg, await listAdapters(), option);
  return arg;
}

/** The options {@link openDevicesArg} passes to every device it opens. */
export interface OpenDevicesOptions {
  /** See DeviceOptions.sleepWhileWaiting (the trainers turn it on). */
  sleepWhileWaiting?: boolean;
  /** Option name for messages (default --devices). */
  option?: string;
}

/** Opens the devices `raw` (a `--devices` value) names: one fresh adapter and device each, in order. */
export async function openDevicesArg(raw: string | DevicesArg, options: OpenDevicesOptions = {}): Promise<{ devices: Device[]; adapters: AdapterEntry[] }> {
  const option = options.option ?? '--devices';
  const arg = typeof raw === 'string' ? parseDevicesArg(raw, option) : raw;
  const adapters = resolveDevicesArg(arg, await listAdapters(), option);
  const devices: Device[] = [];
  for (const a of adapters) {
    const adapter = await requestListedAdapter(a);
    devices.push(await createDevice({ adapter, sleepWhileWaiting: options.sleepWhileWaiting }));
  }
  return { devices, adapters };
}
