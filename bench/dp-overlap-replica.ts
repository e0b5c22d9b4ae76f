// The replica of bench/dp-overlap.ts: a 4-layer MLP (512 → 1024 → 1024 → 1024 → 16, 2.6 M parameters, 10 MB of gradients).
import { add, matmul, mean, mul, optim, randn, random, relu, square, sub, type Tensor } from '../src/index';
import { defineReplica } from '../src/parallel';

const dims = [512, 1024, 1024, 1024, 16];
export default defineReplica({
  init(key) {
    const ks = random.split(key, dims.length);
    const params = dims.slice(1).map((d, i) => ({ w: mul(randn(ks[i], [dims[i], d]), 1 / Math.sqrt(dims[i])), b: mul(randn(ks[i + 1], [d]), 0) }));
    return { params, state: {} };
  },
  optimizer: () => optim.adam({ lr: 1e-3 }),
  loss(p: { w: Tensor; b: Tensor }[], state, batch) {
    let h = batch.x;
    p.forEach((l, i) => {
      h = add(matmul(h, l.w), l.b);
      if (i < p.length - 1) h = relu(h);
    });
    return [mean(square(sub(h, batch.y))), { state }];
  },
});
