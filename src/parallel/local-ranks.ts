/** Ranks in the trainer's own thread: one device each, the in-process collective between them. */
import type { Device } from '../kernels/webgpu/device';
import { abortable, type AbortableCollective } from './abortable';
import { inProcessGroup } from './in-process-collective';
import { ReplicaRank } from './replica-rank';
import type { ReplicaSpec } from './replica';
import type { RankHandle } from './rank-handle';

/** How errors name a device: 'device 1 (webgpu:3, llvmpipe: Mesa …)'. */
export function deviceName(rank: number, label: string, description: string | undefined): string {
  return `device ${rank} (${label}${description ? `, ${description}` : ''})`;
}

const describe = (d: Device) => d.adapterInfo?.description || d.adapterInfo?.vendor || undefined;

/** True once `device` reports itself lost (waits briefly: the lost promise settles after the failing call). */
export async function deviceLost(device: Device, error: unknown): Promise<boolean> {
  if (!device.isLost) await Promise.race([device.gpu.lost, new Promise((r) => setTimeout(r, 100))]);
  return device.isLost || /device (was )?lost|destroyed/i.test(String((error as Error)?.message ?? error));
}

/** K ranks on the given devices, in this thread. */
export function localRanks(
  spec: ReplicaSpec,
  devices: readonly Device[],
  options: { bucketBytes: number; syncBatchNorm: boolean; overlap: boolean },
  external: AbortableCollective | null = null,
): RankHandle[] {
  // an external group (one device, this process is one of its ranks) serves BatchNorm statistics too
  const group = external ? [external] : inProcessGroup(devices.length).map(abortable);
  const bn = options.syncBatchNorm ? (external ? [external] : inProcessGroup(devices.length).map(abortable)) : null;
  const first = external?.rank ?? 0;
  return devices.map((device, k) => {
    const rank = new ReplicaRank(spec, device, group[k], { bucketBytes: options.bucketBytes, syncBatchNorm: bn?.[k] ?? null, overlap: options.overlap });
    return {
      name: deviceName(first + k, device.label, describe(device)),
      setup: (seed, host) => rank.setup(seed, host),
      load: async (host) => rank.load(host),
      step: (slice, weight) => rank.step(slice, weight),
      snapshot: () => rank.snapshot(),
      lost: (e) => deviceLost(device, e),
      abort: (reason) => {
        group[k].stop(reason);
        if (bn?.[k] !== group[k]) bn?.[k].stop(reason);
      },
      close: async () => {
        try {
          rank.dispose();
        } catch {
          // a lost device's tensors may fail to release; nothing to keep
        }
        // an external group belongs to the caller (it may train again with it)
        if (!external) {
          group[k].close();
          bn?.[k].close();
        }
      },
    };
  });
}
