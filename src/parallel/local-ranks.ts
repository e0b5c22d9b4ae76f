/** Ranks in the trainer's own thread: one device each, the in-process collective between them. */
import type { Device } from '../kernels/webgpu/device';
import { abortable } from './abortable';
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
export function localRanks(spec: ReplicaSpec, devices: readonly Device[], options: { bucketBytes: number; syncBatchNorm: boolean }): RankHandle[] {
  const group = inProcessGroup(devices.length).map(abortable);
  const bn = options.syncBatchNorm ? inProcessGroup(devices.length).map(abortable) : null;
  return devices.map((device, k) => {
    const rank = new ReplicaRank(spec, device, group[k], { bucketBytes: options.bucketBytes, syncBatchNorm: bn?.[k] ?? null });
    return {
      name: deviceName(k, device.label, describe(device)),
      setup: (seed, host) => rank.setup(seed, host),
      load: async (host) => rank.load(host),
      step: (slice, weight) => rank.step(slice, weight),
      snapshot: () => rank.snapshot(),
      lost: (e) => deviceLost(device, e),
      abort: (reason) => {
        group[k].stop(reason);
        bn?.[k].stop(reason);
      },
      close: async () => {
        try {
          rank.dispose();
        } catch {
          // a lost device's tensors may fail to release; nothing to keep
        }
        group[k].close();
        bn?.[k].close();
      },
    };
  });
}
