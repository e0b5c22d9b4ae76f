/** Errors users read: each names the function, the argument, what it got and what it wanted. */
import { describe, it, expect } from 'vitest';
import {
  tensor,
  add,
  mul,
  sum,
  max,
  argmax,
  reshape,
  neg,
  where,
  cast,
  exp,
  grad,
  valueAndGrad,
  vjp,
  createDevice,
  ArgumentError,
  type Tensor,
} from '../../src/node';

const msg = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  throw new Error('expected an error; none was thrown');
};
const asyncMsg = async (f: () => Promise<unknown>): Promise<string> => {
  try {
    await f();
  } catch (e) {
    return `${(e as Error).name}: ${(e as Error).message}`;
  }
  throw new Error('expected an error; none was thrown');
};

describe('shape errors', () => {
  it('a broadcast failure names both shapes and the clashing dimension', () => {
    const a = tensor([
        [1, 2, 3],
        [4, 5, 6],
      ]),
      b = tensor([1, 2, 3, 4]);
    const m = msg(() => add(a, b));
    expect(m).toMatch(/^ArgumentError: add: /);
    expect(m).toContain('[4]');
    expect(m).toContain('[2, 3]');
    expect(m).toMatch(/dimension -1 to be 3 or 1 \(got 4\)/);
    expect(msg(() => mul(b, a))).toMatch(/mul: .*\[2, 3\].*\[4\]|mul: .*\[4\].*\[2, 3\]/);
    a.dispose();
    b.dispose();
  });

  it('reshape to a different size names both shapes and counts', () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(msg(() => reshape(a, [4, 2]))).toBe(
      "ArgumentError: reshape: argument 'shape' is [4, 2] (8 elements); expected a shape with 6 elements, like the input [2, 3]",
    );
    a.dispose();
  });

  it('ragged nested data names the depth', () => {
    expect(msg(() => tensor([[1, 2], [3]]))).toMatch(/tensor: argument 'data' is ragged at depth 1 \(lengths 2 and 1\)/);
  });
});

describe('dtype errors', () => {
  it('unknown dtypes list the supported ones', () => {
    expect(msg(() => tensor([1], { dtype: 'float64' }))).toBe("TypeError: tensor: dtype must be one of float32, int32, uint32, bool, float16; got 'float64'");
    const a = tensor([1]);
    expect(msg(() => cast(a, 'bfloat16'))).toMatch(/cast: dtype must be one of .*; got 'bfloat16'/);
    a.dispose();
  });

  it('ops refuse dtypes they do not support, naming the dtype', () => {
    const b = tensor([true, false]);
    expect(msg(() => neg(b))).toBe("ArgumentError: neg: argument 'input' has dtype bool; expected a dtype other than bool, uint32");
    b.dispose();
  });

  it('where needs a bool condition (PyTorch)', () => {
    const c = tensor([1, 0]),
      x = tensor([1, 2], { dtype: 'int32' });
    expect(msg(() => where(c, x, x))).toMatch(/^ArgumentError: where: argument 'condition' has dtype float32; expected a bool tensor/);
    c.dispose();
    x.dispose();
  });

  it('grad of an integer-valued function says it needs float32', () => {
    const i = tensor([1, 2], { dtype: 'int32' });
    expect(msg(() => grad((x: Tensor) => sum(x))(i))).toMatch(/valueAndGrad: the function must return a float32 tensor; got int32/);
    i.dispose();
  });
});

