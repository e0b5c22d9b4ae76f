/**
 * The arithmetic of the roofline and of the side-by-side table, kept free of the GPU so tests can
 * check it: the attainable rate of a workload (min of the FMA peak and intensity × bandwidth), the
 * fraction of it a measured time reaches, the ratio of two times, and the median of a few rounds.
 */

/** What the adapter's best WGSL kernels reached: FMA throughput and memory bandwidth. */
export interface Roof {
  /** Best FMA throughput, FLOP/s (one FMA = 2 FLOP). */
  flops: number;
  /** Best memory bandwidth, bytes/s. */
  bytesPerSec: number;
}

/** The work of one table row: its floating-point operations and its compulsory memory traffic. */
export interface Work {
  flops: number;
  /** Every input read once, every output written once (bytes). */
  bytes: number;
}

/** FLOP per byte; a workload with no FLOPs (a copy, a pool) has intensity 0 and is bandwidth-bound. */
export const intensity = (w: Work): number => (w.bytes > 0 ? w.flops / w.bytes : Infinity);

/**
 * The best time the roof allows for `w`, in seconds: the larger of the compute time (flops / peak)
 * and the memory time (bytes / bandwidth). For a workload with FLOPs this is flops / min(peak,
 * intensity × bandwidth), the classic roofline; for a pure data-movement one it is bytes / bandwidth.
 */
export function roofSeconds(w: Work, roof: Roof): number {
  return Math.max(w.flops / roof.flops, w.bytes / roof.bytesPerSec);
}

/** Attainable FLOP/s for `w`: min(peak, intensity × bandwidth). */
export function attainableFlops(w: Work, roof: Roof): number {
  return Math.min(roof.flops, intensity(w) * roof.bytesPerSec);
}

/** The fraction of the roof a run of `seconds` reaches (1 = at the roof), or null when it did not run. */
export function roofFraction(w: Work, seconds: number, roof: Roof): number | null {
  if (!(seconds > 0) || !Number.isFinite(seconds)) return null;
  return roofSeconds(w, roof) / seconds;
}

/** Which side of the ridge `w` is on: 'compute' when the FMA peak bounds it, else 'memory'. */
export function boundBy(w: Work, roof: Roof): 'compute' | 'memory' {
  return w.flops / roof.flops >= w.bytes / roof.bytesPerSec ? 'compute' : 'memory';
}

/** theirs ÷ ours for times: above 1 means ours is that many times faster; null when either is missing. */
export function speedup(oursMs: number | null, theirsMs: number | null): number | null {
  if (oursMs === null || theirsMs === null || !(oursMs > 0) || !(theirsMs > 0) || !Number.isFinite(oursMs) || !Number.isFinite(theirsMs)) return null;
  return theirsMs / oursMs;
}

/** '2.31× faster', '1.80× slower', or '—'. */
export function formatSpeedup(r: number | null): string {
  if (r === null) return '—';
  return r >= 1 ? `${r.toFixed(2)}× faster` : `${(1 / r).toFixed(2)}× slower`;
}

/** The median of a non-empty list (mean of the middle two for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('median: empty list');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** FLOPs of a 2-D convolution forward: 2 · N · O · OH · OW · (C / groups) · kH · kW. */
export function convFlops(c: { N: number; C: number; O: number; OH: number; OW: number; kH: number; kW: number; groups?: number }): number {
  return 2 * c.N * c.O * c.OH * c.OW * (c.C / (c.groups ?? 1)) * c.kH * c.kW;
}

/** A figure with 3 significant digits: 1234 → '1234', 12.34 → '12.3', 0.01234 → '0.0123'. */
export function sig3(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

/** A count with an SI prefix: 2.15e9 → '2.15 G'. */
export function si(v: number): string {
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [f, u] of units) if (Math.abs(v) >= f) return `${sig3(v / f)} ${u}`;
  return `${sig3(v)} `;
}

/** Plain-text table: first column left-aligned, the rest right-aligned. */
export function textTable(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
