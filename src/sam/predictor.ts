/**
 * SamPredictor (segment_anything/predictor.py): the image embedding is computed once by `setImage`, then `predict`
 * turns prompts (points, a box, a low-res mask) given in the original image's pixels into masks at the image's size,
 * the IoU predictions and the low-res logits. `predictTorch` is the batched form on device tensors, with prompts
 * already in the model's input frame. The predictor owns its embedding (disposed on the next `setImage`, `reset` and
 * `dispose`); the model's parameters stay the caller's.
 */
import { ArgumentError } from '../base/shape';
import type { SamModel, SamParams, SamState } from '../models/sam/sam';
import { tensor } from '../tensor/ops/creation';
import { gt } from '../tensor/ops/elementwise';
import { flip } from '../tensor/ops/layout';
import { reshape } from '../tensor/ops/shape-ops';
import { tidy } from '../tensor/scope';
import { Tensor } from '../tensor/tensor';
import { applyBoxes, applyCoords, getPreprocessShape, imageChannels, resizeLongestSide, resizeLongestSideTensor, type ImageBytes } from './transforms';

/** Prompts of {@link SamPredictor.predict}, in pixels of the original image. */
export interface SamPredictOptions {
  /** N points (x, y): nested pairs or a flat x, y, x, y, … list. */
  pointCoords?: ArrayLike<number> | readonly (readonly number[])[];
  /** N labels: 1 foreground, 0 background (-1 padding). Required with pointCoords. */
  pointLabels?: ArrayLike<number>;
  /** One box x1, y1, x2, y2. */
  box?: ArrayLike<number>;
  /** Low-res mask logits [1, L, L] (L = 4·imgSize/patchSize, 256 for the published models), e.g. a previous `lowResMasks` row; flat or a tensor. */
  maskInput?: ArrayLike<number> | Tensor;
  /** Three masks (the decoder's multimask outputs) instead of one; default true. */
  multimaskOutput?: boolean;
  /** Mask logits instead of 0/1 masks; default false. */
  returnLogits?: boolean;
}

/** What {@link SamPredictor.predict} returns (host arrays, C = 3 with multimask output, else 1). */
export interface SamPrediction {
  /** [C, H, W] at the original size: 0/1 (Uint8Array), or logits (Float32Array) with returnLogits. */
  masks: Uint8Array | Float32Array;
  /** [C, H, W]. */
  shape: [number, number, number];
  /** [C] the decoder's IoU predictions. */
  iouPredictions: Float32Array;
  /** [C, L, L] low-res logits (feed one row back as maskInput). */
  lowResMasks: Float32Array;
  /** [C, L, L]. */
  lowResShape: [number, number, number];
}

/** Batched prompts of {@link SamPredictor.predictTorch}, device tensors in the model's input frame. */
export interface SamPredictTorchOptions {
  /** [B, N, 2] float32 (x, y) in the resized image's pixels. */
  pointCoords?: Tensor;
  /** [B, N] int32 or float32 labels. */
  pointLabels?: Tensor;
  /** [B, 4] float32 boxes in the resized frame. */
  boxes?: Tensor;
  /** [B, 1, L, L] float32 low-res logits. */
  maskInput?: Tensor;
  /** Default true. */
  multimaskOutput?: boolean;
  /** Default false. */
  returnLogits?: boolean;
}

/** What {@link SamPredictor.predictTorch} returns: device tensors the caller disposes. */
export interface SamTorchPrediction {
  /** [B, C, H, W] bool masks, or float32 logits with returnLogits. */
  masks: Tensor;
  /** [B, C]. */
  iouPredictions: Tensor;
  /** [B, C, L, L] low-res logits. */
  lowResMasks: Tensor;
}

const PREDICT_KEYS = ['pointCoords', 'pointLabels', 'box', 'maskInput', 'multimaskOutput', 'returnLogits'];
const TORCH_KEYS = ['pointCoords', 'pointLabels', 'boxes', 'maskInput', 'multimaskOutput', 'returnLogits'];

function checkKeys(fn: string, o: object, keys: string[]): void {
  if (typeof o !== 'object' || o === null) throw new ArgumentError(fn, 'options', `is ${o === null ? 'null' : typeof o}`, 'an options object');
  const bad = Object.keys(o).find((k) => !keys.includes(k));
  if (bad) throw new ArgumentError(fn, 'options', `has unknown key '${bad}'`, keys.join(', '));
}

