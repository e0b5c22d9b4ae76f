/**
 * U²-NetP training step (forward, 7-map BCE, backward, Adam) with the conv row-kernel routes
 * (src/tensor/ops/conv-route.ts) on and off, interleaved in one process: wall and process CPU seconds per step
 * (CPU time is robust to other load on a shared machine). Best of N rounds each.
 * `npx tsx bench/conv-route-ab.ts [--crop 320] [--batch 1] [--rounds 3]`
 */
import { init } from '../src/node';
import { convRouting } from '../src/tensor/ops/conv-route';
import { makeTrainer } from './suites/u2net';

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const crop = arg('crop', 320),
  batch = arg('batch', 1),
  rounds = arg('rounds', 3);

const device = await init();
const t = makeTrainer(batch, crop);
const modes = {
  old: { forward: false, gradInput: false },
  routed: { forward: true, gradInput: true },
} as const;
const best: Record<string, { wall: number; cpu: number }> = {};
for (const m of Object.values(modes)) {
  Object.assign(convRouting, m);
  t.step(); // compile this mode's pipelines
  await device.sync();
}
for (let r = 0; r < rounds; r++) {
  for (const [name, m] of Object.entries(modes)) {
    Object.assign(convRouting, m);
    await device.sync();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    t.step();
    await device.sync();
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    console.log(`round ${r} ${name}: wall ${wall.toFixed(2)} s, CPU ${cpu.toFixed(2)} s`);
    const b = best[name];
    best[name] = { wall: Math.min(b?.wall ?? Infinity, wall), cpu: Math.min(b?.cpu ?? Infinity, cpu) };
  }
}
for (const [name, b] of Object.entries(best))
  console.log(`best ${name}: wall ${b.wall.toFixed(2)} s, CPU ${b.cpu.toFixed(2)} s per step (U²-NetP ${crop}² batch ${batch})`);
console.log(`routed/old: wall ${(best.routed.wall / best.old.wall).toFixed(2)}×, CPU ${(best.routed.cpu / best.old.cpu).toFixed(2)}×`);
t.dispose();
process.exit(0);
