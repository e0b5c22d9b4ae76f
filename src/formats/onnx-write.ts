/**
 * A minimal ONNX writer: ModelProto → GraphProto → NodeProto / AttributeProto / TensorProto /
 * ValueInfoProto encoded by hand in the protobuf wire format (field numbers from onnx/onnx.proto),
 * the counterpart of `readOnnx`. Tensors are written as raw_data (little-endian), never as external
 * data. Messages are kept as lists of byte chunks until the end, so a 170 MB model is copied once.
 * Runtime-neutral (no `node:` imports).
 *
 * Attribute values: an integer number is an INT, any other number a FLOAT, a string a STRING, an
 * array of integers INTS (an empty array too), an array with a non-integer FLOATS, a string array
 * STRINGS, a HostTensor a TENSOR and a graph a GRAPH. `onnxFloat(x)` / `onnxFloats(xs)` force FLOAT(S)
 * for values that happen to be integers (e.g. `alpha: onnxFloat(1)`).
 */
import { HostTensor, ITEM_SIZE, type HostDType } from './host-tensor';
import type { OnnxGraph } from './onnx';

/** A float attribute whose value may be an integer. */
export interface OnnxFloatAttr {
  readonly float: number;
}
/** A floats attribute whose values may all be integers. */
export interface OnnxFloatsAttr {
  readonly floats: readonly number[];
}
/** Marks a number as a FLOAT attribute (a plain integer number would be written as INT). */
export const onnxFloat = (x: number): OnnxFloatAttr => ({ float: x });
/** Marks a list of numbers as a FLOATS attribute (plain integer lists would be written as INTS). */
export const onnxFloats = (xs: readonly number[]): OnnxFloatsAttr => ({ floats: xs });

/** A node attribute to write: numbers (INT, or FLOAT when not an integer), strings, lists, tensors or graphs. */
export type OnnxWriteAttribute =
  | number
  | string
  | readonly number[]
  | readonly string[]
  | HostTensor
  | OnnxWriteGraph
  | OnnxGraph
  | OnnxFloatAttr
  | OnnxFloatsAttr;

/** One node to write: operator type, input and output names, and attributes. */
export interface OnnxWriteNode {
  /** The operator, e.g. 'Conv' or 'Relu'. */
  opType: string;
  /** Names of the input values ('' for an omitted optional input). */
  inputs: readonly string[];
  /** Names of the output values. */
  outputs: readonly string[];
  /** The node's name (optional in ONNX). */
  name?: string;
  /** Operator set domain (default '', the ONNX standard). */
  domain?: string;
  /** Attributes by name; null or undefined ones are left out. */
  attributes?: Readonly<Record<string, OnnxWriteAttribute | null | undefined>>;
}

/** A graph input or output to declare: name, element type and shape. */
export interface OnnxWriteValueInfo {
  /** The value's name. */
  name: string;
  /** TensorProto.DataType (default 1, float). */
  elemType?: number;
  /** Dimensions: a number is dim_value, a string dim_param, null an unknown dimension; null for no shape. */
  shape?: readonly (number | string | null)[] | null;
}

/** A graph to write: nodes in topological order, initializers, inputs and outputs. */
export interface OnnxWriteGraph {
  /** The graph's name. */
  name?: string;
  /** Nodes in topological order. */
  nodes: readonly OnnxWriteNode[];
  /** By name; a Map or a list of pairs (written in that order). */
  initializers?: ReadonlyMap<string, HostTensor> | readonly (readonly [string, HostTensor])[];
  /** Graph inputs. */
  inputs: readonly OnnxWriteValueInfo[];
  /** Graph outputs. */
  outputs: readonly OnnxWriteValueInfo[];
  /** Free-form documentation. */
  docString?: string;
}

/** A model for {@link writeOnnx}: the graph and the header fields (IR version, opsets, producer). */
export interface OnnxWriteModel {
  /** Default 8 (ONNX 1.10+ runtimes read it; opset 13 needs ir_version 7 or later). */
  irVersion?: number;
  /** The tool that wrote the file. */
  producerName?: string;
  /** Its version. */
  producerVersion?: string;
  /** Free-form documentation. */
  docString?: string;
  /** Default [{ domain: '', version: 13 }]. */
  opsetImport?: readonly { domain: string; version: number }[];
  /** The main graph. */
  graph: OnnxWriteGraph | OnnxGraph;
}

