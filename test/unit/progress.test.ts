import { describe, it, expect } from 'vitest';
import { Progress } from '../../src/index';

describe('Progress', () => {
  it('prints plain lines (no carriage returns) when not on a TTY, every total/20 ticks and at the end', () => {
    const lines: string[] = [];
    const p = new Progress(40, 'train', { stream: { write: (s: string) => lines.push(s), isTTY: false } });
    for (let i = 1; i <= 40; i++) p.tick(i, { loss: 1 / i }, 8);
    p.done();
    expect(lines.length).toBe(20);
    expect(lines.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true);
    expect(lines[19]).toMatch(/^train 40\/40 {2}loss 0\.02500 .* it\/s .* items\/s .*ETA 0:00/);
  });

  it('redraws one line on a TTY', () => {
    const out: string[] = [];
    const p = new Progress(3, '', { stream: { write: (s: string) => out.push(s), isTTY: true } });
    [1, 2, 3].forEach((i) => p.tick(i));
    p.done();
    expect(out.slice(0, 3).every((l) => l.endsWith('\r'))).toBe(true);
    expect(out[3]).toBe('\n');
  });
});
