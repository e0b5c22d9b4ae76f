/**
 * Neural style transfer as d2l's chapter does it (Gatys et al.): the synthesised image is the only
 * parameter, initialised with the content image; a frozen pretrained CNN gives content features (one
 * deep layer) and style features (several layers, compared by their Gram matrices); the loss is
 * content·contentLoss + style·Σ styleLoss + tv·totalVariationLoss, minimised with Adam and a StepLR decay.
 *
 * The feature extractor is a parameter (`extract`: image in [0, 1] RGB → a list of feature maps), so the
 * same loop runs the pretrained ResNet-50 of examples/style-transfer.ts and the small random network of
 * its test. The image is kept in [0, 1] RGB (what is saved), and the network's own preprocessing
 * happens inside `extract`, where it is differentiated through.
 */
import { type Tensor, tidy, keep, valueAndGrad, optim, schedules, add, mul, gramMatrix, contentLoss, styleLoss, totalVariationLoss, clamp } from '../src/index';

/** Loss weights, as d2l's `content_weight, style_weight, tv_weight`. */
export interface StyleWeights {
  content: number;
  style: number;
  tv: number;
}

export interface StyleTransferOptions {
  /** Image (1, 3, H, W) in [0, 1] RGB → feature maps (the layers `contentLayers` and `styleLayers` index). */
  extract: (image: Tensor) => Tensor[];
  /** Content image (1, 3, H, W) in [0, 1]; also the initial synthesised image. */
  content: Tensor;
  /** Style image (1, 3, H', W') in [0, 1]; any size. */
  style: Tensor;
  /** Indices into `extract`'s list of the content layers and of the style layers. */
  contentLayers: readonly number[];
  styleLayers: readonly number[];
  weights: StyleWeights;
  /** Adam's learning rate at the start, decayed ×`lrGamma` every `lrStepSize` steps (d2l: 0.3, 0.8, 50). */
  lr: number;
  lrStepSize: number;
  lrGamma: number;
  steps: number;
  /** Called after each step with the weighted losses of the image the step started from (reads them back). */
  onStep?: (step: number, losses: StepLosses, image: Tensor) => void | Promise<void>;
}

/** The weighted loss terms of one step (content and style summed over their layers), as d2l prints them. */
export interface StepLosses {
  content: number;
  style: number;
  tv: number;
  total: number;
}

/** Runs the optimisation; returns the synthesised image (1, 3, H, W) clamped to [0, 1] and the loss history. */
export async function styleTransfer(o: StyleTransferOptions): Promise<{ image: Tensor; history: StepLosses[] }> {
  const { weights: w } = o;
  // targets computed once, outside any trace: content features and the style image's Gram matrices
  const targets = tidy(() => {
    const cf = o.extract(o.content);
    const sf = o.extract(o.style);
    return { content: o.contentLayers.map((i) => keep(cf[i])), grams: o.styleLayers.map((i) => keep(gramMatrix(sf[i]))) };
  });
  const opt = optim.adam({ lr: schedules.stepLR(o.lr, { stepSize: o.lrStepSize, gamma: o.lrGamma }) });
  let params = { image: tidy(() => add(o.content, 0)) }; // a copy: the content tensor stays the caller's
  let state = opt.init(params);
  const history: StepLosses[] = [];
  const loss = (p: { image: Tensor }) => {
    const f = o.extract(p.image);
    const c = o.contentLayers.map((i, k) => contentLoss(f[i], targets.content[k])).reduce((a, b) => add(a, b));
    const s = o.styleLayers.map((i, k) => styleLoss(f[i], targets.grams[k])).reduce((a, b) => add(a, b));
    const parts = { content: mul(c, w.content), style: mul(s, w.style), tv: mul(totalVariationLoss(p.image), w.tv) };
    return [add(add(parts.content, parts.style), parts.tv), parts] as const;
  };
  try {
    for (let step = 0; step < o.steps; step++) {
      const r = tidy(() => {
        const [[total, parts], grads] = valueAndGrad(loss, { hasAux: true })(params);
        const next = opt.update(grads, state, params, { donate: true });
        return { ...next, total, parts };
      });
      params = r.params;
      state = r.state;
      const read = async (t: Tensor) => (await t.data())[0];
      const losses = { content: await read(r.parts.content), style: await read(r.parts.style), tv: await read(r.parts.tv), total: await read(r.total) };
      for (const t of [r.total, r.parts.content, r.parts.style, r.parts.tv]) t.dispose();
      history.push(losses);
      await o.onStep?.(step, losses, params.image);
    }
    const image = tidy(() => clamp(params.image, 0, 1));
    return { image, history };
  } finally {
    params.image.dispose();
    for (const slot of Object.values(state.slots)) for (const t of Object.values(slot)) t.dispose();
    for (const t of [...targets.content, ...targets.grams]) t.dispose();
  }
}
