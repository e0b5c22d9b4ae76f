/**
 * Non-maximum suppression on the GPU: single-class (`nms`, and d2l's rules in `nmsD2l`),
 * class-aware (`batchedNms`) and per image of a batch (`nmsPerImage`). The boxes are sorted by score
 * on the GPU (a bitonic sort, stable by index; each image of a batch in its own block), then swept in
 * tiles of 256, the images side by side (one workgroup per image per tile): a bitmask of the tile's
 * IoUs in workgroup memory, an in-order pass that keeps boxes, and a pass that marks later boxes the
 * kept ones suppress (src/kernels/wgsl/nms.ts). Memory stays O(N) (no N×N mask: 100k boxes would
 * need 1.25 GB) and the sweep stops once `maxDetections` boxes are kept. With `maxDetections` on
 * one image, only the top candidates (at least max(8 × maxDetections, 512), by a histogram of the scores) are
 * sorted, and the full sort runs only if they run out first. One image of at most 1024 boxes (or
 * preselected candidates) runs in a single dispatch: one workgroup sorts the keys in workgroup
 * memory and sweeps the tiles with barriers between the steps. Only counts are read back: the
 * candidates', the done flags between sweep rounds, and the kept counts that size the results.
 *
 * Exactness: the IoU's area, intersection and union are computed with torchvision's float32
 * operations in its order, and whether the float32 quotient exceeds the threshold is decided
 * exactly in integer arithmetic (WGSL lets f32 division be 2.5 ULP off), so the kept set equals
 * the host reference (src/detection/ref/nms.ts) on any adapter that does not fuse the multiply-adds.
 * (One corner left: WGSL lets an adapter flush subnormal floats to zero, so coordinates, sides or
 * areas below 2^−126 may be taken as 0 there; lavapipe keeps them. Scores are compared as bits, so
 * they order exactly everywhere.)
 */
import { ArgumentError } from '../base/shape';
import type { Device } from '../kernels/webgpu/device';
import { grid } from '../kernels/webgpu/device';
import {
  NMS_TILE,
  NMS_WG,
  SORT_BLOCK,
  STATE_COUNTS,
  STATE_PER_SEG,
  SMALL_MAX,
  smallKernel,
  smallLayout,
  PRESELECT_BUCKETS,
  compactKernel,
  gatherKernel,
  histogramKernel,
  padKernel,
  padLayout,
  preselectLayout,
  selectKernel,
  iouTest,
  gatherLayout,
  propagateKernel,
  propagateLayout,
  resolveKernel,
  resolveLayout,
  sortGlobalKernel,
  sortGlobalLayout,
  sortInitKernel,
  sortInitLayout,
  sortKey,
  sortLocalKernel,
  sortLocalLayout,
} from '../kernels/wgsl/nms';
import { checkOptions } from '../base/options';
import { type Tensor, empty } from '../tensor/tensor';
import type { NmsRule } from './ref/nms';

/** Options shared by the NMS functions. */
export interface NmsOptions {
  /** Only boxes whose score is strictly greater take part (TF.js's and torchvision's detectors' rule). Default: all. */
  scoreThreshold?: number;
  /** Before suppression, only the `topK` highest-scoring boxes (per image for `nmsPerImage`) take part. Default: all. */
  topK?: number;
  /** Stop once this many boxes are kept (per image for `nmsPerImage`). Default: all. */
  maxDetections?: number;
}

/** Time spent in each phase of one NMS call, in milliseconds (each phase awaited on the GPU); for benchmarks. */
export interface NmsProfile {
  /** Building keys and sorting them (0 on the single-dispatch path for small inputs, which counts it under `suppress`). */
  sort: number;
  /** Gathering the sorted boxes and the tiled IoU mask with its sweep (resolve and propagate passes). */
  suppress: number;
  /** Reading back the kept counts and copying the kept indices out. */
  readback: number;
}

interface Plan {
  fn: string;
  boxes: Tensor;
  scores: Tensor;
  classes?: Tensor;
  /** Boxes per segment (image); n for one segment. */
  segLen: number;
  nseg: number;
  iouThreshold: number;
  rule: NmsRule;
  opts: NmsOptions;
  profile?: NmsProfile;
}

