// The replica of data-parallel.mjs: a linear model with a mean-squared loss, imported by each worker thread.
import { matmul, mean, mul, optim, randn, square, sub } from '@webgrad/core/node';
import { defineReplica } from '@webgrad/core/parallel';

export default defineReplica({
  init: (key) => ({ params: { w: mul(randn(key, [6, 2]), 0.5) }, state: {} }),
  optimizer: () => optim.sgd({ lr: 0.1 }),
  loss: (p, state, batch) => [mean(square(sub(matmul(batch.x, p.w), batch.y))), { state }],
});
