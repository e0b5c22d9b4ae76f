/**
 * Float64 references of the fine-tuning losses (./losses.ts), written from the definitions on plain arrays
 * for the tests: torchvision's sigmoid_focal_loss, the dice loss, the thresholded-mask IoU and SAM's loss.
 */

const sigmoid64 = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
// log(1 + e^−|x|) + max(x, 0) − x·t: BCE with logits, stable
const bce64 = (x: number, t: number) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)));

/** Element-wise focal loss (no reduction), torchvision.ops.sigmoid_focal_loss's formula. */
export function refFocalElements(x: ArrayLike<number>, t: ArrayLike<number>, alpha = 0.25, gamma = 2): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const p = sigmoid64(x[i]);
    const pt = p * t[i] + (1 - p) * (1 - t[i]);
    let l = bce64(x[i], t[i]) * (1 - pt) ** gamma;
    if (alpha >= 0) l *= alpha * t[i] + (1 - alpha) * (1 - t[i]);
    out[i] = l;
  }
  return out;
}

/** Dice loss of each mask: `x` and `t` hold `n` masks of `hw` values each, one after the other. */
export function refDicePerMask(x: ArrayLike<number>, t: ArrayLike<number>, hw: number, smooth = 1): Float64Array {
  const n = x.length / hw;
  const out = new Float64Array(n);
  for (let m = 0; m < n; m++) {
    let pt = 0,
      ps = 0,
      ts = 0;
    for (let i = m * hw; i < (m + 1) * hw; i++) {
      const p = sigmoid64(x[i]);
      pt += p * t[i];
      ps += p;
      ts += t[i];
    }
    out[m] = 1 - (2 * pt + smooth) / (ps + ts + smooth);
  }
  return out;
}

/** IoU of each thresholded mask (x > threshold) with its target (t > 0.5); 1 when both are empty. */
export function refMaskIou(x: ArrayLike<number>, t: ArrayLike<number>, hw: number, threshold = 0): Float64Array {
  const n = x.length / hw;
  const out = new Float64Array(n);
  for (let m = 0; m < n; m++) {
    let inter = 0,
      union = 0;
    for (let i = m * hw; i < (m + 1) * hw; i++) {
      const a = x[i] > threshold,
        b = t[i] > 0.5;
      if (a && b) inter++;
      if (a || b) union++;
    }
    out[m] = union ? inter / union : 1;
  }
  return out;
}

/**
 * SAM's loss in float64: masks [B, M, H, W] (flat), iouPred [B, M], targets [B, H, W] (one per prompt, shared
 * by its M masks). Mirrors samLoss: per prompt the mask with the lowest 20·focal + dice (by default) counts.
 */
export function refSamLoss(
  masks: ArrayLike<number>,
  iouPred: ArrayLike<number>,
  targets: ArrayLike<number>,
  [B, M, H, W]: readonly number[],
  { focalWeight = 20, diceWeight = 1, iouWeight = 1, maskThreshold = 0 } = {},
): { loss: number; focal: number; dice: number; iou: number; actualIou: Float64Array } {
  const hw = H * W;
  const t = new Float64Array(B * M * hw);
  for (let b = 0; b < B; b++) for (let m = 0; m < M; m++) for (let i = 0; i < hw; i++) t[(b * M + m) * hw + i] = targets[b * hw + i];
  const fe = refFocalElements(masks, t);
  const dice = refDicePerMask(masks, t, hw);
  const actualIou = refMaskIou(masks, t, hw, maskThreshold);
  let loss = 0,
    focal = 0,
    diceSum = 0,
    iou = 0;
  for (let b = 0; b < B; b++) {
    let best = -1,
      bestLoss = Infinity,
      bestFocal = 0;
    for (let m = 0; m < M; m++) {
      let f = 0;
      for (let i = 0; i < hw; i++) f += fe[(b * M + m) * hw + i];
      f /= hw;
      const l = focalWeight * f + diceWeight * dice[b * M + m];
      if (l < bestLoss) [best, bestLoss, bestFocal] = [m, l, f];
    }
    loss += bestLoss / B;
    focal += bestFocal / B;
    diceSum += dice[b * M + best] / B;
  }
  for (let k = 0; k < B * M; k++) iou += (iouPred[k] - actualIou[k]) ** 2 / (B * M);
  return { loss: loss + iouWeight * iou, focal, dice: diceSum, iou, actualIou };
}
