/**
 * A reader for TensorFlow.js Layers models (`model.json` + binary weight shards), as the tfjs-converter
 * writes them: the Keras topology (layers with their class, config and inbound layers) and the weights
 * manifest, whose groups concatenate their weights' little-endian bytes across the group's shards in
 * manifest order. Only float32 and int32 weights are read; quantised or other dtypes are refused with the
 * weight's name. Sizes are checked against the bytes given, so a malformed file ends in a
 * {@link TfjsLayersError}, never an out-of-range read. No `node:` imports.
 */
import { HostTensor } from './host-tensor';

/** A malformed or unsupported TF.js Layers model. */
export class TfjsLayersError extends Error {
  override name = 'TfjsLayersError';
}

/** One Keras layer of the topology. */
export interface TfjsLayer {
  /** Layer name (e.g. `res2a_branch2a`). */
  name: string;
  /** Keras class (e.g. `Conv2D`, `BatchNormalization`). */
  className: string;
  /** The layer's Keras config as written (filters, strides, epsilon, …). */
  config: Record<string, unknown>;
  /** Names of the layers feeding it (first inbound node). */
  inbound: string[];
}

/** One entry of the weights manifest. */
export interface TfjsWeightSpec {
  /** Weight name (e.g. `res2a_branch2a/kernel`). */
  name: string;
  /** Shape as stored (Keras layout: conv kernels HWIO, dense kernels [in, out]). */
  shape: number[];
  /** Element type. */
  dtype: string;
  /** Present when the converter quantised the weight (not supported here). */
  quantization?: { dtype: string };
}

/** A weights-manifest group: the shard files and the weights they hold, concatenated. */
export interface TfjsWeightGroup {
  /** Shard file names, relative to model.json, in order. */
  paths: string[];
  /** The weights, in byte order. */
  weights: TfjsWeightSpec[];
}

/** A parsed `model.json` of format `layers-model`. */
export interface TfjsLayersModel {
  /** `layers-model`. */
  format: string;
  /** What wrote the Keras model (e.g. `keras v2.2.4-tf`). */
  generatedBy?: string;
  /** The converter version. */
  convertedBy?: string;
  /** Model name from the topology. */
  name: string;
  /** The layers in topology order. */
  layers: TfjsLayer[];
  /** The weights manifest. */
  weightsManifest: TfjsWeightGroup[];
}