describe('axis errors', () => {
  it('an out-of-range dim names the allowed range and the rank', () => {
    const a = tensor([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(msg(() => sum(a, { dim: 2 }))).toBe("ArgumentError: sum: argument 'dim' is 2; expected an integer in [-2, 1] for a tensor of rank 2");
    expect(msg(() => max(a, { dim: -3 }))).toMatch(/max: argument 'dim' is -3; expected an integer in \[-2, 1\]/);
    expect(msg(() => argmax(a, { dim: 5 }))).toMatch(/argmax: argument 'dim' is 5; expected an integer in \[-2, 1\]/);
    expect(msg(() => sum(a, { dim: 0.5 }))).toMatch(/sum: argument 'dim' is 0.5/);
    expect(msg(() => sum(a, { dim: [1, -1] }))).toMatch(/sum: argument 'dim' repeats an axis/);
    a.dispose();
  });
});

describe('lifetime and device errors', () => {
  it('a disposed tensor names itself when used', async () => {
    const d = tensor([1, 2]);
    d.dispose();
    expect(msg(() => add(d, 1))).toBe("ArgumentError: add: argument 'input 0' is a disposed tensor (shape [2]); expected a live tensor");
    expect(msg(() => exp(d))).toMatch(/exp: .*disposed tensor/);
    expect(await asyncMsg(() => d.data())).toMatch(/Tensor#\d+ \(shape \[2\], float32\) was disposed and cannot be used/);
  });

  it('mixing two devices (one adapter) names both', async () => {
    const other = await createDevice({ label: 'second' });
    const a = tensor([1, 2, 3]),
      b = tensor([1, 2, 3], { device: other });
    expect(b.device).toBe(other);
    const m = msg(() => add(a, b));
    expect(m).toMatch(/^ArgumentError: add: argument 'input 1' is on device second; expected the same device as the other inputs \(webgpu:\d+\)/);
    expect([...(await b.data())]).toEqual([1, 2, 3]); // each device still works on its own
    a.dispose();
    b.dispose();
    other.destroy();
  });

  it('item() on a non-scalar gives the element count and shape', async () => {
    const a = tensor([[1, 2, 3]]);
    expect(await asyncMsg(() => a.item())).toBe('Error: item: tensor has 3 elements (shape [1, 3]); expected exactly one');
    a.dispose();
  });

  it('non-tensor operands are described', () => {
    expect(msg(() => add([1, 2] as unknown as Tensor, 1))).toMatch(
      /add: argument 'input 0' is an array \(wrap it with tensor\(\)\); expected a Tensor or a number/,
    );
    expect(msg(() => add(null as unknown as Tensor, 1))).toMatch(/add: argument 'input 0' is null/);
    expect(ArgumentError).toBeDefined();
  });
});

describe('autograd errors', () => {
  it('grad of a non-scalar function says to reduce or use vjp', () => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    expect(msg(() => grad((x: Tensor) => mul(x, 2))(a))).toBe(
      'TypeError: valueAndGrad: the function must return a scalar (one element); got shape [2, 2]. Reduce it (e.g. mean) or use vjp for non-scalar outputs',
    );
    a.dispose();
  });

  it('argnums out of range names the entry and the argument count', () => {
    const a = tensor([1]);
    expect(msg(() => grad((x: Tensor) => sum(x), { argnums: 1 })(a))).toBe('RangeError: valueAndGrad: argnums entry 1 is out of range for 1 arguments');
    expect(msg(() => valueAndGrad((x: Tensor, y: Tensor) => sum(mul(x, y)), { argnums: [0, 2] })(a, a))).toMatch(
      /argnums entry 2 is out of range for 2 arguments/,
    );
    expect(msg(() => grad((x: Tensor) => sum(x), { argnums: -1 })(a))).toMatch(/argnums entry -1 is out of range/);
    a.dispose();
  });

  it('hasAux needs [loss, aux]; vjp needs a cotangent of the output shape', () => {
    const a = tensor([1, 2]);
    expect(msg(() => grad((x: Tensor) => sum(x), { hasAux: true })(a))).toMatch(/with hasAux the function must return \[loss, aux\]/);
    const [y, back] = vjp((x: Tensor) => mul(x, 2), a);
    const wrong = tensor([1, 2, 3]);
    expect(msg(() => back(wrong))).toMatch(/vjp: cotangent must be a Tensor of the output's shape \[2\]; got \[3\]/);
    y.dispose();
    wrong.dispose();
    a.dispose();
  });
});
