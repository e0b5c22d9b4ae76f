/**
 * Progress for long loops: iterations/s, items/s, named values (loss…) and ETA. On a TTY one line
 * is redrawn in place; elsewhere (CI, files) a plain line is printed every `every` ticks.
 */
export interface ProgressOptions {
  every?: number;
  stream?: { write(s: string): unknown; isTTY?: boolean };
}

/** A one-line progress report for loops: iteration count, values such as the loss, rate, elapsed time and ETA. */
export class Progress {
  private readonly t0 = performance.now();
  private items = 0;
  private lastLine = 0;
  private readonly every: number;
  private readonly out: { write(s: string): unknown; isTTY?: boolean };

  /** A report for `total` iterations, prefixed with `label`. */
  constructor(
    private readonly total: number,
    private readonly label = '',
    o: ProgressOptions = {},
  ) {
    this.out = o.stream ?? (globalThis as any).process?.stdout ?? { write: (s: string) => console.log(s.trimEnd()) };
    this.every = o.every ?? (this.out.isTTY ? 1 : Math.max(1, Math.round(total / 20)));
  }

  /** Reports iteration `done` (1-based) with values to show and the items processed this tick. */
  tick(done: number, values: Record<string, number> = {}, items = 0): void {
    this.items += items;
    if (done % this.every !== 0 && done !== this.total) return;
    this.out.write(this.format(done, values) + (this.out.isTTY ? '\r' : '\n'));
    this.lastLine = done;
  }

  /** The report line for iteration `done` with `values`. */
  format(done: number, values: Record<string, number>): string {
    const secs = (performance.now() - this.t0) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const vals = Object.entries(values)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join('  ');
    const ips = this.items ? `  ${(this.items / Math.max(secs, 1e-9)).toFixed(2)} items/s` : '';
    return `${this.label ? `${this.label} ` : ''}${done}/${this.total}  ${vals}  ${rate.toFixed(2)} it/s${ips}  elapsed ${clock(secs)}  ETA ${clock(eta)}`;
  }

  /** Ends the report (moves a terminal to the next line). */
  done(): void {
    if (this.out.isTTY && this.lastLine) this.out.write('\n');
  }
}

const fmt = (v: number) => (Math.abs(v) >= 100 || v === 0 ? v.toFixed(1) : v.toPrecision(4));
function clock(s: number): string {
  const m = Math.floor(s / 60),
    sec = Math.floor(s % 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(sec).padStart(2, '0')}`;
}