const U32_MAX = 0xffffffff;
/** The fewest candidates the preselection keeps (8 × maxDetections otherwise); fewer to sort is faster, too few falls back to the full sort. */
const PRESELECT_MIN = 512;
/** With maxDetections at most this, the sweep reads the done flags after its first tile. */
const FIRST_ROUND_MAXDET = 128;
/**
 * The single-dispatch path sweeps in one workgroup (one core on a CPU adapter): it wins while one
 * tile or so is swept, i.e. with at most this many boxes, or with maxDetections ≤ 128 (measured on
 * lavapipe against the multi-dispatch path: 400 boxes 1.5 against 1.7 ms, 700 boxes 8.1 against
 * 3.4 ms; 1000 boxes with maxDetections 100 0.84 against 1.9 ms, with 256 6.8 against 3.8 ms).
 */
const SMALL_ALL_MAX = 400;

/** Whether one image of n boxes (or candidates) takes the single-dispatch path. */
function useSmall(n: number, maxDet: number): boolean {
  return n <= nmsTuning.smallMax && (n <= SMALL_ALL_MAX || maxDet <= 128);
}

/** The largest float32 not above x: for float32 v, v > x (in double) exactly when v > down32(x). */
function down32(x: number): number {
  const r = Math.fround(x);
  if (!(r > x)) return r;
  const b = new DataView(new ArrayBuffer(4));
  b.setFloat32(0, r);
  const bits = b.getUint32(0);
  // r > x: step toward −∞ (positive r: fewer bits; negative r: more; +0 goes to −min subnormal)
  b.setUint32(0, r === 0 ? 0x80000001 : r > 0 ? bits - 1 : bits + 1);
  return b.getFloat32(0);
}

function countOption(fn: string, name: string, v: number | undefined): number {
  if (v === undefined) return U32_MAX;
  if (!Number.isInteger(v) || v < 0) throw new ArgumentError(fn, name, `got ${v}`, 'a non-negative integer');
  return Math.min(v, U32_MAX);
}

function checkNmsOptions(fn: string, opts: NmsOptions): void {
  checkOptions(fn, 'opts', opts, ['scoreThreshold', 'topK', 'maxDetections']);
  if (opts.scoreThreshold !== undefined && (typeof opts.scoreThreshold !== 'number' || Number.isNaN(opts.scoreThreshold))) {
    throw new ArgumentError(fn, 'scoreThreshold', `got ${opts.scoreThreshold}`, 'a number');
  }
  countOption(fn, 'topK', opts.topK);
  countOption(fn, 'maxDetections', opts.maxDetections);
}

function checkThreshold(fn: string, t: number): void {
  if (typeof t !== 'number' || Number.isNaN(t)) throw new ArgumentError(fn, 'iouThreshold', `got ${t}`, 'a number');
}

function checkFloat(fn: string, name: string, t: Tensor, shape: number[]): void {
  const ok = t.dtype === 'float32' && t.shape.length === shape.length && t.shape.every((d, i) => shape[i] < 0 || d === shape[i]);
  if (!ok) {
    const want = shape.map((d) => (d < 0 ? 'N' : String(d))).join(', ');
    throw new ArgumentError(fn, name, `has shape [${t.shape.join(', ')}] and dtype ${t.dtype}`, `float32 of shape [${want}]`);
  }
}

async function awaitPhase(device: Device, profile: NmsProfile | undefined, phase: keyof NmsProfile, t0: number): Promise<number> {
  if (!profile) return t0;
  await device.sync();
  const t1 = performance.now();
  profile[phase] += t1 - t0;
  return t1;
}

/** What the sort-and-sweep core needs besides the sorted keys. */
interface Run {
  plan: Plan;
  n: number;
  topK: number;
  maxDet: number;
  test: ReturnType<typeof iouTest>;
  temps: Tensor[];
}

function tmpTensor(run: Run, size: number, dtype: 'int32' | 'float32' = 'int32'): Tensor {
  const t = empty([size], dtype, run.plan.boxes.device);
  run.temps.push(t);
  return t;
}

/**
 * Builds the (key, index) pairs of all scores into `keys`: one block of `stride` entries per
 * segment (stride ≥ segLen), padded with key 0.
 */
