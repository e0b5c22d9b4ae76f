// A user's file, type-checked against the installed package's declarations (test/package).
import { init, tensor, reshape, matmul, tanh, mean, square, sub, valueAndGrad, tidy, optim, nn, random, memory, type Tensor, type Device } from '@webgrad/core/node';
import { conv2d, GPUOpError } from '@webgrad/core';
import { readImage, saveSafetensors, type RGBAImage } from '@webgrad/core/node';
import { u2net, u2netLoss, resnet, type U2NetModel } from '@webgrad/core/models';
import { parseSafetensors, stateDict, type HostTensor } from '@webgrad/core/formats';
import { sodScores, u2netPreprocess, type SodScores } from '@webgrad/core/sod';
import { boxIou, multiboxPrior, evaluateDetections, type DetectionBatch } from '@webgrad/core/detection';

const device: Device = await init();
const info: GPUAdapterInfo | undefined = device.adapterInfo;
const x: Tensor = tensor([[0.5, -1], [2, 0.25]]);
const y = tensor([[1], [0]]);
let params = { w: tensor([[0.1], [0.2]]) };
const loss = (p: typeof params): Tensor => mean(square(sub(tanh(matmul(x, p.w)), y)));
const opt = optim.adam({ lr: 1e-2 });
let state = opt.init(params);
const r = tidy(() => {
  const [value, grads] = valueAndGrad(loss)(params);
  return { value, ...opt.update(grads, state, params, { donate: true }) };
});
({ params, state } = r);
const v: number = await r.value.item();
const layer = nn.linear({ inFeatures: 2, outFeatures: 3 });
const lp = layer.init(random.key(0));
const img: RGBAImage | null = Math.random() > 2 ? readImage('x.png') : null;
const c = conv2d(tensor([[[[1]]]]), tensor([[[[2]]]]));
const bytes: number = memory().liveBytes;
if (Math.random() > 2) await saveSafetensors('x.safetensors', { w: params.w });
const model: U2NetModel = u2net({ model: 'u2netp' });
const scores: SodScores | null = Math.random() > 2 ? sodScores(new Float32Array(4), new Float32Array(4), 2, 2) : null;
const host: Record<string, HostTensor> | null = Math.random() > 2 ? parseSafetensors(new Uint8Array(8)).tensors : null;
const anchors: Tensor = multiboxPrior(tensor([[[[0]]]]), [0.5], [1]);
const iou: Tensor = boxIou(reshape(anchors, [-1, 4]), reshape(anchors, [-1, 4]));
const batch: DetectionBatch | null = null;
export const used = [anchors, iou, batch, evaluateDetections, info, v, lp, img, c, bytes, GPUOpError, model, u2netLoss, resnet, stateDict, scores, host, u2netPreprocess];
