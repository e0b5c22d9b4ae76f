/** The few ops the autograd engine itself calls (kept in one place to make the dependency explicit). */
import { defineOp } from './ops/define';
import { view, type Tensor } from './tensor';
export { add } from './ops/elementwise';
export { onesLike, zerosLike } from './ops/creation';
export { sumToShape } from './ops/sum-to-shape';

/** A new handle on the same storage, recorded on the tape with an identity VJP (marks gradient leaves). */
const aliasOp = defineOp({
  name: 'alias',
  inputs: { x: 'tensor' },
  shape: ({ x }) => x,
  produce: ({ x }) => view(x, x.shape),
  reference: ({ x }) => x,
  vjp: ({ dy }) => [dy],
});
export const alias = (x: Tensor) => aliasOp.call1([x], {});