function initKeys(run: Run, keys: Tensor, stride: number, segLen: number): void {
  const { device } = run.plan.boxes;
  const thr = run.plan.opts.scoreThreshold;
  const init = sortInitKernel();
  const P = stride * run.plan.nseg;
  device.run('nms.sortInit', init.key, init.source, [run.plan.scores.buffer, keys.buffer], grid(P, NMS_WG), {
    layout: sortInitLayout,
    values: { P, n: run.n, segLen, stride, hasThr: thr === undefined ? 0 : 1, thrKey: thr === undefined ? 0 : sortKey(down32(thr)) },
  });
}

/** Sorted boxes and the sweep's state, as the gather leaves them. */
interface Sorted {
  sbox: Tensor;
  smeta: Tensor;
  sup: Tensor;
  state: Tensor;
  /** Sorted positions per segment. */
  stride: number;
}

function sweepBuffers(run: Run, P: number, stride: number): Sorted {
  const words = STATE_COUNTS + STATE_PER_SEG * run.plan.nseg;
  const state = tmpTensor(run, words);
  run.plan.boxes.device.upload(state.buffer, new Uint32Array(words));
  return { sbox: tmpTensor(run, 4 * P, 'float32'), smeta: tmpTensor(run, 4 * P), sup: tmpTensor(run, P), state, stride };
}

/**
 * Sorts each segment's block of `stride` keys (a power of two ≥ SORT_BLOCK), sweeps the first M
 * sorted positions of every segment, the segments side by side, and returns the kept indices per
 * segment (and the total kept).
 */
async function sortAndSweep(run: Run, keys: Tensor, stride: number, M: number, t0: number): Promise<{ out: Tensor[]; kept: number }> {
  const { plan, n, topK } = run;
  const { segLen, nseg, profile } = plan;
  const device = plan.boxes.device;
  const P = stride * nseg;
  const mask = stride - 1;
  const local = sortLocalKernel();
  const global = sortGlobalKernel();
  const blocks = grid(P / SORT_BLOCK, 1);
  device.run('nms.sortLocal', local.key, local.source, [keys.buffer], blocks, { layout: sortLocalLayout, values: { k0: 2, k1: SORT_BLOCK, mask } });
  for (let k = 2 * SORT_BLOCK; k <= stride; k *= 2) {
    for (let j = k / 2; j >= SORT_BLOCK; j /= 2) {
      device.run('nms.sortGlobal', global.key, global.source, [keys.buffer], grid(P / 2, NMS_WG), {
        layout: sortGlobalLayout,
        values: { half: P / 2, k, j, mask },
      });
    }
    device.run('nms.sortLocal', local.key, local.source, [keys.buffer], blocks, { layout: sortLocalLayout, values: { k0: k, k1: k, mask } });
  }
  t0 = await awaitPhase(device, profile, 'sort', t0);
  // gather into sorted order
  const sorted = sweepBuffers(run, P, stride);
  const { sbox, smeta, sup, state } = sorted;
  const ga = gatherKernel(plan.classes !== undefined);
  const cls = plan.classes ?? plan.scores; // a stand-in binding when there are no classes (never read)
  device.run(
    'nms.gather',
    ga.key,
    ga.source,
    [keys.buffer, plan.boxes.buffer, cls.buffer, sbox.buffer, smeta.buffer, sup.buffer, state.buffer],
    grid(P, NMS_WG),
    { layout: gatherLayout, values: { M: P, n, segLen, stride, topK } },
  );
  return sweep(run, sorted, M, t0);
}

