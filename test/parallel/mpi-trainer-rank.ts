/**
 * One rank of the MPI data-parallel tests (test/parallel/mpi.test.ts), started by
 *   mpirun -np 2 node --import tsx test/parallel/mpi-trainer-rank.ts <case>
 * Each process is one rank of dataParallel({ devices: 1, collective: mpiCollective() }). Prints one
 * `result {json}` line per rank; rank 0 also trains the references in its own process (K=1 and K=2 in one
 * trainer) and compares.
 */
import { init, tree } from '../../src/node';
import { dataParallel, type DataParallel } from '../../src/parallel';
import { mpiCollective } from '../../src/parallel/node/mpi-collective';
import { batch, values } from './fixtures/mlp-data';

const which = process.argv[2];
const MLP = new URL('./fixtures/mlp-replica.ts', import.meta.url);
const BN = new URL('./fixtures/bn-replica.ts', import.meta.url);

/** Steps on batch(8, s), then the snapshot as plain values; closes the trainer. */
async function train(dp: DataParallel, steps: number, split?: number[]) {
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) losses.push((await dp.step(batch(8, s), { split })).loss);
  const snap = await dp.snapshot();
  const v = { params: await values(snap.params), state: await values(snap.state), opt: await values(snap.optState.slots), losses };
  tree.dispose([snap.params, snap.state, snap.optState.slots]);
  await dp.close();
  return v;
}

/** Largest relative difference over all leaves (as the in-process equivalence test measures it). */
function worst(a: Record<string, number[]>, b: Record<string, number[]>): number {
  let w = 0;
  for (const k of Object.keys(b)) for (let i = 0; i < b[k].length; i++) w = Math.max(w, Math.abs(a[k][i] - b[k][i]) / (1e-3 + Math.abs(b[k][i])));
  return w;
}

/** A short hash of a string, for comparing ranks' parameters in the output. */
function digest(text: string): string {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h.toString(16);
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

async function main() {
  await init();
  // 'lost': a short timeout, so that the survivor's wait is bounded even where the trainer does not abort the group
  const collective = await mpiCollective({ timeoutMs: which === 'lost' ? 5000 : 60_000 });
  const rank = collective.rank;
  const result: Record<string, unknown> = { rank, size: collective.size };
  if (which === 'equivalence') {
    // K=2 over MPI (one process per device) against K=1 and K=2 in one trainer; even and 3+5 splits
    const even = await train(await dataParallel({ replica: MLP, devices: 1, collective, seed: 3 }), 4);
    const uneven = await train(await dataParallel({ replica: MLP, devices: 1, collective, seed: 3 }), 4, [3, 5]);
    result.params = digest(JSON.stringify([even.params, even.opt, uneven.params]));
    if (rank === 0) {
      const one = await train(await dataParallel({ replica: MLP, devices: 1, seed: 3 }), 4);
      const two = await train(await dataParallel({ replica: MLP, devices: 2, seed: 3 }), 4);
      const twoUneven = await train(await dataParallel({ replica: MLP, devices: 2, seed: 3 }), 4, [3, 5]);
      Object.assign(result, {
        worstVsK1: worst(even.params, one.params),
        worstOptVsK1: worst(even.opt, one.opt),
        worstUnevenVsK1: worst(uneven.params, one.params),
        lossDiff: Math.max(...even.losses.map((l, i) => Math.abs(l - one.losses[i]))),
        identicalToOneTrainerK2: same([even.params, even.opt], [two.params, two.opt]) && same(uneven.params, twoUneven.params),
      });
    }
  } else if (which === 'sync-bn') {
    // synchronised BatchNorm through the MPI group: K=1 within 1e-4, and the in-process pair of one-device ranks bit for bit
    const mpi = await train(await dataParallel({ replica: BN, devices: 1, collective, seed: 1, syncBatchNorm: true, bucketBytes: 64 }), 3);
    result.params = digest(JSON.stringify([mpi.params, mpi.state]));
    if (rank === 0) {
      const one = await train(await dataParallel({ replica: BN, devices: 1, seed: 1 }), 3);
      Object.assign(result, { worstVsK1: worst(mpi.params, one.params), worstStateVsK1: worst(mpi.state, one.state) });
    }
  } else if (which === 'lost') {
    // rank 1's device (labelled dp1) is lost in step 3: both ranks stop with one line naming it, without waiting for the timeout
    Object.assign(process.env, { DP_LOSE_AT: '3', DP_LOSE_LABEL: 'dp1' });
    const dp = await dataParallel({ replica: new URL('./fixtures/lossy-replica.ts', import.meta.url), devices: 1, collective, seed: 3 });
    const started = Date.now();
    let error = '';
    try {
      for (let s = 0; s < 5; s++) await dp.step(batch(8, s));
    } catch (e) {
      error = `${(e as Error).name}: ${(e as Error).message}`;
    }
    Object.assign(result, { error, ms: Date.now() - started });
  }
  console.log(`result ${JSON.stringify(result)}`);
}

main().catch((e) => {
  console.error(`mpi-trainer-rank: ${(e as Error).message}`);
  process.exitCode = 1;
});
