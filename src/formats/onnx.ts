/**
 * A minimal ONNX reader: the protobuf wire format parsed by hand (varints and length-delimited
 * fields), enough of ModelProto → GraphProto to read a network's nodes (op type, inputs, outputs,
 * attributes) and its initializers as HostTensors. Field numbers follow onnx/onnx.proto.
 * Runtime-neutral (no `node:` imports). Every loop advances through a byte range that is checked
 * against the input, so malformed files end in an OnnxError, never a hang or an out-of-range read.
 * Tensors stored as external data are not supported.
 */
import { HostTensor, ITEM_SIZE, type HostDType } from './host-tensor';

/** Thrown by {@link readOnnx} for a malformed or unsupported ONNX file. */
export class OnnxError extends Error {
  /** The error's class name. */
  override name = 'OnnxError';
}

/** A graph input or output as the file declares it: name, element type and shape. */
export interface OnnxValueInfo {
  /** The value's name. */
  name: string;
  /** TensorProto.DataType of a tensor value (0 when not given). */
  elemType: number;
  /** Dimensions; a symbolic or missing dimension is its name or null. */
  shape: (number | string | null)[] | null;
}

/** A node attribute's value as read: a number, string, list, tensor or subgraph. */
export type OnnxAttributeValue = number | string | number[] | string[] | HostTensor | OnnxGraph | null;

/** One node of an ONNX graph: its operator, inputs, outputs and attributes. */
export interface OnnxNode {
  /** The node's name (may be empty). */
  name: string;
  /** The operator, e.g. 'Conv'. */
  opType: string;
  /** Operator set domain ('' for the ONNX standard). */
  domain: string;
  /** Names of the input values. */
  inputs: string[];
  /** Names of the output values. */
  outputs: string[];
  /** Attributes by name. */
  attributes: Record<string, OnnxAttributeValue>;
}

/** An ONNX graph as read: nodes in file order, initializers, inputs and outputs. */
export interface OnnxGraph {
  /** The graph's name. */
  name: string;
  /** Nodes in file order. */
  nodes: OnnxNode[];
  /** Initializers in file order, by name. */
  initializers: Map<string, HostTensor>;
  /** Graph inputs. */
  inputs: OnnxValueInfo[];
  /** Graph outputs. */
  outputs: OnnxValueInfo[];
}

/** An ONNX model as {@link readOnnx} returns it: versions, opsets and the main graph. */
export interface OnnxModel {
  /** The ONNX IR version. */
  irVersion: number;
  /** The tool that wrote the file. */
  producerName: string;
  /** Its version. */
  producerVersion: string;
  /** Operator sets used, by domain. */
  opsetImport: { domain: string; version: number }[];
  /** The main graph. */
  graph: OnnxGraph;
}

// ---- wire format -----------------------------------------------------------------------------

const WIRE_VARINT = 0,
  WIRE_I64 = 1,
  WIRE_LEN = 2,
  WIRE_I32 = 5;
const MAX_DEPTH = 32;

class Reader {
  constructor(
    readonly b: Uint8Array,
    public pos: number,
    readonly end: number,
    readonly what: string,
  ) {}

  fail(msg: string): never {
    throw new OnnxError(`onnx: ${this.what}: ${msg} (at byte ${this.pos})`);
  }