const MAX_JSON_BYTES = 64 << 20;
const MAX_LAYERS = 100_000;
const ITEM: Record<string, number> = { float32: 4, int32: 4 };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses `model.json` (text, bytes or an already-parsed object): topology and weights manifest, checked. */
export function parseTfjsLayersModel(json: string | Uint8Array | unknown): TfjsLayersModel {
  let obj: unknown = json;
  if (json instanceof Uint8Array || typeof json === 'string') {
    const size = typeof json === 'string' ? json.length : json.byteLength;
    if (size > MAX_JSON_BYTES) throw new TfjsLayersError(`model.json is ${size} bytes; at most ${MAX_JSON_BYTES} accepted`);
    const text = typeof json === 'string' ? json : new TextDecoder().decode(json);
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new TfjsLayersError(`model.json is not JSON: ${(e as Error).message}`);
    }
  }
  if (!isObj(obj)) throw new TfjsLayersError('model.json: expected a JSON object');
  const format = obj.format ?? 'layers-model';
  if (format !== 'layers-model')
    throw new TfjsLayersError(`model.json: format is '${String(format)}'; expected 'layers-model' (a graph model is not a Keras topology)`);
  const topo = obj.modelTopology;
  if (!isObj(topo)) throw new TfjsLayersError('model.json: no modelTopology object');
  // Keras writes { model_config: { class_name, config } } (older converters put class_name at the top)
  const mc = isObj(topo.model_config) ? topo.model_config : topo;
  const cfg = mc.config;
  if (!isObj(cfg) || !Array.isArray(cfg.layers)) throw new TfjsLayersError(`model.json: modelTopology has no layer list (class ${String(mc.class_name)})`);
  if (cfg.layers.length > MAX_LAYERS) throw new TfjsLayersError(`model.json: ${cfg.layers.length} layers; at most ${MAX_LAYERS} accepted`);
  const layers = cfg.layers.map((l: unknown, i: number): TfjsLayer => {
    if (!isObj(l) || !isObj(l.config)) throw new TfjsLayersError(`model.json: layer ${i} is not an object with a config`);
    const name = String(l.name ?? l.config.name);
    const nodes = Array.isArray(l.inbound_nodes) ? l.inbound_nodes : [];
    const first = Array.isArray(nodes[0]) ? (nodes[0] as unknown[]) : [];
    return { name, className: String(l.class_name), config: l.config, inbound: first.map((n) => String(Array.isArray(n) ? n[0] : n)) };
  });
  const manifest = obj.weightsManifest;
  if (!Array.isArray(manifest)) throw new TfjsLayersError('model.json: no weightsManifest array');
  const weightsManifest = manifest.map((g: unknown, gi: number): TfjsWeightGroup => {
    if (!isObj(g) || !Array.isArray(g.paths) || !Array.isArray(g.weights))
      throw new TfjsLayersError(`model.json: weightsManifest[${gi}] needs paths and weights arrays`);
    const weights = g.weights.map((w: unknown, wi: number): TfjsWeightSpec => {
      if (!isObj(w) || typeof w.name !== 'string' || !Array.isArray(w.shape) || typeof w.dtype !== 'string')
        throw new TfjsLayersError(`model.json: weightsManifest[${gi}].weights[${wi}] needs name, shape and dtype`);
      const shape = w.shape as unknown[];
      if (!shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
        throw new TfjsLayersError(`model.json: weight ${w.name} has shape ${JSON.stringify(shape)}; expected non-negative integers`);
      return {
        name: w.name,
        shape: shape as number[],
        dtype: w.dtype,
        ...(isObj(w.quantization) ? { quantization: { dtype: String(w.quantization.dtype) } } : {}),
      };
    });
    return { paths: g.paths.map(String), weights };
  });
  return {
    format: 'layers-model',
    generatedBy: typeof obj.generatedBy === 'string' ? obj.generatedBy : undefined,
    convertedBy: typeof obj.convertedBy === 'string' ? obj.convertedBy : undefined,
    name: String(cfg.name ?? ''),
    layers,
    weightsManifest,
  };
}

/**
 * The weights of a parsed model as host tensors by manifest name (`layer/kernel`, `layer/bias`, …), reading each
 * group's shards through `shard(path)` (the file name as written in the manifest). Every byte of every group must be
 * accounted for: a short or long shard set is an error.
 */
export function readTfjsLayersWeights(model: TfjsLayersModel, shard: (path: string) => Uint8Array): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const group of model.weightsManifest) {
    const parts = group.paths.map((p) => {
      const b = shard(p);
      if (!(b instanceof Uint8Array)) throw new TfjsLayersError(`weight shard ${p}: not given`);
      return b;
    });
    const total = parts.reduce((a, b) => a + b.byteLength, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const b of parts) {
      bytes.set(b, at);
      at += b.byteLength;
    }
    let offset = 0;
    for (const w of group.weights) {
      if (w.quantization)
        throw new TfjsLayersError(`weight ${w.name}: quantised (${w.quantization.dtype}) weights are not supported; convert without quantisation`);
      const item = ITEM[w.dtype];
      if (!item) throw new TfjsLayersError(`weight ${w.name}: dtype '${w.dtype}' is not supported; expected float32 or int32`);
      const size = w.shape.reduce((a, b) => a * b, 1);
      const n = size * item;
      if (offset + n > total)
        throw new TfjsLayersError(`weight ${w.name} [${w.shape.join(', ')}] needs bytes ${offset}..${offset + n}; the shards of its group hold ${total}`);
      if (out.has(w.name)) throw new TfjsLayersError(`weight ${w.name} appears twice in the manifest`);
      const copy = bytes.slice(offset, offset + n).buffer; // aligned, little-endian as written
      out.set(w.name, new HostTensor(w.dtype as 'float32' | 'int32', w.shape, w.dtype === 'float32' ? new Float32Array(copy) : new Int32Array(copy)));
      offset += n;
    }
    if (offset !== total)
      throw new TfjsLayersError(`weights group [${group.paths.join(', ')}]: the manifest accounts for ${offset} bytes; the shards hold ${total}`);
  }
  return out;
}