/** TensorProto.DataType of each host dtype. */
export const ONNX_DATA_TYPE: Readonly<Record<HostDType, number>> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int16: 5,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  uint32: 12,
  bfloat16: 16,
};

// ---- wire format -----------------------------------------------------------------------------

const WIRE_VARINT = 0,
  WIRE_LEN = 2,
  WIRE_I32 = 5;
const utf8 = new TextEncoder();

/** A message under construction: byte chunks and their total length. */
class Msg {
  parts: Uint8Array[] = [];
  length = 0;
  private scratch: number[] = [];

  private flush(): void {
    if (!this.scratch.length) return;
    const b = Uint8Array.from(this.scratch);
    this.scratch = [];
    this.parts.push(b);
    this.length += b.length;
  }

  private rawVarint(v: number | bigint): void {
    let x = typeof v === 'bigint' ? BigInt.asUintN(64, v) : v;
    if (typeof x === 'number') {
      if (!Number.isSafeInteger(x)) throw new Error(`onnx write: ${x} is not a safe integer`);
      if (x < 0) x = BigInt.asUintN(64, BigInt(x));
    }
    if (typeof x === 'number') {
      while (x >= 0x80) {
        this.scratch.push((x % 0x80) | 0x80);
        x = Math.floor(x / 0x80);
      }
      this.scratch.push(x);
    } else {
      while (x >= 0x80n) {
        this.scratch.push(Number(x & 0x7fn) | 0x80);
        x >>= 7n;
      }
      this.scratch.push(Number(x));
    }
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(field * 8 + wire);
  }

  varint(field: number, v: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(v);
    return this;
  }

  float(field: number, v: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.scratch.push(...b);
    return this;
  }

  bytes(field: number, b: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(b.length);
    this.flush();
    if (b.length) {
      this.parts.push(b);
      this.length += b.length;
    }
    return this;
  }

  string(field: number, s: string): this {
    return this.bytes(field, utf8.encode(s));
  }

  message(field: number, m: Msg): this {
    m.flush();
    this.tag(field, WIRE_LEN);
    this.rawVarint(m.length);
    this.flush();
    this.parts.push(...m.parts);
    this.length += m.length;
    return this;
  }

  /** Packed repeated varints. */
  packedInts(field: number, vs: readonly (number | bigint)[]): this {
    const inner = new Msg();
    for (const v of vs) inner.rawVarint(v);
    return this.message(field, inner);
  }

  /** Packed repeated float32. */
  packedFloats(field: number, vs: readonly number[]): this {
    const b = new Uint8Array(4 * vs.length),
      dv = new DataView(b.buffer);
    vs.forEach((v, i) => dv.setFloat32(4 * i, v, true));
    return this.bytes(field, b);
  }

  /** All bytes in one array. */
  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  // make flush reachable for nested messages
  static close(m: Msg): Msg {
    m.flush();
    return m;
  }
}

// ---- messages ----------------------------------------------------------------------------------

