/**
 * The exact Euclidean distance transform of a 2-D mask with the index of the nearest feature pixel,
 * as scipy.ndimage.distance_transform_edt(input, return_indices=True) computes it: the features are
 * the pixels where `input` is 0, and equidistant features are broken the same way (the separable
 * Voronoi construction of Maurer et al., one pass along rows' columns, then along each row, keeping
 * the earlier candidate on a tie). The weighted F-measure reads errors through these indices, so a
 * different tie-break would change its value.
 */
export interface FeatureTransform {
  /** distance of each pixel to its nearest feature (0 on features; Infinity where there is none) */
  distance: Float64Array;
  /** flat index (y·width + x) of that nearest feature (-1 where there is none) */
  nearest: Int32Array;
}

/**
 * One Voronoi pass along a line of `len` cells. `fy`/`fx` hold each cell's current feature (row,
 * column) or -1; the line runs along axis `d` (0 = rows, i.e. a column; 1 = columns, i.e. a row);
 * `fixed` is the coordinate of the line on the other axis.
 */
function voronoiLine(fy: Int32Array, fx: Int32Array, len: number, d: 0 | 1, fixed: number, g: Int32Array, ly: Int32Array, lx: Int32Array) {
  for (let i = 0; i < len; i++) {
    ly[i] = fy[i];
    lx[i] = fx[i];
  }
  const along = d === 0 ? ly : lx,
    across = d === 0 ? lx : ly;
  let l = -1;
  for (let i = 0; i < len; i++) {
    if (ly[i] < 0) continue;
    const fd = along[i];
    const tw = across[i] - fixed;
    const wR = tw * tw;
    while (l >= 1) {
      const i1 = g[l],
        i2 = g[l - 1];
      const f1 = along[i1];
      const a = f1 - along[i2],
        b = fd - f1,
        c = a + b;
      const tu = across[i2] - fixed,
        tv = across[i1] - fixed;
      const uR = tu * tu,
        vR = tv * tv;
      if (c * vR - b * uR - a * wR - a * b * c <= 0) break;
      l--;
    }
    g[++l] = i;
  }
  const maxl = l;
  if (maxl < 0) return; // no feature on this line: leave it without one
  l = 0;
  for (let i = 0; i < len; i++) {
    const dist2 = (k: number) => {
      const s = along[k] - i,
        t = across[k] - fixed;
      return s * s + t * t;
    };
    let d1 = dist2(g[l]);
    while (l < maxl) {
      const d2 = dist2(g[l + 1]);
      if (d1 <= d2) break;
      d1 = d2;
      l++;
    }
    fy[i] = ly[g[l]];
    fx[i] = lx[g[l]];
  }
}

/** Feature transform of `input` (height × width, row-major): features are its zero pixels. */
export function distanceTransformEdt(input: ArrayLike<number>, height: number, width: number): FeatureTransform {
  const n = height * width;
  if (input.length !== n) throw new Error(`distanceTransformEdt: input has ${input.length} values; expected ${height}×${width} = ${n}`);
  const fy = new Int32Array(n),
    fx = new Int32Array(n);
  const len = Math.max(height, width);
  const g = new Int32Array(len),
    ly = new Int32Array(len),
    lx = new Int32Array(len);
  const lineY = new Int32Array(len),
    lineX = new Int32Array(len);
  // pass 1: along each column (axis 0), starting from the features themselves
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const feature = input[y * width + x] === 0;
      lineY[y] = feature ? y : -1;
      lineX[y] = feature ? x : -1;
    }
    voronoiLine(lineY, lineX, height, 0, x, g, ly, lx);
    for (let y = 0; y < height; y++) {
      fy[y * width + x] = lineY[y];
      fx[y * width + x] = lineX[y];
    }
  }
  // pass 2: along each row (axis 1)
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      lineY[x] = fy[y * width + x];
      lineX[x] = fx[y * width + x];
    }
    voronoiLine(lineY, lineX, width, 1, y, g, ly, lx);
    for (let x = 0; x < width; x++) {
      fy[y * width + x] = lineY[x];
      fx[y * width + x] = lineX[x];
    }
  }
  const distance = new Float64Array(n),
    nearest = new Int32Array(n);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = y * width + x;
      if (fy[i] < 0) {
        distance[i] = Infinity;
        nearest[i] = -1;
        continue;
      }
      const dy = fy[i] - y,
        dx = fx[i] - x;
      distance[i] = Math.sqrt(dy * dy + dx * dx);
      nearest[i] = fy[i] * width + fx[i];
    }
  return { distance, nearest };
}
