/**
 * One vit_b-sized stage of SAM's image encoder at 1024² (random weights): patch embedding, one windowed block (25
 * windows of 14×14 after padding 64 → 70) and the neck, in inference. Prints the wall time of each run (read-back
 * included) and the pool's peak bytes, to check that no tensor outside the attention needs more than a 128 MiB
 * binding and how much the block holds at once. The global blocks need the fused attention (4096 tokens × 12 heads).
 *   npx tsx bench/sam-encoder-block.ts [--rounds 1]
 */
import { init, memory, random, randn, tidy } from '../src/node';
import { SAM_CONFIGS } from '../src/models/sam/config';
import { applyEncoderBlock, applyNeck, applyPatchEmbed, initImageEncoder } from '../src/models/sam/image-encoder';

const i = process.argv.indexOf('--rounds');
const rounds = i > 0 ? Number(process.argv[i + 1]) : 1;
await init();
const cfg = { ...SAM_CONFIGS.vit_b.encoder, depth: 1, globalAttnIndexes: [] };
const params = initImageEncoder(cfg, random.key(0));
const x = randn(random.key(1), [1, 3, 1024, 1024]);
const held = memory().liveBytes;
for (let r = 1; r <= rounds; r++) {
  const t0 = performance.now();
  const out = tidy(() => applyNeck(cfg, params, applyEncoderBlock(cfg, 0, params.blocks[0], applyPatchEmbed(cfg, params, x))));
  await out.data();
  const ms = performance.now() - t0;
  console.log(`run ${r}: ${ms.toFixed(0)} ms; pool peak ${(memory().peakBytes / 2 ** 20).toFixed(0)} MiB (weights + input ${(held / 2 ** 20).toFixed(0)} MiB)`);
  out.dispose();
}