/** The tiled sweep over the first M sorted positions of every segment; returns the kept indices per segment. */
async function sweep(run: Run, sorted: Sorted, M: number, t0: number): Promise<{ out: Tensor[]; kept: number }> {
  const { plan, maxDet, test } = run;
  const { nseg, profile } = plan;
  const device = plan.boxes.device;
  const { sbox, smeta, sup, state, stride } = sorted;
  const keptList = tmpTensor(run, M * nseg);
  const keptPos = tmpTensor(run, NMS_TILE * nseg);
  // the tiled sweep, every segment at once, in rounds; between rounds read the done flags when the sweep may stop early
  const tiles = Math.ceil(M / NMS_TILE);
  const mayStop = maxDet !== U32_MAX || plan.opts.scoreThreshold !== undefined || nseg > 1;
  const res = resolveKernel();
  const prop = propagateKernel();
  const readState = async () => new Uint32Array(await device.download(state.buffer, 4 * STATE_PER_SEG * nseg, 4 * STATE_COUNTS));
  // a max-detections limit that one tile may reach: look after the first tile
  let round = maxDet <= FIRST_ROUND_MAXDET ? 1 : 4;
  for (let t = 0; t < tiles; ) {
    const end = Math.min(tiles, t + round);
    for (; t < end; t++) {
      const tile = t * NMS_TILE;
      device.run('nms.resolve', res.key, res.source, [sbox.buffer, smeta.buffer, sup.buffer, keptList.buffer, keptPos.buffer, state.buffer], grid(nseg, 1), {
        layout: resolveLayout,
        values: { tile, M, stride, maxDet, ...test },
      });
      const from = tile + NMS_TILE;
      if (from < M) {
        const chunks = Math.ceil((M - from) / NMS_WG);
        device.run(
          'nms.propagate',
          prop.key,
          prop.source,
          [sbox.buffer, smeta.buffer, sup.buffer, keptPos.buffer, state.buffer],
          grid(chunks * nseg * NMS_WG, NMS_WG),
          { layout: propagateLayout, values: { start: from, M, stride, chunks, groups: chunks * nseg, ...test } },
        );
      }
    }
    if (t < tiles && mayStop) {
      const st = await readState();
      let done = true;
      for (let s = 0; s < nseg && done; s++) done = st[STATE_PER_SEG * s + 2] !== 0;
      if (done) break;
      round = Math.min(2 * round, 64);
    }
  }
  t0 = await awaitPhase(device, profile, 'suppress', t0);
  // read back the kept counts only; copy each segment's indices into its own tensor
  const st = await readState();
  const out: Tensor[] = [];
  let kept = 0;
  for (let s = 0; s < nseg; s++) {
    const count = st[STATE_PER_SEG * s];
    const t = empty([count], 'int32', device);
    if (count > 0) device.queue.copy(keptList.buffer, 4 * s * M, t.buffer, 0, 4 * count);
    kept += count;
    out.push(t);
  }
  await awaitPhase(device, profile, 'readback', t0);
  return { out, kept };
}

/**
 * With one segment and a max-detections limit, sorts only the top candidates: a histogram of the
 * keys' top 16 bits picks the highest bucket boundary with at least `target` keys above it (all
 * keys of one score fall in one bucket, so the candidates are exactly a prefix of the full sorted
 * order), and those are compacted and sorted. Returns null when the sweep ran out of candidates
 * before keeping maxDetections while more boxes were left (then the full sort runs).
 */
async function preselected(run: Run, target: number, t0: number): Promise<Tensor[] | null> {
  const { plan, n, topK, maxDet } = run;
  const device = plan.boxes.device;
  const all = tmpTensor(run, 2 * n);
  initKeys(run, all, n, n);
  const hist = tmpTensor(run, PRESELECT_BUCKETS);
  device.upload(hist.buffer, new Uint32Array(PRESELECT_BUCKETS));
  const sel = tmpTensor(run, 4);
  const cand = tmpTensor(run, 2 * n);
  const values = { n, want: target };
  const h = histogramKernel();
  device.run('nms.histogram', h.key, h.source, [all.buffer, hist.buffer], grid(n, NMS_WG), { layout: preselectLayout, values });
  const sk = selectKernel();
  device.run('nms.select', sk.key, sk.source, [hist.buffer, sel.buffer], [1, 1, 1], { layout: preselectLayout, values });
  const ck = compactKernel();
  device.run('nms.compact', ck.key, ck.source, [all.buffer, sel.buffer, cand.buffer], grid(n, NMS_WG), { layout: preselectLayout, values });
  const [, count, valid] = new Uint32Array(await device.download(sel.buffer, 16));
  if (count === 0) return [empty([0], 'int32', device)];
  let res: { out: Tensor[]; kept: number };
  if (useSmall(count, maxDet)) res = await small(run, t0, { keys: cand, count });
  else {
    const P = Math.max(SORT_BLOCK, 2 ** Math.ceil(Math.log2(count)));
    const keys = tmpTensor(run, 2 * P);
    const pk = padKernel();
    device.run('nms.pad', pk.key, pk.source, [cand.buffer, keys.buffer], grid(P, NMS_WG), { layout: padLayout, values: { P, count } });
    res = await sortAndSweep(run, keys, P, Math.min(count, topK), t0);
  }
  const { out, kept } = res;
  if (kept < maxDet && count < Math.min(valid, topK)) {
    for (const t of out) t.dispose();
    return null;
  }
  return out;
}

