/**
 * `webgrad devices`: the WebGPU adapters webgrad can open on this machine, with the limits and features that
 * matter to it, as text or `--json`. The indexes are what `--devices 0,1` refers to (src/cli/devices-arg.ts).
 */
import { type AdapterEntry, listAdapters } from './adapters';
import { parseArgs, UsageError } from './args';

const USAGE = [
  'usage: webgrad devices [--json]',
  '',
  'Lists the WebGPU adapters of this machine (index, name, backend, vendor, architecture, key limits, features).',
  "The index and name are what the training commands' --devices takes: `--devices 0,1`, `--devices nvidia`, or",
  '`--devices 4` for 4 devices spread over the adapters (several devices share an adapter when there are fewer).',
  '',
  'How adapters are found: WebGPU has no call that lists adapters; requestAdapter() returns one, chosen by',
  "powerPreference ('high-performance' | 'low-power'), forceFallbackAdapter and featureLevel ('core' |",
  "'compatibility'). Node's `webgpu` package (Dawn) adds create() flags: 'backend=vulkan|metal|d3d12|d3d11|opengl|",
  "opengles|null' and 'adapter=<text>' (the first adapter whose name contains <text>, case-sensitive). An 'adapter='",
  'that matches nothing fails with Dawn\'s list of "Available adapters" (backend and name of each): webgrad reads that',
  'list and opens each entry with its backend and name. Two identical cards (same name) cannot be told apart by that',
  'flag: both open the first. "default" marks the adapter webgrad opens when no --devices is given.',
].join('\n');

const SPEC = {
  json: { default: false, help: 'print the list as JSON (an array, one object per adapter)' },
} as const;

const MiB = 2 ** 20;
/** 134217728 → 128 MiB; small limits stay plain numbers */
function size(n: number): string {
  if (n >= 2 ** 30 && n % 2 ** 30 === 0) return `${n / 2 ** 30} GiB`;
  if (n >= 2 ** 32 - 1) return `${((n + 1) / 2 ** 30).toFixed(0)} GiB − 1`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return String(n);
}

/** The text form of one adapter. */
export function describeAdapter(a: AdapterEntry): string {
  const l = a.limits;
  const kind = [
    a.backend && `backend ${a.backend}`,
    a.vendor && `vendor ${a.vendor}`,
    a.architecture && `architecture ${a.architecture}`,
    a.device && `device ${a.device}`,
  ]
    .filter(Boolean)
    .join(' · ');
  return [
    `${a.index}  ${a.name}${a.isDefault ? '  [default]' : ''}${a.isFallbackAdapter ? '  [software / fallback adapter]' : ''}`,
    kind && `   ${kind}`,
    a.description && a.description !== a.name && `   description: ${a.description}`,
    `   limits: maxStorageBufferBindingSize ${size(l.maxStorageBufferBindingSize)} · maxBufferSize ${size(l.maxBufferSize)} · maxComputeWorkgroupStorageSize ${size(l.maxComputeWorkgroupStorageSize)} · maxComputeInvocationsPerWorkgroup ${l.maxComputeInvocationsPerWorkgroup}`,
    `   features: ${a.features.join(', ') || '(none)'}`,
  ]
    .filter(Boolean)
    .join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
  const adapters = await listAdapters();
  if (args.json) {
    console.log(JSON.stringify(adapters, null, 2));
    return 0;
  }
  if (adapters.length === 0) {
    console.log('no WebGPU adapter found (install a Vulkan, Metal or D3D12 driver; without a GPU, Mesa lavapipe: npm run setup-gpu)');
    return 1;
  }
  console.log(adapters.map(describeAdapter).join('\n\n'));
  return 0;
}
