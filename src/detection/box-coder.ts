/**
 * d2l's box coder: offset_boxes (regression targets of boxes against their anchors, 10/5 scaling,
 * eps 1e-6 inside the log) and offset_inverse (boxes from predicted offsets). Both run on the GPU,
 * accept a leading batch dim on the boxes, and are differentiable (src/tensor/ops/boxes.ts).
 */
export { offsetBoxes, offsetInverse } from '../tensor/ops/boxes';