function flatNumbers(fn: string, arg: string, v: ArrayLike<number> | readonly (readonly number[])[]): number[] {
  const arr = Array.from(v as ArrayLike<unknown>);
  const flat =
    arr.length > 0 && Array.isArray(arr[0])
      ? (arr as number[][]).flatMap((p) => (p.length === 2 ? p : [Number.NaN, Number.NaN, Number.NaN]))
      : (arr as number[]);
  if (!flat.every((x) => typeof x === 'number' && Number.isFinite(x)))
    throw new ArgumentError(fn, arg, `is ${JSON.stringify(arr).slice(0, 60)}`, 'finite numbers (x, y pairs)');
  return flat;
}

/**
 * SAM's predictor: `setImage` once (the encoder runs), then any number of cheap `predict` calls.
 *
 * @example
 * ```ts
 * import { init, random } from '@webgrad/core/node';
 * import { sam, samConfig, SamPredictor } from '@webgrad/core/sam';
 * await init();
 * const model = sam(samConfig('vit_b', { encoder: { imgSize: 64, patchSize: 8, embedDim: 32, depth: 2, numHeads: 2, windowSize: 3, globalAttnIndexes: [1] } }));
 * const { params, state } = model.init(random.key(0));
 * const predictor = new SamPredictor(model, params, state);
 * predictor.setImage({ width: 40, height: 30, data: new Uint8Array(40 * 30 * 3).fill(128) });
 * const { masks, shape, iouPredictions } = await predictor.predict({ pointCoords: [[20, 15]], pointLabels: [1] });
 * console.log(shape, iouPredictions.length, masks.length); // [3, 30, 40] 3 3600
 * predictor.dispose();
 * ```
 */
export class SamPredictor {
  /** The model. */
  readonly model: SamModel;
  /** Its parameters (not owned). */
  readonly params: SamParams;
  /** Its buffers (not owned). */
  readonly state: SamState;
  private features: Tensor | null = null;
  private imagePe: Tensor | null = null;
  /** [H, W] of the image set, or null. */
  originalSize: [number, number] | null = null;
  /** [h, w] of the resized image inside the padded input, or null. */
  inputSize: [number, number] | null = null;

  /** A predictor for `model` with its parameters and state. */
  constructor(model: SamModel, params: SamParams, state: SamState) {
    if (!model || typeof model.imageEncoder !== 'function') throw new ArgumentError('SamPredictor', 'model', `is ${typeof model}`, 'a SamModel (sam(config))');
    if (!params?.image_encoder || !params.prompt_encoder || !params.mask_decoder)
      throw new ArgumentError('SamPredictor', 'params', 'lacks image_encoder, prompt_encoder or mask_decoder', 'SamParams from model.init or a checkpoint');
    this.model = model;
    this.params = params;
    this.state = state;
  }

  /** The encoder's input size (the long side images are resized to). */
  get imgSize(): number {
    return this.model.config.encoder.imgSize;
  }

  /** Side of the low-res masks (4 × the embedding side). */
  get lowResSize(): number {
    return (4 * this.model.config.encoder.imgSize) / this.model.config.encoder.patchSize;
  }

  /** The device of the model's parameters (where inputs go), or undefined for the default device. */
  get device(): Tensor['device'] | undefined {
    return firstTensor(this.params.mask_decoder)?.device;
  }

  /** Whether an image (or embedding) is set. */
  get isImageSet(): boolean {
    return this.features !== null;
  }

