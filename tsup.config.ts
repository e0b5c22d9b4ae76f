import { defineConfig } from 'tsup';

export default defineConfig({
  entry: { index: 'src/index.ts', formats: 'src/formats.ts', models: 'src/models.ts', sod: 'src/sod.ts', node: 'src/node.ts', 'decode-worker': 'src/io/decode-worker.ts' },
  format: ['esm'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'es2022',
  external: ['webgpu', 'pngjs'],
});
