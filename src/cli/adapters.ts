/**
 * Every WebGPU adapter Dawn (the `webgpu` package) can open on this machine, and a fresh GPUAdapter for one of them.
 *
 * WebGPU itself has no "list the adapters" call: `requestAdapter()` returns one, picked by `powerPreference`
 * ('high-performance' / 'low-power'), `forceFallbackAdapter` and `featureLevel` ('core' / 'compatibility'). The
 * `webgpu` package's `create(flags)` adds two Dawn-node flags: `backend=<vulkan|metal|d3d12|d3d11|opengl|opengles|
 * null|webgpu>` restricts the backend, and `adapter=<text>` makes `requestAdapter` return the first adapter whose
 * name contains `<text>` (case-sensitive). An `adapter=` that matches nothing rejects with "no suitable backends
 * found" followed by "Available adapters:" and one ` * backend: '<b>', name: '<n>'` line per adapter — the only
 * enumeration the package offers, so that is what we read. Each listed adapter is then opened with
 * `create(['backend=<b>', 'adapter=<n>'])`. Two identical GPUs (same name) cannot be told apart this way: Dawn's
 * flag picks the first, so both indexes would open the first card.
 */
import { create } from 'webgpu';
import { filterDawnNotices } from '../io/dawn-notices';
import { findGPU } from '../kernels/webgpu/device';
import '../node'; // registers Dawn as the WebGPU provider and sets the globals (GPUBufferUsage…)

/** The limits `webgrad devices` reports (those that bound webgrad's kernels and tensor sizes). */
export const KEY_LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const;

/** One adapter Dawn can open. */
export interface AdapterEntry {
  /** Position in Dawn's list (what `--devices 0,1` refers to). */
  index: number;
  /** Dawn's adapter name (what the `adapter=` flag matches). */
  name: string;
  /** Dawn backend: vulkan, metal, d3d12, … */
  backend: string;
  vendor: string;
  architecture: string;
  /** GPUAdapterInfo.device and .description (often the driver's full name). */
  device: string;
  description: string;
  /** A software (CPU) adapter such as lavapipe or SwiftShader. */
  isFallbackAdapter: boolean;
  /** True for the adapter a plain `requestAdapter()` returns (what webgrad opens without --devices). */
  isDefault: boolean;
  limits: Record<(typeof KEY_LIMITS)[number], number>;
  features: string[];
}

/** Parses the adapter list out of Dawn-node's "no suitable backends found / Available adapters:" message. */
export function parseAvailableAdapters(message: string): { backend: string; name: string }[] {
  const out: { backend: string; name: string }[] = [];
  for (const m of message.matchAll(/^\s*\*\s*backend:\s*'([^']*)',\s*name:\s*'(.*)'\s*$/gm)) out.push({ backend: m[1], name: m[2] });
  return out;
}

// one Dawn instance per adapter, kept alive: a GPU object that is collected takes its devices with it
const instances = new Map<string, GPU>();
const instanceFor = (backend: string, name: string): GPU => {
  const key = `${backend}\u0000${name}`;
  let gpu = instances.get(key);
  if (!gpu) instances.set(key, (gpu = create([`backend=${backend}`, `adapter=${name}`])));
  return gpu;
};

/** Dawn's adapter list as (backend, name) pairs, in Dawn's order. */
async function dawnAdapterNames(): Promise<{ backend: string; name: string }[]> {
  const probe = create(['adapter=\u0001webgrad: list every adapter\u0001']);
  try {
    const a = await filterDawnNotices(() => probe.requestAdapter());
    // a Dawn that ignores the flag: fall back to the one adapter it gave
    return a ? [{ backend: '', name: '' }] : [];
  } catch (e) {
    return parseAvailableAdapters(String((e as Error).message ?? e));
  }
}

/** A fresh (unconsumed) GPUAdapter for `entry` (an adapter opens one device; open one per device). */
export async function requestListedAdapter(entry: Pick<AdapterEntry, 'backend' | 'name'>): Promise<GPUAdapter> {
  const gpu = entry.name ? instanceFor(entry.backend, entry.name) : findGPU();
  const a = await filterDawnNotices(() => gpu.requestAdapter());
  if (!a) throw new Error(`adapter '${entry.name}' (${entry.backend}) is no longer available`);
  return a;
}

/** Every adapter this machine offers, with its info, key limits and features. Opens no device. */
export async function listAdapters(): Promise<AdapterEntry[]> {
  const names = await dawnAdapterNames();
  const fallback = await filterDawnNotices(() => findGPU().requestAdapter());
  const defaultId = fallback ? `${fallback.info.vendor}|${fallback.info.architecture}|${fallback.info.device}|${fallback.info.description}` : '';
  const out: AdapterEntry[] = [];
  for (const [index, n] of names.entries()) {
    const a = await requestListedAdapter(n);
    const id = `${a.info.vendor}|${a.info.architecture}|${a.info.device}|${a.info.description}`;
    out.push({
      index,
      name: n.name || a.info.description || a.info.device,
      backend: n.backend,
      vendor: a.info.vendor,
      architecture: a.info.architecture,
      device: a.info.device,
      description: a.info.description,
      isFallbackAdapter: Boolean((a.info as { isFallbackAdapter?: boolean }).isFallbackAdapter ?? (a as { isFallbackAdapter?: boolean }).isFallbackAdapter),
      isDefault: id === defaultId && !out.some((e) => e.isDefault),
      limits: Object.fromEntries(KEY_LIMITS.map((k) => [k, a.limits[k]])) as AdapterEntry['limits'],
      features: [...(a.features as unknown as Iterable<string>)].sort(),
    });
  }
  return out;
}
