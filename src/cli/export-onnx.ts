/**
 * `webgrad export-onnx`: export U²-Net / U²-NetP (any variant) to ONNX for an inference runtime.
 *   webgrad export-onnx --out u2netp.onnx                        # the pretrained U²-NetP
 *   webgrad export-onnx --model u2netp --variant separable --weights runs/u2net/best.safetensors --out small.onnx
 *   webgrad export-onnx --weights model.pth --model u2net --dynamic --out u2net.onnx
 * Weights: a webgrad training checkpoint or any safetensors/.pth state_dict for --model/--variant;
 * empty = the pretrained U²-NetP (fetched once into $WEBGRAD_CACHE or .cache/webgrad); `--random`
 * exports a freshly initialised model. The graph: eval-mode BatchNorm folded into the convs (opset 13),
 * input `input` [N, 3, H, W], outputs d0 (fused) … d6 as probabilities (--logits: logits). The graph
 * runs at any size; --size / --dynamic only set the declared input and output shapes.
 * With --check, onnxruntime-node (CPU; not a dependency of webgrad: install it beside) runs the file
 * once and its d0 is compared with webgrad's.
 */
import { writeFileSync } from 'node:fs';
import { init, random, sigmoid, tensor, tidy, tree } from '../node';
import { u2net, type U2NetName, type U2NetVariant } from '../models/u2net/model';
import { exportU2NetOnnx } from '../sod/onnx-export';
import { pretrainedU2netp } from '../sod/node/pretrained';
import { loadInitialWeights } from '../io/load-weights';
import { parseArgs, UsageError } from './args';
import { checkInputFile, prepareOutFile } from './paths';
import { MODELS, VARIANTS } from './u2net-choices';

const USAGE = 'usage: webgrad export-onnx [options] --out FILE.onnx';
const SPEC = {
  out: { default: '', help: 'the ONNX file to write (required)' },
  model: { default: 'u2netp', help: 'network', choices: MODELS },
  variant: { default: 'standard', help: 'layer variant', choices: VARIANTS },
  weights: { default: '', help: 'checkpoint (.safetensors or .pth); empty = pretrained U²-NetP' },
  random: { default: false, help: 'export a randomly initialised model (no weights)' },
  size: { default: 320, help: 'declared input height and width', int: true, min: 8, max: 8192 },
  dynamic: { default: false, help: 'declare batch, height and width as dynamic' },
  logits: { default: false, help: 'output logits instead of probabilities' },
  check: { default: false, help: 'run the file with onnxruntime-node (installed separately) and compare with webgrad' },
} as const;

type Ort = typeof import('onnxruntime-node');

export async function run(argv: string[]): Promise<number> {
  const args = parseArgs(argv, SPEC, USAGE);
  if (args._.length) throw new UsageError(`unexpected argument '${args._[0]}'`);
  if (!args.out) throw new UsageError('--out FILE.onnx is required');
  if (args.weights && args.random) throw new UsageError('give --weights or --random, not both');
  if (!args.weights && !args.random && (args.model !== 'u2netp' || args.variant !== 'standard')) {
    throw new UsageError('pretrained weights exist only for the standard u2netp; give --weights FILE or --random');
  }
  if (args.weights) checkInputFile('--weights', args.weights);
  prepareOutFile('--out', args.out);
  let ort: Ort | null = null;
  if (args.check) {
    const name = 'onnxruntime-node';
    try {
      ort = (await import(name)) as Ort;
    } catch {
      throw new UsageError('--check needs onnxruntime-node, which is not installed (npm install onnxruntime-node)');
    }
  }

  await init();
  const model = u2net({ model: args.model as U2NetName, variant: args.variant as U2NetVariant });
  const fresh = model.init(random.key(0));
  let params = fresh.params,
    state = fresh.state;
  if (!args.random) {
    const path = args.weights || (await pretrainedU2netp({ log: (l) => console.error(l) }));
    try {
      ({ params, state } = await loadInitialWeights(path, fresh.params, fresh.state));
    } catch (e) {
      throw new UsageError(`cannot load weights: ${String((e as Error).message).split('\n')[0]}`);
    }
    console.error(`weights: ${path}`);
  }
  const dims = args.dynamic ? { height: null, width: null, dynamicBatch: true } : { height: args.size, width: args.size };
  const bytes = await exportU2NetOnnx(model, params, state, { ...dims, outputs: args.logits ? 'logits' : 'sigmoid' });
  writeFileSync(args.out, bytes);
  console.log(
    `wrote ${args.out} (${(bytes.length / 2 ** 20).toFixed(1)} MB): ${args.model} ${args.variant}, opset 13, input 'input' [${args.dynamic ? 'batch, 3, height, width' : `1, 3, ${args.size}, ${args.size}`}], outputs d0 … d6 (${args.logits ? 'logits' : 'probabilities'})`,
  );

  let code = 0;
  if (ort) {
    const S = args.dynamic ? 64 : args.size;
    const x = Float32Array.from({ length: 3 * S * S }, (_, i) => Math.sin(i * 0.37));
    const t = tidy(() => {
      const l = model.apply(params, state, tensor(x, { shape: [1, 3, S, S] }), { training: false }).logits[0];
      return args.logits ? l : sigmoid(l);
    });
    const ours = (await t.data()) as Float32Array;
    t.dispose();
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'] });
    const out = await session.run({ input: new ort.Tensor('float32', x, [1, 3, S, S]) });
    const ref = out.d0.data as Float32Array;
    let max = 0;
    for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ref[i] - ours[i]));
    console.log(`check at ${S}×${S}: onnxruntime-node d0 vs webgrad max |Δ| ${max.toExponential(2)}`);
    if (!(max < 1e-3)) {
      console.error('webgrad export-onnx: the exported model does not match webgrad');
      code = 1;
    }
  }
  tree.dispose([params, state]);
  return code;
}
