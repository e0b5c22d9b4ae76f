/**
 * Procedural-image helpers shared by the synthetic sets (salient objects in src/sod, detection in
 * src/detection): smooth value noise and an HSV colour. Pure host arithmetic, deterministic given the PRNG.
 */

/** An RGB colour, each channel in [0, 1]. */
export type Colour = [number, number, number];

/**
 * Smooth value noise in [0, 1] over an h×w patch: `octaves` layers, the first with lattice cell `cell`
 * pixels, each next one half the cell and half the weight. `xWeights` is where the horizontal
 * smoothstep weights are kept: Float64Array keeps them exact, Float32Array rounds them to float32.
 * The salient-object set uses the first and the detection set the second, and each set's pinned
 * images depend on its choice, so neither may change.
 */
export function valueNoise(
  r: () => number,
  h: number,
  w: number,
  cell: number,
  octaves: number,
  xWeights: Float32ArrayConstructor | Float64ArrayConstructor,
): Float32Array {
  const out = new Float32Array(h * w);
  const sx = new xWeights(w),
    x0s = new Int32Array(w);
  let amp = 1,
    total = 0,
    c = cell;
  for (let o = 0; o < octaves; o++) {
    const gh = Math.ceil(h / c) + 2,
      gw = Math.ceil(w / c) + 2;
    const grid = new Float32Array(gh * gw);
    for (let i = 0; i < grid.length; i++) grid[i] = r();
    for (let x = 0; x < w; x++) {
      const gx = x / c,
        x0 = Math.floor(gx),
        f = gx - x0;
      x0s[x] = x0;
      sx[x] = f * f * (3 - 2 * f);
    }
    for (let y = 0; y < h; y++) {
      const gy = y / c,
        y0 = Math.floor(gy),
        fy = gy - y0,
        s = fy * fy * (3 - 2 * fy);
      const row0 = y0 * gw,
        row1 = row0 + gw;
      for (let x = 0; x < w; x++) {
        const x0 = x0s[x],
          t = sx[x];
        const top = grid[row0 + x0] * (1 - t) + grid[row0 + x0 + 1] * t;
        const bottom = grid[row1 + x0] * (1 - t) + grid[row1 + x0 + 1] * t;
        out[y * w + x] += amp * (top * (1 - s) + bottom * s);
      }
    }
    total += amp;
    amp *= 0.5;
    c = Math.max(1, c / 2);
  }
  for (let i = 0; i < out.length; i++) out[i] /= total;
  return out;
}

/** The RGB colour of (hue, saturation, value), all in [0, 1]; the hue wraps around. */
export function hsv(hue: number, s: number, v: number): Colour {
  const h = ((hue % 1) + 1) % 1;
  const i = Math.floor(h * 6),
    f = h * 6 - i,
    p = v * (1 - s),
    q = v * (1 - f * s),
    t = v * (1 - (1 - f) * s);
  const table: Colour[] = [
    [v, t, p],
    [q, v, p],
    [p, v, t],
    [p, q, v],
    [t, p, v],
    [v, p, q],
  ];
  return table[i % 6];
}