function tensorMsg(name: string, t: HostTensor): Msg {
  const type = ONNX_DATA_TYPE[t.dtype];
  if (!type) throw new Error(`onnx write: tensor '${name}' has dtype ${t.dtype}, which ONNX has no type for`);
  const m = new Msg();
  if (t.shape.length) m.packedInts(1, t.shape); // dims
  m.varint(2, type); // data_type
  if (name) m.string(8, name);
  const d = t.data;
  if (d.length * ITEM_SIZE[t.dtype] !== d.byteLength)
    throw new Error(`onnx write: tensor '${name}' has ${d.byteLength} bytes for ${d.length} ${t.dtype} elements`);
  // raw_data is little-endian, like every host webgrad runs on
  m.bytes(9, new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
  return m;
}

function valueInfoMsg(v: OnnxWriteValueInfo): Msg {
  const tensorType = new Msg().varint(1, v.elemType ?? 1);
  if (v.shape) {
    const shape = new Msg();
    for (const d of v.shape) {
      const dim = new Msg();
      if (typeof d === 'number') {
        if (!Number.isInteger(d) || d < 0) throw new Error(`onnx write: value '${v.name}' has dimension ${d}; expected a non-negative integer, a name or null`);
        dim.varint(1, d);
      } else if (typeof d === 'string') dim.string(2, d);
      shape.message(1, Msg.close(dim));
    }
    tensorType.message(2, Msg.close(shape));
  }
  const type = new Msg().message(1, Msg.close(tensorType));
  return new Msg().string(1, v.name).message(2, Msg.close(type));
}

const isGraph = (x: unknown): x is OnnxWriteGraph | OnnxGraph =>
  typeof x === 'object' && x !== null && Array.isArray((x as OnnxWriteGraph).nodes) && Array.isArray((x as OnnxWriteGraph).inputs);

function attributeMsg(name: string, v: OnnxWriteAttribute, where: string, depth: number): Msg {
  const m = new Msg().string(1, name);
  // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, FLOATS 6, INTS 7, STRINGS 8
  if (typeof v === 'number') {
    if (Number.isInteger(v)) m.varint(3, v).varint(20, 2);
    else m.float(2, v).varint(20, 1);
  } else if (typeof v === 'string') m.string(4, v).varint(20, 3);
  else if (v instanceof HostTensor) m.message(5, Msg.close(tensorMsg('', v))).varint(20, 4);
  else if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string')) {
      if (v.length === 0) m.varint(20, 7);
      else {
        for (const s of v as string[]) m.string(9, s);
        m.varint(20, 8);
      }
    } else if (v.every((x) => typeof x === 'number')) {
      if ((v as number[]).every(Number.isInteger)) m.packedInts(8, v as number[]).varint(20, 7);
      else m.packedFloats(7, v as number[]).varint(20, 6);
    } else throw new Error(`onnx write: ${where}: attribute '${name}' mixes strings and numbers`);
  } else if (isGraph(v)) m.message(6, Msg.close(graphMsg(v, depth + 1))).varint(20, 5);
  else if (typeof v === 'object' && v !== null && 'float' in v) m.float(2, v.float).varint(20, 1);
  else if (typeof v === 'object' && v !== null && 'floats' in v) m.packedFloats(7, v.floats).varint(20, 6);
  else throw new Error(`onnx write: ${where}: attribute '${name}' has a value ONNX cannot hold (${String(v)})`);
  return m;
}

function nodeMsg(n: OnnxWriteNode, i: number, depth: number): Msg {
  const where = `node ${i} (${n.opType}${n.name ? ` '${n.name}'` : ''})`;
  if (!n.opType) throw new Error(`onnx write: node ${i} has no op type`);
  const m = new Msg();
  for (const s of n.inputs) m.string(1, s);
  for (const s of n.outputs) m.string(2, s);
  if (n.name) m.string(3, n.name);
  m.string(4, n.opType);
  for (const [k, v] of Object.entries(n.attributes ?? {})) {
    if (v === null || v === undefined) continue;
    m.message(5, Msg.close(attributeMsg(k, v, where, depth)));
  }
  if (n.domain) m.string(7, n.domain);
  return m;
}

function graphMsg(g: OnnxWriteGraph | OnnxGraph, depth = 0): Msg {
  if (depth > 32) throw new Error('onnx write: graphs nested deeper than 32');
  const m = new Msg();
  g.nodes.forEach((n, i) => m.message(1, Msg.close(nodeMsg(n as OnnxWriteNode, i, depth))));
  m.string(2, g.name || 'graph');
  const inits = g.initializers
    ? g.initializers instanceof Map
      ? [...g.initializers]
      : [...(g.initializers as readonly (readonly [string, HostTensor])[])]
    : [];
  const seen = new Set<string>();
  for (const [name, t] of inits) {
    if (seen.has(name)) throw new Error(`onnx write: two initializers are named '${name}'`);
    seen.add(name);
    m.message(5, Msg.close(tensorMsg(name, t)));
  }
  if ('docString' in g && g.docString) m.string(10, g.docString);
  for (const v of g.inputs) m.message(11, Msg.close(valueInfoMsg(v)));
  for (const v of g.outputs) m.message(12, Msg.close(valueInfoMsg(v)));
  return m;
}

/** Encodes an ONNX model (ModelProto bytes). */
export function writeOnnx(model: OnnxWriteModel): Uint8Array {
  const m = new Msg();
  m.varint(1, model.irVersion ?? 8);
  m.string(2, model.producerName ?? 'webgrad');
  if (model.producerVersion) m.string(3, model.producerVersion);
  if (model.docString) m.string(6, model.docString);
  m.message(7, Msg.close(graphMsg(model.graph)));
  for (const o of model.opsetImport ?? [{ domain: '', version: 13 }]) {
    const op = new Msg();
    if (o.domain) op.string(1, o.domain);
    op.varint(2, o.version);
    m.message(8, Msg.close(op));
  }
  return m.finish();
}