/**
 * Internal switches, not part of the public API: tests set `smallMax` to 0 to run small inputs
 * through the multi-dispatch path too. `smallMax`: one image of at most this many boxes (≤ SMALL_MAX)
 * takes the single-dispatch path.
 */
export const nmsTuning = { smallMax: SMALL_MAX };

/**
 * One image of at most SMALL_MAX boxes: keys, sort and sweep in one dispatch (smallKernel), then
 * its count read back. With `cand`, sorts and sweeps those `count` (key, index) pairs instead.
 */
async function small(run: Run, t0: number, cand?: { keys: Tensor; count: number }): Promise<{ out: Tensor[]; kept: number }> {
  const { plan, topK, maxDet, test } = run;
  const n = cand ? cand.count : run.n;
  const device = plan.boxes.device;
  const thr = plan.opts.scoreThreshold;
  const P = 2 ** Math.ceil(Math.log2(Math.max(n, 2)));
  // tiles a little wider than maxDetections (most boxes of a tile are usually kept), 32 to 256
  const tw = Math.min(NMS_TILE, Math.max(32, 2 ** Math.ceil(Math.log2(maxDet + Math.ceil(maxDet / 4)))));
  // sort and sweep the top 4 × maxDetections keys (at least 64) first, all of them only if those run out
  const target = maxDet === U32_MAX ? U32_MAX : Math.min(U32_MAX, Math.max(64, 4 * maxDet));
  const keptList = tmpTensor(run, n);
  const count = tmpTensor(run, 1);
  const mask = tmpTensor(run, NMS_TILE * (NMS_TILE / 32));
  const sup = tmpTensor(run, P);
  const k = smallKernel(plan.classes !== undefined, cand !== undefined);
  const cls = plan.classes ?? plan.scores; // a stand-in binding when there are no classes (never read)
  device.run(
    'nms.small',
    k.key,
    k.source,
    [(cand?.keys ?? plan.scores).buffer, plan.boxes.buffer, cls.buffer, keptList.buffer, count.buffer, mask.buffer, sup.buffer],
    [1, 1, 1],
    {
      layout: smallLayout,
      values: { n, P, topK, maxDet, hasThr: thr === undefined ? 0 : 1, thrKey: thr === undefined ? 0 : sortKey(down32(thr)), tw, want: target, ...test },
    },
  );
  t0 = await awaitPhase(device, plan.profile, 'suppress', t0);
  const kept = new Uint32Array(await device.download(count.buffer, 4))[0];
  const out = empty([kept], 'int32', device);
  if (kept > 0) device.queue.copy(keptList.buffer, 0, out.buffer, 0, 4 * kept);
  await awaitPhase(device, plan.profile, 'readback', t0);
  return { out: [out], kept };
}

/** Runs the whole pipeline; returns one int32 tensor of kept indices per segment. */
async function runNms(plan: Plan): Promise<Tensor[]> {
  const { boxes, scores, nseg, opts } = plan;
  const device = boxes.device;
  const n = scores.size;
  const topK = countOption(plan.fn, 'topK', opts.topK);
  const maxDet = countOption(plan.fn, 'maxDetections', opts.maxDetections);
  // valid entries come first in each segment, so only the first min(segLen, topK) sorted positions matter
  const M = Math.min(plan.segLen, topK);
  if (n === 0 || nseg === 0 || M === 0 || maxDet === 0) return Array.from({ length: nseg }, () => empty([0], 'int32', device));
  const T = plan.rule === 'torchvision' ? down32(plan.iouThreshold) : Math.fround(plan.iouThreshold);
  const run: Run = { plan, n, topK, maxDet, test: iouTest(T, plan.rule === 'd2l'), temps: [] };
  try {
    const t0 = plan.profile ? performance.now() : 0;
    if (nseg === 1 && useSmall(n, maxDet)) return (await small(run, t0)).out;
    const target = Math.max(8 * maxDet, PRESELECT_MIN);
    if (nseg === 1 && maxDet !== U32_MAX && 2 * target <= Math.min(n, topK)) {
      const out = await preselected(run, target, t0);
      if (out) return out;
    }
    const stride = Math.max(SORT_BLOCK, 2 ** Math.ceil(Math.log2(plan.segLen)));
    const keys = tmpTensor(run, 2 * stride * nseg);
    initKeys(run, keys, stride, plan.segLen);
    return (await sortAndSweep(run, keys, stride, M, t0)).out;
  } finally {
    for (const t of run.temps) t.dispose();
  }
}

