/**
 * Does pretraining help? A minutes-long transfer-learning demonstration on real data that ships as a
 * Debian package:
 *
 *   sudo apt-get install dataset-fashion-mnist        # gzipped IDX files in /usr/share/datasets/fashion-mnist
 *   npm run demo:resnet-transfer [-- --per-class 5 --reuse-pretrain]
 *
 * 1. Writes Fashion-MNIST as image folders (PNG, class per sub-folder, train/ and val/):
 *    source = classes 0–4 (T-shirt/top, Trouser, Pullover, Dress, Coat), `--source-per-class` train images each;
 *    target = classes 5–9 (Sandal, Shirt, Sneaker, Bag, Ankle boot), only `--per-class` labelled images each.
 *    Validation images come from the official test set (t10k).
 * 2. Pretrains a width-reduced ResNet-18 (planes 16,32,64,128; torchvision's structure and keys) on source.
 * 3. On target: fine-tunes from the source checkpoint (phase 1 frozen backbone, phase 2 all layers with the
 *    head at ×10) and, for comparison, trains the same network from scratch for the same number of epochs.
 *    Both arms get the same number of learning rates to try (`--ft-lr`, `--scratch-lr`: comma lists), so
 *    neither wins by being the only one tuned; the demo prints every run and each arm's best.
 * 4. With --imagenet-lr, a third arm: Keras's ImageNet ResNet-50 (`--pretrained imagenet`, fetched once) fine-tuned
 *    the same way (its own normalisation; the images are grey, repeated into RGB as for the other arms).
 * Each run is examples/finetune-resnet.ts with a fixed seed: the same command gives the same numbers on the
 * same machine (data order, initialisation and augmentation all come from --seed; no kernel is chosen by timing
 * at these sizes). Measured figures, with their commands, are in the README.
 */
import { readFileSync, writeFileSync, mkdirSync, existsSync, rmSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { encodePng } from '../src/io/images';
import { parseArgsOrExit } from '../src/cli/args';

const args = parseArgsOrExit(
  process.argv.slice(2),
  {
    fmnist: { default: '/usr/share/datasets/fashion-mnist', help: 'folder with the Fashion-MNIST *-idx?-ubyte.gz files' },
    out: { default: 'runs/resnet-demo', help: 'working folder (data and runs)' },
    'source-per-class': { default: 400, help: 'pretraining images per source class' },
    'per-class': { default: 20, help: 'labelled images per target class' },
    'val-per-class': { default: 100, help: 'validation images per class (from the test set)' },
    'pretrain-epochs': { default: 4, help: 'pretraining epochs' },
    'frozen-epochs': { default: 2, help: 'fine-tuning phase 1 epochs' },
    epochs: { default: 8, help: 'fine-tuning phase 2 epochs (scratch gets frozen-epochs + epochs)' },
    planes: { default: '16,32,64,128', help: 'ResNet-18 stage widths' },
    seed: { default: 0, help: 'seed' },
    'reuse-pretrain': { default: false, help: 'skip pretraining when OUT/pretrain-source/summary.json exists' },
    'ft-lr': { default: '0.001,0.003', help: 'fine-tuning: backbone lr(s) in phase 2, comma-separated, one run each (head ×10; phase 1 head lr = 10 × this)' },
    'scratch-lr': { default: '0.02,0.005', help: 'from-scratch lr(s), comma-separated, one run each' },
    'imagenet-lr': { default: '', help: 'ImageNet ResNet-50 arm: backbone lr(s) in phase 2, comma-separated (empty = no such arm)' },
    'imagenet-size': { default: 32, help: 'ImageNet arm: input size (the others run at 32)' },
  },
  'usage: resnet-transfer-demo [options]',
  'resnet-transfer-demo',
);

/** A comma list of positive learning rates, e.g. '0.02,0.005'. */
function lrList(name: string, raw: string | number): number[] {
  const xs = String(raw)
    .split(',')
    .map((t) => Number(t.trim()));
  if (!xs.length || xs.some((x) => !(Number.isFinite(x) && x > 0))) {
    console.error(`resnet-transfer-demo: --${name} must be positive numbers separated by commas; got '${raw}'`);
    process.exit(2);
  }
  return xs;
}
const ftLrs = lrList('ft-lr', args['ft-lr']),
  scratchLrs = lrList('scratch-lr', args['scratch-lr']),
  imagenetLrs = args['imagenet-lr'] === '' ? [] : lrList('imagenet-lr', args['imagenet-lr']);

const NAMES = ['T-shirt_top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle_boot'];

/** IDX (LeCun's format): big-endian magic 0x0000 08 ndim, ndim u32 sizes, then u8 data. */
function readIdx(path: string): { shape: number[]; data: Uint8Array } {
  if (!existsSync(path)) throw new Error(`${path} not found: install it with 'sudo apt-get install dataset-fashion-mnist' or pass --fmnist DIR`);
  const b = gunzipSync(readFileSync(path));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const magic = dv.getUint32(0);
  if (magic >> 8 !== 0x08) throw new Error(`${path}: not an unsigned-byte IDX file (magic 0x${magic.toString(16)})`);
  const ndim = magic & 0xff;
  const shape = Array.from({ length: ndim }, (_, i) => dv.getUint32(4 + 4 * i));
  const data = b.subarray(4 + 4 * ndim);
  if (data.length !== shape.reduce((x, y) => x * y, 1)) throw new Error(`${path}: ${data.length} bytes for shape [${shape}]`);
  return { shape, data };
}

function writeFolder(dir: string, images: { shape: number[]; data: Uint8Array }, labels: Uint8Array, classes: number[], perClass: number) {
  const [, h, w] = images.shape;
  const taken = new Map<number, number>(classes.map((c) => [c, 0]));
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i];
    if (!taken.has(c) || taken.get(c)! >= perClass) continue;
    const d = join(dir, NAMES[c]);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, `${String(i).padStart(5, '0')}.png`), encodePng(images.data.subarray(i * h * w, (i + 1) * h * w), w, h, 1));
    taken.set(c, taken.get(c)! + 1);
  }
}

