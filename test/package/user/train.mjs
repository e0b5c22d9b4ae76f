// A tiny training script run from the installed package: 20 Adam steps on a 2-layer MLP; the loss must fall.
import { init, tensor, matmul, tanh, mean, square, sub, mul, valueAndGrad, tidy, optim, random, randn, memory } from '@webgrad/core/node';

await init();
const [k1, k2, k3] = random.split(random.key(0), 3);
const x = randn(k1, [32, 4]);
const y = tanh(matmul(x, randn(k2, [4, 1])));
let params = { w1: mul(randn(k3, [4, 8]), 0.5), w2: tensor(Array.from({ length: 8 }, (_, i) => [(i % 3) * 0.1 - 0.1])) };
const loss = (p) => mean(square(sub(matmul(tanh(matmul(x, p.w1)), p.w2), y)));
const opt = optim.adam({ lr: 0.05 });
let state = opt.init(params);
const losses = [];
for (let step = 0; step < 20; step++) {
  const r = tidy(() => {
    const [value, grads] = valueAndGrad(loss)(params);
    return { value, ...opt.update(grads, state, params, { donate: true }) };
  });
  ({ params, state } = r);
  losses.push(await r.value.item());
  r.value.dispose();
}
console.log(`loss ${losses[0].toFixed(4)} -> ${losses[19].toFixed(4)}; live tensors ${memory().liveTensors}`);
if (!(losses[19] < 0.5 * losses[0])) { console.error('the loss did not fall'); process.exit(1); }
process.exit(0);