  /** A varint as a bigint (up to 10 bytes, 64 bits). */
  varint64(): bigint {
    let lo = 0,
      hi = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) this.fail('truncated varint');
      const c = this.b[this.pos++];
      const bits = c & 0x7f;
      if (i < 4) lo |= bits << (7 * i);
      else if (i === 4) {
        lo |= (bits & 0x0f) << 28;
        hi |= bits >> 4;
      } else hi |= bits << (7 * i - 32);
      if (!(c & 0x80)) return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
    }
    return this.fail('varint longer than 10 bytes');
  }

  /** A varint int64 (two's complement) as a safe-integer number. */
  int(): number {
    const v = BigInt.asIntN(64, this.varint64());
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) this.fail(`integer ${v} is outside the safe range`);
    return Number(v);
  }

  bytes(): Uint8Array {
    const n = this.int();
    if (n < 0 || n > this.end - this.pos) this.fail(`length ${n} runs past the end of the enclosing message (${this.end - this.pos} bytes left)`);
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  string(): string {
    return new TextDecoder('utf-8').decode(this.bytes());
  }

  /** A sub-reader over a length-delimited field. */
  message(what: string): Reader {
    const n = this.int();
    if (n < 0 || n > this.end - this.pos) this.fail(`${what} of ${n} bytes runs past the end of the enclosing message (${this.end - this.pos} bytes left)`);
    const r = new Reader(this.b, this.pos, this.pos + n, `${this.what} > ${what}`);
    this.pos += n;
    return r;
  }

  f32(): number {
    if (this.end - this.pos < 4) this.fail('truncated float');
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 4).getFloat32(0, true);
    this.pos += 4;
    return v;
  }

  /** The next field's number and wire type, or null at the end. */
  tag(): { field: number; wire: number } | null {
    if (this.pos >= this.end) return null;
    const t = this.int();
    const field = Math.floor(t / 8),
      wire = t & 7;
    if (field < 1) this.fail(`invalid field number ${field}`);
    return { field, wire };
  }

  skip(wire: number): void {
    if (wire === WIRE_VARINT) this.varint64();
    else if (wire === WIRE_I64) {
      if (this.end - this.pos < 8) this.fail('truncated fixed64');
      this.pos += 8;
    } else if (wire === WIRE_LEN) this.bytes();
    else if (wire === WIRE_I32) {
      if (this.end - this.pos < 4) this.fail('truncated fixed32');
      this.pos += 4;
    } else this.fail(`unsupported wire type ${wire}`);
  }

  expect(wire: number, want: number, field: string): void {
    if (wire !== want) this.fail(`field '${field}' has wire type ${wire}; expected ${want}`);
  }

  /** A repeated int64 field, packed or not; appends to `out`. */
  ints(wire: number, out: number[], field: string): void {
    if (wire === WIRE_LEN) {
      const r = this.message(field);
      while (r.pos < r.end) out.push(r.int());
    } else {
      this.expect(wire, WIRE_VARINT, field);
      out.push(this.int());
    }
  }

  /** A repeated float field, packed or not; appends to `out`. */
  floats(wire: number, out: number[], field: string): void {
    if (wire === WIRE_LEN) {
      const r = this.message(field);
      if ((r.end - r.pos) % 4) r.fail(`packed '${field}' has ${r.end - r.pos} bytes, not a multiple of 4`);
      while (r.pos < r.end) out.push(r.f32());
    } else {
      this.expect(wire, WIRE_I32, field);
      out.push(this.f32());
    }
  }
}

// ---- TensorProto -----------------------------------------------------------------------------

/** TensorProto.DataType → host dtype (the types a HostTensor can hold). */
const DATA_TYPES: Record<number, HostDType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  16: 'bfloat16',
};

function typedFromBytes(dtype: HostDType, raw: Uint8Array) {
  // an aligned copy (a Node Buffer's slice() would share the file's memory); ONNX raw_data is
  // little-endian, like every host webgrad runs on
  const copy = new Uint8Array(raw.length);
  copy.set(raw);
  const buf = copy.buffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(buf);
    case 'float64':
      return new Float64Array(buf);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(buf);
    case 'int64':
      return new BigInt64Array(buf);
    case 'int32':
      return new Int32Array(buf);
    case 'uint32':
      return new Uint32Array(buf);
    case 'int16':
      return new Int16Array(buf);
    case 'int8':
      return new Int8Array(buf);
    default:
      return copy; // uint8, bool
  }
}

