/**
 * The `webgrad` command's dispatcher (the bin is src/cli/bin.ts, built to dist/cli.js): `webgrad <command> [options]`.
 * Commands are loaded on demand, so `webgrad --help` starts no WebGPU device. A bad command line is
 * one line on stderr and exit code 2; a run that fails is one line and exit code 1 (WEBGRAD_DEBUG=1
 * prints the stack trace too).
 */
import { readFileSync } from 'node:fs';
import { HelpShown, UsageError } from './args';

interface Command {
  run(argv: string[]): Promise<number>;
}

const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  'remove-bg': { summary: 'cut the background out of photos with U²-NetP (pretrained or your weights)', load: () => import('./remove-bg') },
  'train-u2net': { summary: 'train U²-Net / U²-NetP (synthetic set or a DUTS-style folder)', load: () => import('./train-u2net') },
  'eval-u2net': { summary: 'score U²-Net weights on a DUTS-style folder (IoU, MAE, max/mean F, S, E, weighted F)', load: () => import('./eval-u2net') },
  'evaluate-sod': { summary: 'score saved saliency maps against masks (MAE, S, wF, max/mean/adp F and E; PR plots)', load: () => import('./evaluate-sod') },
  'export-onnx': { summary: 'export U²-Net / U²-NetP to ONNX (opset 13)', load: () => import('./export-onnx') },
  'train-ssd': { summary: "train d2l's TinySSD detector on the built-in synthetic set (held-out mAP@0.5, panels)", load: () => import('./train-ssd') },
  classify: { summary: 'top-5 ImageNet classes of photos with the pretrained ResNet-50 (Keras weights)', load: () => import('./classify') },
  'train-segmentation': {
    summary: "train d2l's FCN (ImageNet ResNet-50) on Cityscapes or synthetic street scenes (val mIoU, panels)",
    load: () => import('./train-segmentation'),
  },
  sam: { summary: 'Segment Anything on an image: masks from point/box prompts or --auto, mask PNGs and an overlay', load: () => import('./sam') },
  devices: { summary: 'list the WebGPU adapters (index, name, backend, limits, features) that --devices can pick', load: () => import('./devices') },
};

function version(): string {
  // dist/cli.js and src/cli/main.ts sit one and two folders below package.json
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (pkg.name === '@webgrad/core') return pkg.version;
    } catch {
      /* try the next */
    }
  }
  return 'unknown';
}

function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: webgrad <command> [options]      (webgrad <command> --help for its options)',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(width)}  ${c.summary}`),
    '',
    'Run with Node ≥ 20; WebGPU comes from the `webgpu` package (Dawn). Without a GPU, install a',
    "Vulkan CPU driver (Mesa's lavapipe: apt install mesa-vulkan-drivers).",
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help']);
    if (name === undefined) {
      console.error(help());
      return 2;
    }
    console.log(help());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    console.log(version());
    return 0;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    console.error(`webgrad: unknown command '${name}'; commands: ${Object.keys(COMMANDS).join(', ')} (webgrad --help)`);
    return 2;
  }
  try {
    return await (await entry.load()).run(rest);
  } catch (e) {
    if (e instanceof HelpShown) return 0;
    if (e instanceof UsageError) {
      console.error(`webgrad ${name}: ${e.message} (webgrad ${name} --help)`);
      return 2;
    }
    const msg = String((e as Error)?.message ?? e).split('\n')[0];
    console.error(`webgrad ${name}: ${msg}`);
    if (process.env.WEBGRAD_DEBUG) console.error(e);
    return 1;
  }
}