function checkSameDevice(fn: string, boxes: Tensor, others: Record<string, Tensor>): void {
  for (const [name, t] of Object.entries(others)) {
    if (t.device !== boxes.device) throw new ArgumentError(fn, name, `is on device ${t.device.label}`, `the boxes' device ${boxes.device.label}`);
  }
}

function checkBoxesScores(fn: string, boxes: Tensor, scores: Tensor): void {
  checkFloat(fn, 'boxes', boxes, [-1, 4]);
  checkFloat(fn, 'scores', scores, [boxes.shape[0]]);
  checkSameDevice(fn, boxes, { scores });
}

/**
 * Non-maximum suppression with torchvision's semantics (`torchvision.ops.nms`), on the GPU. Boxes
 * are sorted by score, descending, stably (ties: the lower index first, as torch's CPU sort leaves
 * them; NaN above everything, as torch.sort puts it); a box is dropped when its IoU with a box kept before it is greater than
 * `iouThreshold` (the IoU is float32, compared with the threshold as a double, as the CPU kernel
 * does; a 0/0 IoU of two degenerate boxes suppresses nothing).
 *
 * @param boxes (N, 4) float32 corner boxes (x1, y1, x2, y2), finite.
 * @param scores (N) float32.
 * @param iouThreshold Suppress when IoU > this.
 * @param opts Score threshold, top-k before and max detections after.
 * @returns (K) int32: the kept boxes' indices, highest score first. Only K is read back.
 *
 * @example
 * ```ts
 * import { init, tensor } from '@webgrad/core/node';
 * import { nms } from '@webgrad/core/detection';
 * await init();
 * // the second box overlaps the first with IoU 0.9 and goes; the third is elsewhere
 * const boxes = tensor([[0, 0, 1, 1], [0, 0, 1, 0.9], [2, 2, 3, 3]]);
 * const keep = await nms(boxes, tensor([0.9, 0.8, 0.7]), 0.5, { maxDetections: 100 });
 * console.log(Array.from(await keep.data())); // [0, 2]
 * ```
 */
export async function nms(boxes: Tensor, scores: Tensor, iouThreshold: number, opts: NmsOptions = {}): Promise<Tensor> {
  return nmsProfiled(boxes, scores, iouThreshold, opts);
}

/** {@link nms}, adding each phase's time to `profile` when given (each phase is then awaited: for benchmarks). */
export async function nmsProfiled(boxes: Tensor, scores: Tensor, iouThreshold: number, opts: NmsOptions = {}, profile?: NmsProfile): Promise<Tensor> {
  checkBoxesScores('nms', boxes, scores);
  checkThreshold('nms', iouThreshold);
  checkNmsOptions('nms', opts);
  const [out] = await runNms({ fn: 'nms', boxes, scores, segLen: Math.max(scores.size, 1), nseg: 1, iouThreshold, rule: 'torchvision', opts, profile });
  return out;
}

/**
 * Non-maximum suppression with d2l's rules (`d2l.nms`, the anchors chapter), on the GPU. The same
 * greedy loop as {@link nms}, with two differences from torchvision: d2l keeps a box when
 * `IoU <= iouThreshold` with the threshold rounded to float32 (torch compares a float32 tensor with
 * a Python float in float32), and a 0/0 IoU (two degenerate boxes) is NaN, which fails `<=`, so it
 * suppresses. d2l's `argsort` leaves ties in an unspecified order; here they go by index, as in
 * {@link nms}.
 *
 * @param boxes (N, 4) float32 corner boxes.
 * @param scores (N) float32.
 * @param iouThreshold Keep when IoU ≤ this.
 * @param opts Score threshold, top-k before and max detections after.
 * @returns (K) int32 kept indices, highest score first.
 */