function readTensor(r: Reader): { name: string; tensor: HostTensor } {
  const dims: number[] = [];
  let dataType = 0,
    name = '',
    raw: Uint8Array | null = null,
    location = 0;
  const floatData: number[] = [],
    int32Data: number[] = [],
    int64Data: number[] = [],
    doubleData: number[] = [];
  for (let t = r.tag(); t; t = r.tag()) {
    switch (t.field) {
      case 1:
        r.ints(t.wire, dims, 'dims');
        break;
      case 2:
        r.expect(t.wire, WIRE_VARINT, 'data_type');
        dataType = r.int();
        break;
      case 4:
        r.floats(t.wire, floatData, 'float_data');
        break;
      case 5:
        r.ints(t.wire, int32Data, 'int32_data');
        break;
      case 7:
        r.ints(t.wire, int64Data, 'int64_data');
        break;
      case 8:
        r.expect(t.wire, WIRE_LEN, 'name');
        name = r.string();
        break;
      case 9:
        r.expect(t.wire, WIRE_LEN, 'raw_data');
        raw = r.bytes();
        break;
      case 10:
        if (t.wire === WIRE_LEN) {
          const s = r.message('double_data');
          if ((s.end - s.pos) % 8) s.fail('packed double_data is not a multiple of 8 bytes');
          for (; s.pos < s.end; s.pos += 8) doubleData.push(new DataView(s.b.buffer, s.b.byteOffset + s.pos, 8).getFloat64(0, true));
        } else r.skip(t.wire);
        break;
      case 14:
        r.expect(t.wire, WIRE_VARINT, 'data_location');
        location = r.int();
        break;
      default:
        r.skip(t.wire);
    }
  }
  const label = name ? `tensor '${name}'` : 'unnamed tensor';
  if (location === 1) throw new OnnxError(`onnx: ${label} keeps its data in an external file, which this reader does not support`);
  const dtype = DATA_TYPES[dataType];
  if (!dtype)
    throw new OnnxError(
      `onnx: ${label} has data_type ${dataType}, which this reader does not support (float, double, float16, bfloat16, (u)int8/16/32, int64, bool)`,
    );
  let size = 1;
  for (const d of dims) {
    if (d < 0) throw new OnnxError(`onnx: ${label} has a negative dimension in [${dims.join(', ')}]`);
    size *= d;
  }
  if (size > 2 ** 31) throw new OnnxError(`onnx: ${label} has ${size} elements ([${dims.join(', ')}]); too large`);
  let data;
  if (raw) {
    if (raw.length !== size * ITEM_SIZE[dtype])
      throw new OnnxError(`onnx: ${label} has ${raw.length} bytes of raw_data; shape [${dims.join(', ')}] of ${dtype} needs ${size * ITEM_SIZE[dtype]}`);
    data = typedFromBytes(dtype, raw);
  } else {
    const typed = dtype === 'float32' ? floatData : dtype === 'float64' ? doubleData : dtype === 'int64' ? int64Data : int32Data;
    if (typed.length !== size) throw new OnnxError(`onnx: ${label} has ${typed.length} values; shape [${dims.join(', ')}] needs ${size}`);
    switch (dtype) {
      case 'float32':
        data = Float32Array.from(typed);
        break;
      case 'float64':
        data = Float64Array.from(typed);
        break;
      case 'int64':
        data = BigInt64Array.from(typed, (v) => BigInt(v));
        break;
      case 'int32':
        data = Int32Array.from(typed);
        break;
      case 'uint32':
        data = Uint32Array.from(typed);
        break;
      case 'int16':
        data = Int16Array.from(typed);
        break;
      case 'int8':
        data = Int8Array.from(typed);
        break;
      case 'float16':
      case 'bfloat16':
        data = Uint16Array.from(typed);
        break;
      default:
        data = Uint8Array.from(typed);
    }
  }
  return { name, tensor: new HostTensor(dtype, dims, data) };
}

// ---- ValueInfoProto ---------------------------------------------------------------------------

