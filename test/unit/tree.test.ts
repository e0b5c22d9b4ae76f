/** Pytrees: flatten order and paths, map over several trees, unflatten, state-dict paths. */
import { describe, it, expect } from 'vitest';
import { tree, tensor, type Tensor } from '../../src/node';
import { stateDict } from '../../src/formats';

describe('tree', () => {
  const nested = { conv: { weight: 1, bias: 2 }, layers: [{ w: 3 }, { w: 4, extra: [5, 6] }], scale: 7 };

  it('flattens in insertion / index order with dotted paths', () => {
    expect(tree.flatten(nested)).toEqual([
      { path: 'conv.weight', value: 1 },
      { path: 'conv.bias', value: 2 },
      { path: 'layers.0.w', value: 3 },
      { path: 'layers.1.w', value: 4 },
      { path: 'layers.1.extra.0', value: 5 },
      { path: 'layers.1.extra.1', value: 6 },
      { path: 'scale', value: 7 },
    ]);
    expect(tree.leaves([1, [2, [3]], {}])).toEqual([1, 2, 3]);
    expect(tree.flatten(5)).toEqual([{ path: '', value: 5 }]);
  });

  it('treats null, undefined, class instances and tensors as leaves', () => {
    class Box {
      v = 1;
    }
    const b = new Box();
    const t = tensor([1, 2]);
    expect(tree.leaves({ a: null, b: undefined, c: b, d: t })).toEqual([null, undefined, b, t]);
    expect(tree.tensors({ a: null, b: [t, 3] })).toEqual([t]);
    t.dispose();
  });

  it('map keeps structure, passes paths and the matching leaves of other trees', () => {
    const other = tree.map(nested, (x: number) => x * 10);
    const seen: string[] = [];
    const out = tree.map(
      nested,
      (x: number, path: string, y: number) => {
        seen.push(path);
        return x + y;
      },
      other,
    );
    expect(out).toEqual({ conv: { weight: 11, bias: 22 }, layers: [{ w: 33 }, { w: 44, extra: [55, 66] }], scale: 77 });
    expect(seen).toEqual(tree.flatten(nested).map((l) => l.path));
    expect(Array.isArray(out.layers)).toBe(true);
  });

  it('unflatten inverts flatten and checks the count', () => {
    const vals = tree.leaves(nested).map((x) => (x as number) * 2);
    expect(tree.unflatten(nested, vals)).toEqual(tree.map(nested, (x: number) => x * 2));
    expect(() => tree.unflatten(nested, [1, 2])).toThrow(/7 leaves; got 2/);
    expect(() => tree.unflatten(nested, new Array(8).fill(0))).toThrow(/7 leaves; got 8/);
  });

  it('stateDict gives PyTorch-style keys for tensor leaves only', () => {
    const w = tensor([1]),
      b = tensor([2]),
      v = tensor([3]);
    const params = { stage1: { rebnconvin: { conv_s1: { weight: w, bias: b } } }, layer1: [{ conv1: { weight: v } }], steps: 3 };
    const sd = stateDict(params);
    expect(Object.keys(sd)).toEqual(['stage1.rebnconvin.conv_s1.weight', 'stage1.rebnconvin.conv_s1.bias', 'layer1.0.conv1.weight']);
    expect(sd['layer1.0.conv1.weight']).toBe(v);
    tree.dispose(params);
    expect([w, b, v].every((t: Tensor) => t.isDisposed)).toBe(true);
  });
});

describe('tree.flatten with isLeaf (the walk behind state_dict keys and checkpoint files)', () => {
  it('walks null-prototype dicts and class instances when isLeaf decides, skips cycles, reports other nodes', () => {
    const dict = Object.create(null) as Record<string, unknown>;
    dict.a = { leaf: 1 };
    dict.b = [{ leaf: 2 }, 'text'];
    dict.self = dict; // a cycle from a hostile pickle must not loop
    const isLeaf = (x: unknown) => typeof x === 'object' && x !== null && 'leaf' in x;
    const flat = tree.flatten(dict, { isLeaf });
    expect(flat.map((l) => l.path)).toEqual(['a', 'b.0', 'b.1']);
    expect(flat.filter((l) => isLeaf(l.value)).map((l) => l.path)).toEqual(['a', 'b.0']);
    // by default only plain objects and arrays are containers
    expect(tree.flatten(dict).map((l) => l.path)).toEqual(['']);
    expect(tree.flatten({ x: [1, 2] }, { prefix: 'm' }).map((l) => l.path)).toEqual(['m.x.0', 'm.x.1']);
  });

  it("stateDict interleaves params and state per module, as PyTorch's state_dict orders them", () => {
    const w = tensor([1]),
      b = tensor([2]),
      rm = tensor([0]),
      w2 = tensor([3]);
    const params = { bn1: { weight: w, bias: b }, fc: { weight: w2 } };
    const state = { bn1: { running_mean: rm } };
    expect(Object.keys(stateDict(params, state))).toEqual(['bn1.weight', 'bn1.bias', 'bn1.running_mean', 'fc.weight']);
    expect(() => stateDict(params, { fc: { weight: rm } })).toThrow(/both hold 'fc.weight'/);
    tree.dispose([params, state]);
  });
});