export async function nmsD2l(boxes: Tensor, scores: Tensor, iouThreshold: number, opts: NmsOptions = {}): Promise<Tensor> {
  checkBoxesScores('nmsD2l', boxes, scores);
  checkThreshold('nmsD2l', iouThreshold);
  checkNmsOptions('nmsD2l', opts);
  const [out] = await runNms({ fn: 'nmsD2l', boxes, scores, segLen: Math.max(scores.size, 1), nseg: 1, iouThreshold, rule: 'd2l', opts });
  return out;
}

/**
 * Class-aware NMS (`torchvision.ops.batched_nms`): boxes suppress each other only when their
 * `idxs` are equal. torchvision runs one NMS per class on large inputs and, on small ones, offsets
 * each class's boxes by `idx · (max coordinate + 1)` and runs a single NMS (the offsets can round
 * the IoUs of large coordinates); this compares the classes instead, which is the per-class result.
 * Output in score order over all classes, ties by index; `topK` and `maxDetections` count over all
 * classes.
 *
 * @param boxes (N, 4) float32 corner boxes.
 * @param scores (N) float32.
 * @param idxs (N) int32 class (or image, or any group) of each box.
 * @param iouThreshold Suppress when IoU > this.
 * @param opts Score threshold, top-k before and max detections after.
 * @returns (K) int32 kept indices, highest score first.
 */
export async function batchedNms(boxes: Tensor, scores: Tensor, idxs: Tensor, iouThreshold: number, opts: NmsOptions = {}): Promise<Tensor> {
  checkBoxesScores('batchedNms', boxes, scores);
  if (idxs.dtype !== 'int32' || idxs.shape.length !== 1 || idxs.shape[0] !== boxes.shape[0]) {
    throw new ArgumentError('batchedNms', 'idxs', `has shape [${idxs.shape.join(', ')}] and dtype ${idxs.dtype}`, `int32 of shape [${boxes.shape[0]}]`);
  }
  checkSameDevice('batchedNms', boxes, { idxs });
  checkThreshold('batchedNms', iouThreshold);
  checkNmsOptions('batchedNms', opts);
  const [out] = await runNms({
    fn: 'batchedNms',
    boxes,
    scores,
    classes: idxs,
    segLen: Math.max(scores.size, 1),
    nseg: 1,
    iouThreshold,
    rule: 'torchvision',
    opts,
  });
  return out;
}

/**
 * NMS for each image of a batch in one pass (torchvision's rules, class-agnostic inside an image):
 * boxes of different images never suppress each other, and the score threshold, `topK` and
 * `maxDetections` apply per image.
 *
 * @param boxes (B, N, 4) float32 corner boxes.
 * @param scores (B, N) float32.
 * @param iouThreshold Suppress when IoU > this.
 * @param opts Score threshold, top-k before and max detections after, per image.
 * @returns B int32 tensors of indices into each image's N boxes, highest score first.
 */
export async function nmsPerImage(boxes: Tensor, scores: Tensor, iouThreshold: number, opts: NmsOptions = {}): Promise<Tensor[]> {
  return nmsPerImageWith('nmsPerImage', boxes, scores, iouThreshold, opts, 'torchvision');
}

/** nmsPerImage with either rule (multiboxDetection uses d2l's). */
export async function nmsPerImageWith(
  fn: string,
  boxes: Tensor,
  scores: Tensor,
  iouThreshold: number,
  opts: NmsOptions,
  rule: NmsRule,
  profile?: NmsProfile,
): Promise<Tensor[]> {
  checkFloat(fn, 'boxes', boxes, [-1, -1, 4]);
  checkFloat(fn, 'scores', scores, [boxes.shape[0], boxes.shape[1]]);
  checkSameDevice(fn, boxes, { scores });
  checkThreshold(fn, iouThreshold);
  checkNmsOptions(fn, opts);
  const [B, N] = boxes.shape;
  if (N === 0) return Array.from({ length: B }, () => empty([0], 'int32', boxes.device));
  return runNms({ fn, boxes, scores, segLen: N, nseg: B, iouThreshold, rule, opts, profile });
}
