/**
 * Uniform blocks: one field list gives both the WGSL struct and the byte packing,
 * so the two can never disagree. Scalars are 4-byte aligned; arrays are `array<vec4<T>, N>`
 * (16-byte aligned and strided, as WGSL's uniform address space requires).
 */
export type ScalarType = 'u32' | 'i32' | 'f32';
export type UniformField = { name: string; type: ScalarType } | { name: string; type: ScalarType; vec4s: number };

export type UniformValues = Record<string, number | readonly number[]>;

interface Placed {
  field: UniformField;
  offset: number;
}

export class UniformLayout {
  readonly byteSize: number;
  private readonly placed: Placed[];

  constructor(readonly fields: readonly UniformField[]) {
    let off = 0;
    this.placed = fields.map((field) => {
      const align = 'vec4s' in field ? 16 : 4;
      off = Math.ceil(off / align) * align;
      const p = { field, offset: off };
      off += 'vec4s' in field ? 16 * field.vec4s : 4;
      return p;
    });
    this.byteSize = Math.max(16, Math.ceil(off / 16) * 16);
  }

  /** WGSL declaration of the struct. */
  wgsl(structName = 'Params'): string {
    const body = this.fields.map((f) => `  ${f.name}: ${'vec4s' in f ? `array<vec4<${f.type}>, ${f.vec4s}>` : f.type},`).join('\n');
    return `struct ${structName} {\n${body || '  _pad: u32,'}\n};`;
  }

  offsetOf(name: string): number {
    const p = this.placed.find((q) => q.field.name === name);
    if (!p) throw new Error(`uniform field '${name}' not in layout`);
    return p.offset;
  }

  /** Writes `values` into `view` at byte `base`. Missing array tails are zero. */
  pack(values: UniformValues, view: DataView, base = 0): void {
    for (const { field, offset } of this.placed) {
      const v = values[field.name];
      if (v === undefined) throw new Error(`uniform field '${field.name}' has no value`);
      const list = typeof v === 'number' ? [v] : v;
      const count = 'vec4s' in field ? field.vec4s * 4 : 1;
      if (list.length > count) throw new Error(`uniform field '${field.name}' holds ${count} values; got ${list.length}`);
      for (let i = 0; i < count; i++) {
        const x = list[i] ?? 0;
        const at = base + offset + 4 * i;
        if (field.type === 'f32') view.setFloat32(at, x, true);
        else if (field.type === 'i32') view.setInt32(at, x, true);
        else view.setUint32(at, x >>> 0, true);
      }
    }
  }
}