function readValueInfo(r: Reader): OnnxValueInfo {
  const info: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  for (let t = r.tag(); t; t = r.tag()) {
    if (t.field === 1 && t.wire === WIRE_LEN) info.name = r.string();
    else if (t.field === 2 && t.wire === WIRE_LEN) {
      const type = r.message('type');
      for (let u = type.tag(); u; u = type.tag()) {
        if (u.field !== 1 || u.wire !== WIRE_LEN) {
          type.skip(u.wire);
          continue;
        }
        const tt = type.message('tensor_type'); // TypeProto.Tensor
        for (let v = tt.tag(); v; v = tt.tag()) {
          if (v.field === 1 && v.wire === WIRE_VARINT) info.elemType = tt.int();
          else if (v.field === 2 && v.wire === WIRE_LEN) {
            const shape = tt.message('shape');
            info.shape = [];
            for (let w = shape.tag(); w; w = shape.tag()) {
              if (w.field !== 1 || w.wire !== WIRE_LEN) {
                shape.skip(w.wire);
                continue;
              }
              const dim = shape.message('dim');
              let d: number | string | null = null;
              for (let x = dim.tag(); x; x = dim.tag()) {
                if (x.field === 1 && x.wire === WIRE_VARINT) d = dim.int();
                else if (x.field === 2 && x.wire === WIRE_LEN) d = dim.string();
                else dim.skip(x.wire);
              }
              info.shape.push(d);
            }
          } else tt.skip(v.wire);
        }
      }
    } else r.skip(t.wire);
  }
  return info;
}

// ---- NodeProto / AttributeProto -----------------------------------------------------------------

function readAttribute(r: Reader, depth: number): { name: string; value: OnnxAttributeValue } {
  let name = '',
    type = 0;
  let f: number | null = null,
    i: number | null = null,
    s: string | null = null,
    tensor: HostTensor | null = null,
    g: OnnxGraph | null = null;
  const floats: number[] = [],
    ints: number[] = [],
    strings: string[] = [];
  for (let t = r.tag(); t; t = r.tag()) {
    switch (t.field) {
      case 1:
        r.expect(t.wire, WIRE_LEN, 'name');
        name = r.string();
        break;
      case 2:
        r.expect(t.wire, WIRE_I32, 'f');
        f = r.f32();
        break;
      case 3:
        r.expect(t.wire, WIRE_VARINT, 'i');
        i = r.int();
        break;
      case 4:
        r.expect(t.wire, WIRE_LEN, 's');
        s = r.string();
        break;
      case 5:
        r.expect(t.wire, WIRE_LEN, 't');
        tensor = readTensor(r.message('t')).tensor;
        break;
      case 6:
        r.expect(t.wire, WIRE_LEN, 'g');
        g = readGraph(r.message('g'), depth + 1);
        break;
      case 7:
        r.floats(t.wire, floats, 'floats');
        break;
      case 8:
        r.ints(t.wire, ints, 'ints');
        break;
      case 9:
        r.expect(t.wire, WIRE_LEN, 'strings');
        strings.push(r.string());
        break;
      case 20:
        r.expect(t.wire, WIRE_VARINT, 'type');
        type = r.int();
        break;
      default:
        r.skip(t.wire);
    }
  }
  // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, GRAPH 5, FLOATS 6, INTS 7, STRINGS 8
  let value: OnnxAttributeValue;
  switch (type) {
    case 1:
      value = f ?? 0;
      break;
    case 2:
      value = i ?? 0;
      break;
    case 3:
      value = s ?? '';
      break;
    case 4:
      value = tensor;
      break;
    case 5:
      value = g;
      break;
    case 6:
      value = floats;
      break;
    case 7:
      value = ints;
      break;
    case 8:
      value = strings;
      break;
    default:
      // files from before the type field: infer it from what is set
      value = f ?? i ?? s ?? tensor ?? g ?? (floats.length ? floats : ints.length ? ints : strings.length ? strings : null);
  }
  return { name, value };
}

