/**
 * The confusion matrix of a segmentation: cell (t, q) counts the pixels of target class t predicted
 * as class q (rows = target, columns = prediction, as the DeepLabV3+ stream metrics' `_fast_hist`).
 * A pixel counts when 0 ≤ t < C, t ≠ ignore and 0 ≤ q < C.
 *
 * Two dispatches: `clear` zeroes the (C, C) int32 output, then `count` adds the pixels with atomics.
 * When C² fits in workgroup memory (`cap` ≥ C², a power of two up to 4096 words = 16 KiB) each
 * workgroup first counts its share of pixels into a private histogram and adds only the non-zero
 * cells to the output, so the few global cells are not hammered by every pixel (Cityscapes has 19
 * classes: 361 cells for millions of pixels). Larger C count straight into the output (`cap` 0).
 */
import { UniformLayout } from '../webgpu/uniforms';
import { kernel, type ShaderSpec } from './builder';

export const CONFUSION_WG = 256;
/** Workgroups of the counting pass at most: each thread strides over the pixels. */
export const CONFUSION_MAX_GROUPS = 256;
/** Largest C² counted in workgroup memory (4096 u32 = 16 KiB, WebGPU's guaranteed minimum). */
export const CONFUSION_LOCAL_CELLS = 4096;

export const confusionClearLayout = new UniformLayout([{ name: 'n', type: 'u32' }]);

export const confusionCountLayout = new UniformLayout([
  { name: 'n', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'ignore', type: 'i32' },
]);

/** Zeroes the n cells of the output. */
export const confusionClearKernel = () =>
  kernel(
    'confusionMatrix',
    { op: 'clear' },
    (): ShaderSpec => ({
      uniforms: confusionClearLayout,
      workgroupSize: CONFUSION_WG,
      grid: 'n',
      storage: [{ name: 'cm', type: 'i32', access: 'read_write' }],
      body: `
  cm[i] = 0;`,
    }),
  );

/**
 * Counts the pixels into the output (already zeroed). `cap`: words of the workgroup histogram (a power
 * of two ≥ C²), or 0 to add every pixel straight into the output.
 */
export const confusionCountKernel = (cap: number) =>
  kernel('confusionMatrix', { op: 'count', cap }, ({ cap }): ShaderSpec => {
    const add = cap > 0 ? 'atomicAdd(&h[k], 1u);' : 'atomicAdd(&cm[k], 1);';
    return {
      uniforms: confusionCountLayout,
      workgroupSize: CONFUSION_WG,
      storage: [
        { name: 'predicted', type: 'i32' },
        { name: 'truth', type: 'i32' },
        { name: 'cm', type: 'atomic<i32>', access: 'read_write' },
      ],
      decls: cap > 0 ? `var<workgroup> h: array<atomic<u32>, ${cap}>;` : '',
      body: `
  let C = p.C; let cc = C * C;
  ${cap > 0 ? `for (var k = li; k < cc; k += ${CONFUSION_WG}u) { atomicStore(&h[k], 0u); }\n  workgroupBarrier();` : ''}
  let stride = nwg.x * ${CONFUSION_WG}u;
  for (var j = wid.x * ${CONFUSION_WG}u + li; j < p.n; j += stride) {
    let t = truth[j]; let q = predicted[j];
    if (t >= 0 && t < i32(C) && t != p.ignore && q >= 0 && q < i32(C)) {
      let k = u32(t) * C + u32(q);
      ${add}
    }
  }
  ${
    cap > 0
      ? `workgroupBarrier();
  for (var k = li; k < cc; k += ${CONFUSION_WG}u) {
    let v = atomicLoad(&h[k]);
    if (v != 0u) { atomicAdd(&cm[k], i32(v)); }
  }`
      : ''
  }`,
    };
  });

/** The workgroup histogram's size for C classes: the next power of two ≥ C² (at least 64), or 0 past {@link CONFUSION_LOCAL_CELLS}. */
export function confusionCap(C: number): number {
  const cc = C * C;
  if (cc > CONFUSION_LOCAL_CELLS) return 0;
  let cap = 64;
  while (cap < cc) cap *= 2;
  return cap;
}
