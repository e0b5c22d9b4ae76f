/** The U²-Net names and variants the CLIs accept, and the weights they load (typed against the model's own unions). */
import { init, random } from '../node';
import { u2net, type U2NetModel, type U2NetName, type U2NetVariant } from '../models/u2net/model';
import type { Params, State } from '../nn/module';
import { pretrainedU2netp } from '../sod/node/pretrained';
import { loadInitialWeights } from '../io/load-weights';
import { UsageError } from './args';

export const MODELS = ['u2netp', 'u2net'] as const satisfies readonly U2NetName[];
export const VARIANTS = ['standard', 'grouped', 'separable'] as const satisfies readonly U2NetVariant[];

export interface LoadedU2Net {
  model: U2NetModel;
  params: Params;
  state: State;
  weightsPath: string;
}

/**
 * Opens the default device and builds `model`/`variant` with `weights` (a .safetensors/.pth file, or the
 * pretrained U²-NetP when empty), logging the device; a file that does not fit is a usage error.
 */
export async function openU2Net(
  args: { model: string; variant: string; weights?: string },
  log: (line: string) => void,
  deviceOptions: Parameters<typeof init>[0] = {},
): Promise<LoadedU2Net> {
  const device = await init(deviceOptions);
  log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'WebGPU'}`);
  const model = u2net({ model: args.model as U2NetName, variant: args.variant as U2NetVariant });
  const weightsPath = args.weights || (await pretrainedU2netp({ log }));
  const fresh = model.init(random.key(0));
  try {
    const { params, state } = await loadInitialWeights(weightsPath, fresh.params, fresh.state);
    return { model, params, state, weightsPath };
  } catch (e) {
    throw new UsageError(`cannot load weights: ${String((e as Error).message).split('\n')[0]}`);
  }
}