function readNode(r: Reader, depth: number): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: {} };
  for (let t = r.tag(); t; t = r.tag()) {
    switch (t.field) {
      case 1:
        r.expect(t.wire, WIRE_LEN, 'input');
        node.inputs.push(r.string());
        break;
      case 2:
        r.expect(t.wire, WIRE_LEN, 'output');
        node.outputs.push(r.string());
        break;
      case 3:
        r.expect(t.wire, WIRE_LEN, 'name');
        node.name = r.string();
        break;
      case 4:
        r.expect(t.wire, WIRE_LEN, 'op_type');
        node.opType = r.string();
        break;
      case 5: {
        r.expect(t.wire, WIRE_LEN, 'attribute');
        const a = readAttribute(r.message('attribute'), depth);
        Object.defineProperty(node.attributes, a.name, { value: a.value, enumerable: true, writable: true, configurable: true });
        break;
      }
      case 7:
        r.expect(t.wire, WIRE_LEN, 'domain');
        node.domain = r.string();
        break;
      default:
        r.skip(t.wire);
    }
  }
  if (!node.opType) r.fail(`node '${node.name}' has no op_type`);
  return node;
}

// ---- GraphProto / ModelProto ----------------------------------------------------------------------

function readGraph(r: Reader, depth: number): OnnxGraph {
  if (depth > MAX_DEPTH) r.fail(`graphs nested deeper than ${MAX_DEPTH}`);
  const graph: OnnxGraph = { name: '', nodes: [], initializers: new Map(), inputs: [], outputs: [] };
  for (let t = r.tag(); t; t = r.tag()) {
    switch (t.field) {
      case 1:
        r.expect(t.wire, WIRE_LEN, 'node');
        graph.nodes.push(readNode(r.message('node'), depth));
        break;
      case 2:
        r.expect(t.wire, WIRE_LEN, 'name');
        graph.name = r.string();
        break;
      case 5: {
        r.expect(t.wire, WIRE_LEN, 'initializer');
        const { name, tensor } = readTensor(r.message('initializer'));
        if (graph.initializers.has(name)) r.fail(`two initializers are named '${name}'`);
        graph.initializers.set(name, tensor);
        break;
      }
      case 11:
        r.expect(t.wire, WIRE_LEN, 'input');
        graph.inputs.push(readValueInfo(r.message('input')));
        break;
      case 12:
        r.expect(t.wire, WIRE_LEN, 'output');
        graph.outputs.push(readValueInfo(r.message('output')));
        break;
      default:
        r.skip(t.wire);
    }
  }
  return graph;
}

/** Parses an ONNX model file (ModelProto bytes). Throws OnnxError on malformed or unsupported input. */
export function readOnnx(bytes: Uint8Array): OnnxModel {
  const r = new Reader(bytes, 0, bytes.length, 'model');
  const model: OnnxModel = { irVersion: 0, producerName: '', producerVersion: '', opsetImport: [], graph: null as unknown as OnnxGraph };
  for (let t = r.tag(); t; t = r.tag()) {
    switch (t.field) {
      case 1:
        r.expect(t.wire, WIRE_VARINT, 'ir_version');
        model.irVersion = r.int();
        break;
      case 2:
        r.expect(t.wire, WIRE_LEN, 'producer_name');
        model.producerName = r.string();
        break;
      case 3:
        r.expect(t.wire, WIRE_LEN, 'producer_version');
        model.producerVersion = r.string();
        break;
      case 7:
        r.expect(t.wire, WIRE_LEN, 'graph');
        model.graph = readGraph(r.message('graph'), 0);
        break;
      case 8: {
        r.expect(t.wire, WIRE_LEN, 'opset_import');
        const o = r.message('opset_import');
        const entry = { domain: '', version: 0 };
        for (let u = o.tag(); u; u = o.tag()) {
          if (u.field === 1 && u.wire === WIRE_LEN) entry.domain = o.string();
          else if (u.field === 2 && u.wire === WIRE_VARINT) entry.version = o.int();
          else o.skip(u.wire);
        }
        model.opsetImport.push(entry);
        break;
      }
      default:
        r.skip(t.wire);
    }
  }
  if (!model.graph) throw new OnnxError(`onnx: not an ONNX model: no graph in ${bytes.length} bytes${bytes.length ? '' : ' (empty input)'}`);
  return model;
}