  /**
   * Resizes an 8-bit RGB(A) image so its long side is imgSize (PIL's bilinear, as the official ResizeLongestSide),
   * normalises and pads it and runs the image encoder; keeps the embedding (the previous one is disposed).
   * `imageFormat` 'BGR' swaps the channels first, as the official does for images not in the model's RGB.
   * A float32 tensor [1, 3, H, W] or [3, H, W] of 0–255 values is resized on the device instead
   * (apply_image_torch: antialiased bilinear, within rounding of the byte path); it stays the caller's.
   */
  setImage(image: ImageBytes | Tensor, imageFormat: 'RGB' | 'BGR' = 'RGB'): void {
    const fn = 'SamPredictor.setImage';
    if (imageFormat !== 'RGB' && imageFormat !== 'BGR') throw new ArgumentError(fn, 'imageFormat', `is ${JSON.stringify(imageFormat)}`, "'RGB' or 'BGR'");
    if (image instanceof Tensor) {
      const ok = image.dtype === 'float32' && (image.ndim === 3 || (image.ndim === 4 && image.shape[0] === 1)) && image.shape[image.ndim - 3] === 3;
      if (!ok)
        throw new ArgumentError(fn, 'image', `is a ${image.dtype} tensor of shape [${image.shape.join(', ')}]`, 'float32 [1, 3, H, W] or [3, H, W] (0–255)');
      const [H, W] = image.shape.slice(-2);
      const x = tidy(() => {
        const b = reshape(image, [1, 3, H, W]);
        return resizeLongestSideTensor(imageFormat === 'BGR' ? flip(b, 1) : b, this.imgSize);
      });
      try {
        this.setTorchImage(x, [H, W]);
      } finally {
        x.dispose();
      }
      return;
    }
    imageChannels(fn, image);
    const r = resizeLongestSide(image, this.imgSize);
    const n = r.width * r.height;
    const chw = new Float32Array(3 * n);
    for (let i = 0; i < n; i++) for (let c = 0; c < 3; c++) chw[c * n + i] = r.data[3 * i + (imageFormat === 'BGR' ? 2 - c : c)];
    const device = this.device;
    const x = tensor(chw, { shape: [1, 3, r.height, r.width], device });
    try {
      this.setTorchImage(x, [image.height, image.width]);
    } finally {
      x.dispose();
    }
  }

  /**
   * set_torch_image: an image already resized (float32 [1, 3, h, w], 0–255, long side imgSize) and the original
   * [H, W]; runs the encoder and keeps the embedding. The tensor stays the caller's.
   */
  setTorchImage(transformed: Tensor, originalSize: readonly [number, number]): void {
    const fn = 'SamPredictor.setTorchImage';
    const S = this.imgSize;
    if (
      !(transformed instanceof Tensor) ||
      transformed.ndim !== 4 ||
      transformed.shape[0] !== 1 ||
      transformed.shape[1] !== 3 ||
      Math.max(transformed.shape[2], transformed.shape[3]) !== S
    )
      throw new ArgumentError(fn, 'transformed', `has shape [${transformed?.shape?.join(', ')}]`, `[1, 3, h, w] with long side ${S}`);
    checkPair(fn, 'originalSize', originalSize);
    this.reset();
    const features = tidy(() => this.model.imageEncoder(this.params.image_encoder, this.model.preprocess(transformed)));
    this.adopt(features, [originalSize[0], originalSize[1]], [transformed.shape[2], transformed.shape[3]]);
  }

  /**
   * Sets a precomputed embedding [1, C, E, E] (from {@link getImageEmbedding} or a cache) for an image of
   * `originalSize` [H, W]; the predictor takes ownership of the tensor. `inputSize` defaults to the resized size.
   */
  setEmbedding(embedding: Tensor, originalSize: readonly [number, number], inputSize?: readonly [number, number]): void {
    const fn = 'SamPredictor.setEmbedding';
    const E = this.imgSize / this.model.config.encoder.patchSize;
    const C = this.model.config.promptEmbedDim;
    if (
      !(embedding instanceof Tensor) ||
      embedding.ndim !== 4 ||
      embedding.shape[0] !== 1 ||
      embedding.shape[1] !== C ||
      embedding.shape[2] !== E ||
      embedding.shape[3] !== E
    )
      throw new ArgumentError(fn, 'embedding', `has shape [${embedding?.shape?.join(', ')}]`, `[1, ${C}, ${E}, ${E}]`);
    checkPair(fn, 'originalSize', originalSize);
    const input = inputSize ?? getPreprocessShape(originalSize[0], originalSize[1], this.imgSize);
    checkPair(fn, 'inputSize', input);
    if (Math.max(input[0], input[1]) > this.imgSize)
      throw new ArgumentError(fn, 'inputSize', `is [${input.join(', ')}]`, `sides ≤ imgSize ${this.imgSize} (the resized image inside the padded input)`);
    if (embedding !== this.features) this.reset();
    this.adopt(embedding, [originalSize[0], originalSize[1]], [input[0], input[1]]);
  }

  private adopt(features: Tensor, originalSize: [number, number], inputSize: [number, number]): void {
    this.imagePe?.dispose();
    this.features = features;
    this.imagePe = this.model.denseImagePe(this.state.prompt_encoder);
    this.originalSize = originalSize;
    this.inputSize = inputSize;
  }

  /** The embedding of the image set, [1, C, E, E] (owned by the predictor: do not dispose it). */
  getImageEmbedding(): Tensor {
    if (!this.features) throw new Error('SamPredictor.getImageEmbedding: no image set; call setImage first');
    return this.features;
  }

