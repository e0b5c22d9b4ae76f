/**
 * A restricted Python unpickler (protocols 0–5, the opcodes state_dicts use). It never runs Python
 * code: globals are resolved against an allow-list given by the caller, and any other global (e.g.
 * `os.system`) is refused the moment its opcode is read, before any call could happen.
 * Every loop is bounded by the input size; lengths are checked against the remaining bytes.
 */

export class UnpicklingError extends Error {
  /** The error's class name. */
  override name = 'UnpicklingError';
}

/** A Python global (`module.name`) that the allow-list admitted. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualname(): string {
    return `${this.module}.${this.name}`;
  }
}

/** What an allowed global does when called (REDUCE/NEWOBJ); globals without `call` are only values. */
export interface GlobalHandler {
  call?: (args: unknown[]) => unknown;
}

export interface UnpickleOptions {
  /** Allowed globals by `module.name`; anything else is refused. */
  globals: Record<string, GlobalHandler>;
  /** Resolves persistent ids (PERSID/BINPERSID). Without it, persistent ids are an error. */
  persistentLoad?: (pid: unknown) => unknown;
  /** Byte offset to start at (default 0). */
  offset?: number;
}

/** Python dict with string-able keys as a plain object (own properties, safe for any key). */
function setKey(d: Record<string, unknown>, k: unknown, v: unknown, pos: number): void {
  let key: string;
  if (typeof k === 'string') key = k;
  else if (typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') key = String(k);
  else if (k === null) key = 'None';
  else throw new UnpicklingError(`pickle: dict key of type ${describe(k)} at byte ${pos} is not supported (only str, int, float, bool, None)`);
  Object.defineProperty(d, key, { value: v, enumerable: true, writable: true, configurable: true });
}

export const isDict = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;

function describe(x: unknown): string {
  if (x === null) return 'None';
  if (x instanceof PyGlobal) return `global ${x.qualname}`;
  if (Array.isArray(x)) return 'list/tuple';
  if (x instanceof Uint8Array) return 'bytes';
  if (typeof x === 'object') return isDict(x) ? 'dict' : (x.constructor?.name ?? 'object');
  return typeof x;
}

const OPNAMES: Record<number, string> = {};

/** Unpickles one pickle from `bytes` (starting at `options.offset`); returns the value and the end offset. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): { value: unknown; end: number } {
  const n = bytes.byteLength;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = options.offset ?? 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let opPos = pos;

  const err = (msg: string): never => {
    throw new UnpicklingError(`pickle: ${msg} (at byte ${opPos})`);
  };
  const need = (k: number) => {
    if (k < 0 || pos + k > n) err(`truncated: needs ${k} more bytes, ${n - pos} left`);
  };
  const u8 = () => {
    need(1);
    return bytes[pos++];
  };
  const u16 = () => {
    need(2);
    const v = dv.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = dv.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = dv.getInt32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = dv.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(n)) err(`length ${v} exceeds the input size`);
    return Number(v);
  };
  const take = (k: number) => {
    need(k);
    const s = bytes.subarray(pos, pos + k);
    pos += k;
    return s;
  };
  const line = () => {
    const start = pos;
    while (pos < n && bytes[pos] !== 0x0a) pos++;
    if (pos >= n) err('truncated: missing newline');
    const s = latin1.decode(bytes.subarray(start, pos));
    pos++;
    return s;
  };
  const str = (b: Uint8Array) => {
    try {
      return utf8.decode(b);
    } catch {
      return err('string is not valid UTF-8');
    }
  };
  const floor = () => (marks.length ? marks[marks.length - 1] : 0);
  const pop = () => (stack.length > floor() ? stack.pop() : err('stack underflow'));
  const top = () => (stack.length > floor() ? stack[stack.length - 1] : err('stack underflow'));
  const popMark = (): unknown[] => {
    if (!marks.length) err('MARK expected but none on the stack');
    const m = marks.pop()!;
    return stack.splice(m);
  };
  const longFromBytes = (b: Uint8Array): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const parseIntText = (s: string): number | bigint | boolean => {
    const t = s.trim().replace(/L$/, '');
    if (t === '00') return false;
    if (t === '01') return true;
    if (!/^[-+]?\d+$/.test(t)) err(`invalid integer literal ${JSON.stringify(s.slice(0, 40))}`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const quoted = (s: string) => {
    const t = s.trim();
    if (t.length < 2 || (t[0] !== "'" && t[0] !== '"') || t[t.length - 1] !== t[0]) err('STRING argument is not quoted');
    return t.slice(1, -1);
  };
  const resolveGlobal = (module: string, name: string): PyGlobal => {
    const q = `${module}.${name}`;
    if (!Object.hasOwn(options.globals, q)) {
      err(`refusing to load global '${q}': only the classes and functions a PyTorch state_dict needs are allowed; this file may contain code`);
    }
    return new PyGlobal(module, name);
  };
  const call = (fn: unknown, args: unknown): unknown => {
    if (!(fn instanceof PyGlobal)) return err(`cannot call ${describe(fn)}; only allowed globals can be called`);
    if (!Array.isArray(args)) return err(`arguments to ${fn.qualname} must be a tuple; got ${describe(args)}`);
    const h = Object.hasOwn(options.globals, fn.qualname) ? options.globals[fn.qualname] : undefined;
    if (!h?.call) return err(`global '${fn.qualname}' cannot be called here`);
    try {
      return h.call(args);
    } catch (e) {
      if (e instanceof UnpicklingError) throw e;
      return err(`${fn.qualname}: ${(e as Error)?.message ?? String(e)}`);
    }
  };

  for (;;) {
    opPos = pos;
    if (pos >= n) err('truncated: reached the end of the data before STOP');
    const op = bytes[pos++];
    switch (op) {
      case 0x80: {
        const p = u8();
        if (p > 5) err(`unsupported pickle protocol ${p}`);
        break;
      } // PROTO
      case 0x95:
        u64();
        break; // FRAME (frames are only a hint for buffering)
      case 0x2e: {
        // STOP
        if (stack.length !== 1 || marks.length) err(`STOP with ${stack.length} values and ${marks.length} open marks on the stack; expected exactly one value`);
        return { value: stack[0], end: pos };
      }
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x30:
        if (marks.length && marks[marks.length - 1] === stack.length) marks.pop();
        else pop();
        break; // POP
      case 0x31:
        popMark();
        break; // POP_MARK
      case 0x32:
        stack.push(top());
        break; // DUP
      // integers
      case 0x49:
        stack.push(parseIntText(line()));
        break; // INT
      case 0x4a:
        stack.push(i32());
        break; // BININT
      case 0x4b:
        stack.push(u8());
        break; // BININT1
      case 0x4d:
        stack.push(u16());
        break; // BININT2
      case 0x4c: {
        const v = parseIntText(line());
        stack.push(typeof v === 'boolean' ? Number(v) : v);
        break;
      } // LONG
      case 0x8a: {
        const k = u8();
        stack.push(longFromBytes(take(k)));
        break;
      } // LONG1
      case 0x8b: {
        const k = i32();
        if (k < 0) err('negative LONG4 length');
        stack.push(longFromBytes(take(k)));
        break;
      } // LONG4
      // floats
      case 0x46: {
        const s = line().trim();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) err(`invalid float literal ${JSON.stringify(s.slice(0, 40))}`);
        stack.push(v);
        break;
      } // FLOAT
      case 0x47: {
        need(8);
        stack.push(dv.getFloat64(pos, false));
        pos += 8;
        break;
      } // BINFLOAT (big-endian)
      // strings and bytes
      case 0x53:
        stack.push(quoted(line()));
        break; // STRING
      case 0x54: {
        const k = i32();
        if (k < 0) err('negative BINSTRING length');
        stack.push(latin1.decode(take(k)));
        break;
      } // BINSTRING
      case 0x55:
        stack.push(latin1.decode(take(u8())));
        break; // SHORT_BINSTRING
      case 0x56:
        stack.push(line());
        break; // UNICODE (raw-unicode-escape; ASCII in practice)
      case 0x58:
        stack.push(str(take(u32())));
        break; // BINUNICODE
      case 0x8c:
        stack.push(str(take(u8())));
        break; // SHORT_BINUNICODE
      case 0x8d:
        stack.push(str(take(u64())));
        break; // BINUNICODE8
      case 0x42:
        stack.push(take(u32()).slice());
        break; // BINBYTES
      case 0x43:
        stack.push(take(u8()).slice());
        break; // SHORT_BINBYTES
      case 0x8e:
      case 0x96:
        stack.push(take(u64()).slice());
        break; // BINBYTES8, BYTEARRAY8
      // constants
      case 0x4e:
        stack.push(null);
        break; // NONE
      case 0x88:
        stack.push(true);
        break; // NEWTRUE
      case 0x89:
        stack.push(false);
        break; // NEWFALSE
      // containers
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x7d:
        stack.push({});
        break; // EMPTY_DICT
      case 0x8f:
        stack.push([]);
        break; // EMPTY_SET (a list of its items)
      case 0x6c:
      case 0x74:
        stack.push(popMark());
        break; // LIST, TUPLE
      case 0x85: {
        const a = pop();
        stack.push([a]);
        break;
      } // TUPLE1
      case 0x86: {
        const b = pop();
        const a = pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x91:
        stack.push(popMark());
        break; // FROZENSET
      case 0x61: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l)) err(`APPEND to ${describe(l)}`);
        (l as unknown[]).push(v);
        break;
      } // APPEND
      case 0x65:
      case 0x90: {
        // APPENDS, ADDITEMS
        const items = popMark();
        const l = top();
        if (!Array.isArray(l)) err(`APPENDS to ${describe(l)}`);
        for (const it of items) (l as unknown[]).push(it);
        break;
      }
      case 0x64: {
        // DICT
        const items = popMark();
        if (items.length % 2) err('DICT with an odd number of items');
        const d: Record<string, unknown> = {};
        for (let i = 0; i < items.length; i += 2) setKey(d, items[i], items[i + 1], opPos);
        stack.push(d);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        const d = top();
        if (!isDict(d)) err(`SETITEM on ${describe(d)}`);
        setKey(d as Record<string, unknown>, k, v, opPos);
        break;
      } // SETITEM
      case 0x75: {
        // SETITEMS
        const items = popMark();
        if (items.length % 2) err('SETITEMS with an odd number of items');
        const d = top();
        if (!isDict(d)) err(`SETITEMS on ${describe(d)}`);
        for (let i = 0; i < items.length; i += 2) setKey(d as Record<string, unknown>, items[i], items[i + 1], opPos);
        break;
      }
      // globals and calls
      case 0x63: {
        const module = line();
        const name = line();
        stack.push(resolveGlobal(module, name));
        break;
      } // GLOBAL
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') err('STACK_GLOBAL needs two strings');
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (isDict(kwargs) && Object.keys(kwargs).length) err('NEWOBJ_EX with keyword arguments is not supported');
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD: sets attributes (e.g. an OrderedDict's _metadata); webgrad keeps only the items
        pop();
        const obj = top();
        if (obj instanceof PyGlobal) err(`BUILD on global ${obj.qualname}`);
        break;
      }
      case 0x50:
      case 0x51: {
        // PERSID, BINPERSID
        const pid = op === 0x50 ? line() : pop();
        if (!options.persistentLoad) err('persistent id found but this format has no persistent storage');
        try {
          stack.push(options.persistentLoad!(pid));
        } catch (e) {
          if (e instanceof UnpicklingError) throw e;
          err(`persistent id: ${(e as Error)?.message ?? String(e)}`);
        }
        break;
      }
      // memo
      case 0x70: {
        const s = line();
        if (!/^\d+$/.test(s)) err('PUT index is not a number');
        memo.set(Number(s), top());
        break;
      } // PUT
      case 0x71:
        memo.set(u8(), top());
        break; // BINPUT
      case 0x72:
        memo.set(u32(), top());
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, top());
        break; // MEMOIZE
      case 0x67:
      case 0x68:
      case 0x6a: {
        // GET, BINGET, LONG_BINGET
        const k = op === 0x67 ? Number(line()) : op === 0x68 ? u8() : u32();
        if (!memo.has(k)) err(`memo key ${k} is not defined`);
        stack.push(memo.get(k));
        break;
      }
      default:
        err(`unsupported opcode 0x${op.toString(16).padStart(2, '0')}${OPNAMES[op] ? ` (${OPNAMES[op]})` : ''}`);
    }
  }
}