const data = join(args.out, 'data');
rmSync(args['reuse-pretrain'] ? join(data, 'target') : data, { recursive: true, force: true });
const tr = readIdx(join(args.fmnist, 'train-images-idx3-ubyte.gz')),
  trl = readIdx(join(args.fmnist, 'train-labels-idx1-ubyte.gz')).data;
const te = readIdx(join(args.fmnist, 't10k-images-idx3-ubyte.gz')),
  tel = readIdx(join(args.fmnist, 't10k-labels-idx1-ubyte.gz')).data;
const SRC = [0, 1, 2, 3, 4],
  TGT = [5, 6, 7, 8, 9];
writeFolder(join(data, 'source/train'), tr, trl, SRC, args['source-per-class']);
writeFolder(join(data, 'source/val'), te, tel, SRC, args['val-per-class']);
writeFolder(join(data, 'target/train'), tr, trl, TGT, args['per-class']);
writeFolder(join(data, 'target/val'), te, tel, TGT, args['val-per-class']);
console.log(
  `wrote Fashion-MNIST folders under ${data}: source ${SRC.length}×${args['source-per-class']} train, target ${TGT.length}×${args['per-class']} train, ${args['val-per-class']} val per class`,
);

/** Options of every run but the ImageNet arm's (which brings its own widths and normalisation). */
const small = ['--planes', args.planes, '--mean', '0.286,0.286,0.286', '--std', '0.353,0.353,0.353', '--size', '32', '--resize', '32'];
const common = [
  '--crop-scale',
  '0.5,1',
  '--rotate',
  '10',
  '--jitter',
  '0.2',
  '--grayscale',
  '0',
  '--seed',
  String(args.seed),
  '--step-size',
  '100',
  // the README's figures were measured with host augmentation (its own random stream); the GPU path draws differently
  '--augment-on',
  'host',
];
/** What examples/finetune-resnet.ts writes to OUT/summary.json (the parts used here). */
type Summary = { best: { top1: number; top5: number; epoch: number }; seconds: number; history: { valTop1: number }[] };
function run(name: string, extra: string[], base = small): Summary {
  const out = join(args.out, name);
  console.log(`\n== ${name} ==`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'examples/finetune-resnet.ts', ...base, ...common, '--out', out, ...extra], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${name}: finetune-resnet exited with ${r.status}`);
  return JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
}

const reuse = args['reuse-pretrain'] && existsSync(join(args.out, 'pretrain-source/summary.json'));
const pre = reuse
  ? JSON.parse(readFileSync(join(args.out, 'pretrain-source/summary.json'), 'utf8'))
  : run('pretrain-source', ['--data', join(data, 'source'), '--epochs', String(args['pretrain-epochs']), '--batch', '64', '--lr', '0.02']);
const total = args['frozen-epochs'] + args.epochs;
const batch = '16';
/** The fine-tuning arguments both pretrained arms share: frozen epochs, then all layers with the head at ×10. */
const finetuneArgs = (lr: number) => [
  '--data',
  join(data, 'target'),
  '--frozen-epochs',
  String(args['frozen-epochs']),
  '--epochs',
  String(args.epochs),
  '--batch',
  batch,
  '--lr',
  String(lr),
  '--head-lr-scale',
  '10',
];
const fts = ftLrs.map((lr): [number, Summary] => [
  lr,
  run(`finetune-target-lr${lr}`, [...finetuneArgs(lr), '--init', join(args.out, 'pretrain-source/best.safetensors')]),
]);
const scs = scratchLrs.map((lr): [number, Summary] => [
  lr,
  run(`scratch-target-lr${lr}`, ['--data', join(data, 'target'), '--epochs', String(total), '--batch', batch, '--lr', String(lr)]),
]);

const S = String(args['imagenet-size']);
const ims = imagenetLrs.map((lr): [number, Summary] => [
  lr,
  run(`imagenet-target-lr${lr}`, [...finetuneArgs(lr), '--pretrained', 'imagenet'], ['--size', S, '--resize', S]),
]);

const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
const last = (r: Summary) => r.history[r.history.length - 1].valTop1;
const bestOf = (runs: [number, Summary][]) => runs.reduce((a, b) => (b[1].best.top1 > a[1].best.top1 ? b : a));
console.log(`\nsource pretraining (${SRC.length} classes × ${args['source-per-class']}): val top1 ${pct(pre.best.top1)} in ${pre.seconds.toFixed(0)} s`);
console.log(`target (${TGT.length} classes × ${args['per-class']} labelled, ${TGT.length * args['val-per-class']} val), ${total} epochs each:`);
for (const [arm, runs] of [
  ['fine-tuned from source', fts],
  ['from scratch', scs],
  ['ImageNet ResNet-50', ims],
] as const) {
  // the best epoch is chosen on the validation images it is reported on; the last epoch is not chosen at all
  for (const [lr, r] of runs)
    console.log(
      `  ${arm.padEnd(22)} lr ${String(lr).padEnd(6)} best val top1 ${pct(r.best.top1)} (epoch ${r.best.epoch}), last epoch ${pct(last(r))}, ${r.seconds.toFixed(0)} s`,
    );
}
const [ftLr, ft] = bestOf(fts),
  [scLr, sc] = bestOf(scs);
console.log(`best of each: fine-tuned ${pct(ft.best.top1)} (lr ${ftLr}) vs from scratch ${pct(sc.best.top1)} (lr ${scLr})`);
if (ims.length) {
  const [imLr, im] = bestOf(ims);
  console.log(`ImageNet ResNet-50 fine-tuned: ${pct(im.best.top1)} (lr ${imLr})`);
}
writeFileSync(
  join(args.out, 'demo-summary.json'),
  `${JSON.stringify(
    {
      pretrain: { ...pre.best, seconds: pre.seconds },
      finetune: fts.map(([lr, r]) => ({ lr, ...r.best, lastTop1: last(r), seconds: r.seconds })),
      scratch: scs.map(([lr, r]) => ({ lr, ...r.best, lastTop1: last(r), seconds: r.seconds })),
      imagenet: ims.map(([lr, r]) => ({ lr, ...r.best, lastTop1: last(r), seconds: r.seconds })),
      args,
    },
    null,
    2,
  )}\n`,
);
