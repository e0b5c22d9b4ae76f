/**
 * The box side of detection augmentation: one thread per target row of a (B, G, 5) batch
 * `[class, x1, y1, x2, y2]` (normalised corners), under sample b's window (B, 5)
 * `[wx1, wy1, wx2, wy2, flip]` (the crop, normalised to the input, and a 0/1 flip flag).
 *
 * A row is kept when its class is ≥ 0, the window has positive width and height, the box's centre
 * lies strictly inside the window, and the visible part (the box clipped to the window) covers at
 * least `minVisible` of the box's area. The tests are written without divisions (centre: x1 + x2
 * against 2·wx1 and 2·wx2), so they are exact for dyadic coordinates. A kept box is clipped, mapped
 * to the window's coordinates ((x − wx1) / (wx2 − wx1), the same in y), then mirrored (x ↦ 1 − x,
 * swapping x1 and x2) when flip > 0.5. Every other row becomes `[−1, 0, 0, 0, 0]`.
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

export const DETECTION_AUGMENT_WG = 64;

export const detectionTargetsLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'G', type: 'u32' },
  { name: 'minVisible', type: 'f32' },
]);

/** Crop, clip, drop and flip the target rows of a detection batch. */
export const detectionTargetsKernel = () =>
  kernel(
    'detectionAugment',
    { op: 'targets' },
    (): ShaderSpec => ({
      uniforms: detectionTargetsLayout,
      workgroupSize: DETECTION_AUGMENT_WG,
      grid: 'n',
      storage: [
        { name: 't', type: 'f32' },
        { name: 'win', type: 'f32' },
        { name: 'y', type: 'f32', access: 'read_write' },
      ],
      body: `
  let r = 5u * i;
  let w = 5u * (i / p.G);
  let cls = t[r];
  let bx1 = t[r + 1u]; let by1 = t[r + 2u]; let bx2 = t[r + 3u]; let by2 = t[r + 4u];
  let wx1 = win[w]; let wy1 = win[w + 1u]; let wx2 = win[w + 2u]; let wy2 = win[w + 3u];
  let ix1 = clamp(bx1, wx1, wx2); let iy1 = clamp(by1, wy1, wy2);
  let ix2 = clamp(bx2, wx1, wx2); let iy2 = clamp(by2, wy1, wy2);
  let visible = (ix2 - ix1) * (iy2 - iy1);
  let area = (bx2 - bx1) * (by2 - by1);
  let keep = cls >= 0.0 && wx2 > wx1 && wy2 > wy1
    && bx1 + bx2 > 2.0 * wx1 && bx1 + bx2 < 2.0 * wx2 && by1 + by2 > 2.0 * wy1 && by1 + by2 < 2.0 * wy2
    && visible >= p.minVisible * area;
  if (!keep) {
    y[r] = -1.0; y[r + 1u] = 0.0; y[r + 2u] = 0.0; y[r + 3u] = 0.0; y[r + 4u] = 0.0;
    return;
  }
  let cw = wx2 - wx1; let ch = wy2 - wy1;
  var x1 = (ix1 - wx1) / cw; var x2 = (ix2 - wx1) / cw;
  if (win[w + 4u] > 0.5) { let a = 1.0 - x2; x2 = 1.0 - x1; x1 = a; }
  y[r] = cls; y[r + 1u] = x1; y[r + 2u] = (iy1 - wy1) / ch; y[r + 3u] = x2; y[r + 4u] = (iy2 - wy1) / ch;`,
    }),
  );
