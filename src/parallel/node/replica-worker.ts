/**
 * Worker-thread side of `dataParallel({ threads: true })`: one rank on its own device. It imports the user's replica
 * module, joins the shared-memory group and answers the trainer's requests ({ id, op, ... } → { id, ok, value | error }).
 */
import { parentPort } from 'node:worker_threads';
import { create, globals } from 'webgpu';
import { init } from '../../kernels/webgpu/devices';
import { registerGPUProvider } from '../../kernels/webgpu/device';
import { PeerFailedError, abortable, type AbortableCollective } from '../abortable';
import { joinSharedGroup, type SharedGroupDescriptor } from '../../parallel/shared-memory-collective';
import { importReplica } from '../replica';
import { ReplicaRank } from '../replica-rank';
import { deviceLost } from '../local-ranks';
import type { Device } from '../../kernels/webgpu/device';

interface Start {
  replica: string;
  config: unknown;
  descriptor: SharedGroupDescriptor;
  /** The group for synchronised BatchNorm statistics (null: per-replica statistics). */
  bnDescriptor: SharedGroupDescriptor | null;
  rank: number;
  /** Dawn's backend and adapter name to open (null: the default adapter). */
  adapter: { backend: string; name: string } | null;
  bucketBytes: number;
  overlap: boolean;
}

// Dawn without the main thread's stderr filter (src/io/dawn-notices.ts swaps fd 2, which is process-wide: from a
// worker it races the other threads and Node warns about it); Dawn's two limit notices are printed as they are.
// Registered after the replica module is imported (which may import '@webgrad/core/node' and its provider).
let gpu: GPU | undefined;
let dawnFlags: string[] = [];
const plainDawn = () => {
  if (!gpu) {
    Object.assign(globalThis, globals);
    gpu = create(dawnFlags);
  }
  return gpu;
};

let rank: ReplicaRank | null = null;
let device: Device | null = null;
let collective: AbortableCollective | null = null;
let bn: AbortableCollective | null = null;

async function handle(op: string, args: any): Promise<unknown> {
  switch (op) {
    case 'start': {
      const a = args as Start;
      const spec = await importReplica(a.replica, a.config);
      // Dawn's flags pick the adapter: `adapter=` matches a part of its name, `backend=` the API (see `webgrad devices`)
      if (a.adapter) dawnFlags = [`backend=${a.adapter.backend}`, `adapter=${a.adapter.name}`];
      registerGPUProvider(plainDawn);
      device = await init({ label: `dp${a.rank}` });
      collective = abortable(joinSharedGroup(a.descriptor, a.rank));
      bn = a.bnDescriptor ? abortable(joinSharedGroup(a.bnDescriptor, a.rank)) : null;
      rank = new ReplicaRank(spec, device, collective, { bucketBytes: a.bucketBytes, syncBatchNorm: bn, overlap: a.overlap });
      return { label: device.label, description: device.adapterInfo?.description || device.adapterInfo?.vendor || '' };
    }
    case 'setup':
      return rank!.setup(args.seed, args.host);
    case 'load':
      return rank!.load(args.host);
    case 'step':
      return rank!.step(args.slice, args.weight);
    case 'snapshot':
      return rank!.snapshot();
    case 'abort':
      collective?.stop(new PeerFailedError(args.reason));
      bn?.stop(new PeerFailedError(args.reason));
      return null;
    case 'close':
      try {
        rank?.dispose();
        collective?.close();
        bn?.close();
        // let the queue's error scopes settle: Dawn aborts the process if a thread ends with one pending
        if (device && !device.isLost) await device.sync();
        device?.destroy();
        await new Promise((r) => setTimeout(r, 10));
      } catch {
        // a lost device may fail to release; the thread ends anyway
      }
      return null;
    default:
      throw new Error(`dataParallel worker: unknown request '${op}'`);
  }
}

parentPort!.on('message', async ({ id, op, args }: { id: number; op: string; args: unknown }) => {
  if (op === 'exit') {
    parentPort!.close();
    return;
  }
  try {
    const value = await handle(op, args);
    parentPort!.postMessage({ id, ok: true, value });
  } catch (e) {
    const error = e as Error;
    const peer = error instanceof PeerFailedError;
    const lost = !peer && device ? await deviceLost(device, error) : false;
    // tell the other ranks at once (they may be waiting in the collective for this one)
    if (!peer && op === 'step') {
      const why = new PeerFailedError(`data parallel: rank ${collective?.rank} failed: ${error?.message?.split('\n')[0]}`);
      collective?.stop(why);
      bn?.stop(why);
    }
    parentPort!.postMessage({ id, ok: false, error: String(error?.message ?? error), peer, lost });
  }
});