  /** Forgets the image (disposes the embedding). */
  reset(): void {
    this.features?.dispose();
    this.imagePe?.dispose();
    this.features = null;
    this.imagePe = null;
    this.originalSize = null;
    this.inputSize = null;
  }

  /** Same as {@link reset}: frees what the predictor holds. */
  dispose(): void {
    this.reset();
  }

  /** Prompts in original-image pixels → masks at the original size, IoU predictions and low-res logits (host arrays). */
  async predict(options: SamPredictOptions = {}): Promise<SamPrediction> {
    const fn = 'SamPredictor.predict';
    checkKeys(fn, options, PREDICT_KEYS);
    if (!this.features || !this.originalSize) throw new Error(`${fn}: no image set; call setImage first`);
    const { pointCoords, pointLabels, box, maskInput, multimaskOutput = true, returnLogits = false } = options;
    if (pointCoords !== undefined && pointLabels === undefined)
      throw new ArgumentError(fn, 'pointLabels', 'is missing with pointCoords given', 'one label per point');
    if (pointLabels !== undefined && pointCoords === undefined)
      throw new ArgumentError(fn, 'pointCoords', 'is missing with pointLabels given', 'the points the labels belong to');
    const device = this.features.device;
    const L = this.lowResSize;
    const made: Tensor[] = [];
    const dev = (data: ArrayLike<number>, shape: number[], dtype: 'float32' | 'int32' = 'float32') => {
      const t = tensor(dtype === 'int32' ? Int32Array.from(data) : Float32Array.from(data), { shape, dtype, device });
      made.push(t);
      return t;
    };
    try {
      const torch: SamPredictTorchOptions = { multimaskOutput, returnLogits };
      if (pointCoords !== undefined && pointLabels !== undefined) {
        const xy = flatNumbers(fn, 'pointCoords', pointCoords);
        if (xy.length === 0 || xy.length % 2) throw new ArgumentError(fn, 'pointCoords', `has ${xy.length} numbers`, 'N ≥ 1 (x, y) pairs');
        const labels = Array.from(pointLabels);
        if (labels.length !== xy.length / 2)
          throw new ArgumentError(fn, 'pointLabels', `has ${labels.length} labels for ${xy.length / 2} points`, 'one label per point');
        const bad = labels.find((v) => v !== 1 && v !== 0 && v !== -1);
        if (bad !== undefined) throw new ArgumentError(fn, 'pointLabels', `contains ${bad}`, '1 (foreground), 0 (background) or -1 (padding)');
        torch.pointCoords = dev(applyCoords(xy, this.originalSize, this.imgSize), [1, xy.length / 2, 2]);
        torch.pointLabels = dev(labels, [1, labels.length], 'int32');
      }
      if (box !== undefined) {
        const b = Array.from(box);
        if (b.length !== 4 || !b.every((v) => typeof v === 'number' && Number.isFinite(v)))
          throw new ArgumentError(
            fn,
            'box',
            `is [${b.slice(0, 6).join(', ')}${b.length > 6 ? ', …' : ''}] (${b.length} values)`,
            'x1, y1, x2, y2 (4 finite numbers)',
          );
        torch.boxes = dev(applyBoxes(b, this.originalSize, this.imgSize), [1, 4]);
      }
      if (maskInput !== undefined) {
        if (maskInput instanceof Tensor) {
          if (maskInput.ndim !== 3 || maskInput.shape[0] !== 1 || maskInput.shape[1] !== L || maskInput.shape[2] !== L || maskInput.dtype !== 'float32')
            throw new ArgumentError(fn, 'maskInput', `has shape [${maskInput.shape.join(', ')}] (${maskInput.dtype})`, `float32 [1, ${L}, ${L}]`);
          const t = reshape(maskInput, [1, 1, L, L]);
          made.push(t);
          torch.maskInput = t;
        } else {
          if (maskInput.length !== L * L) throw new ArgumentError(fn, 'maskInput', `has ${maskInput.length} values`, `1×${L}×${L} = ${L * L} low-res logits`);
          torch.maskInput = dev(maskInput, [1, 1, L, L]);
        }
      }
      const out = this.predictTorch(torch);
      try {
        const [, C, H, W] = out.masks.shape;
        const raw = await out.masks.data();
        const masks = returnLogits ? (raw as Float32Array) : Uint8Array.from(raw as Uint32Array);
        const iouPredictions = (await out.iouPredictions.data()) as Float32Array;
        const lowResMasks = (await out.lowResMasks.data()) as Float32Array;
        return { masks, shape: [C, H, W], iouPredictions, lowResMasks, lowResShape: [C, L, L] };
      } finally {
        out.masks.dispose();
        out.iouPredictions.dispose();
        out.lowResMasks.dispose();
      }
    } finally {
      for (const t of made) t.dispose();
    }
  }

  /**
   * predict_torch: batched prompts already in the input frame → masks [B, C, H, W] at the original size (bool, or
   * logits with returnLogits), IoU predictions [B, C] and low-res logits [B, C, L, L]; device tensors the caller disposes.
   */
  predictTorch(options: SamPredictTorchOptions): SamTorchPrediction {
    const fn = 'SamPredictor.predictTorch';
    checkKeys(fn, options, TORCH_KEYS);
    const { returnLogits = false } = options;
    const { lowResMasks, iouPredictions } = this.decode(fn, options);
    try {
      const masks = tidy(() => {
        const logits = this.upscaleMasks(lowResMasks);
        return returnLogits ? logits : gt(logits, this.model.config.maskThreshold);
      });
      return { masks, iouPredictions, lowResMasks };
    } catch (e) {
      lowResMasks.dispose();
      iouPredictions.dispose();
      throw e;
    }
  }

  /**
   * The prompt encoder and mask decoder only: batched prompts in the input frame → low-res logits [B, C, L, L] and
   * IoU predictions [B, C] (device tensors the caller disposes); {@link upscaleMasks} brings logits to the image.
   */
  predictLowRes(options: Omit<SamPredictTorchOptions, 'returnLogits'>): { lowResMasks: Tensor; iouPredictions: Tensor } {
    const fn = 'SamPredictor.predictLowRes';
    checkKeys(
      fn,
      options,
      TORCH_KEYS.filter((k) => k !== 'returnLogits'),
    );
    return this.decode(fn, options);
  }

  /** Low-res logits [B, C, L, L] → logits [B, C, H, W] of the image set (postprocess_masks with its sizes). */
  upscaleMasks(lowResMasks: Tensor): Tensor {
    if (!this.originalSize || !this.inputSize) throw new Error('SamPredictor.upscaleMasks: no image set; call setImage first');
    return this.model.postprocessMasks(lowResMasks, this.inputSize, this.originalSize);
  }

  private decode(fn: string, options: SamPredictTorchOptions): { lowResMasks: Tensor; iouPredictions: Tensor } {
    const features = this.features;
    const imagePe = this.imagePe;
    if (!features || !imagePe) throw new Error(`${fn}: no image set; call setImage first`);
    const { pointCoords, pointLabels, boxes, maskInput, multimaskOutput = true } = options;
    if ((pointCoords === undefined) !== (pointLabels === undefined))
      throw new ArgumentError(fn, pointCoords === undefined ? 'pointCoords' : 'pointLabels', 'is missing', 'pointCoords and pointLabels together');
    if (typeof multimaskOutput !== 'boolean') throw new ArgumentError(fn, 'multimaskOutput', `is ${String(multimaskOutput)}`, 'a boolean');
    return tidy(() => {
      const { sparse, dense } = this.model.promptEncoder(this.params.prompt_encoder, this.state.prompt_encoder, {
        points: pointCoords && pointLabels ? { coords: pointCoords, labels: pointLabels } : undefined,
        boxes,
        masks: maskInput,
      });
      const { masks, iouPred } = this.model.maskDecoder(this.params.mask_decoder, { imageEmbeddings: features, imagePe, sparse, dense, multimaskOutput });
      return { lowResMasks: masks, iouPredictions: iouPred };
    });
  }
}

function checkPair(fn: string, arg: string, v: readonly number[]): void {
  if (!(Array.isArray(v) && v.length === 2 && v.every((n) => Number.isInteger(n) && n > 0)))
    throw new ArgumentError(fn, arg, `is ${JSON.stringify(v)}`, '[H, W] of positive integers');
}

/** The first tensor in a parameter tree (to put inputs on the parameters' device). */
function firstTensor(t: unknown): Tensor | undefined {
  if (t instanceof Tensor) return t;
  if (t && typeof t === 'object') {
    for (const v of Object.values(t)) {
      const f = firstTensor(v);
      if (f) return f;
    }
  }
  return undefined;
}
