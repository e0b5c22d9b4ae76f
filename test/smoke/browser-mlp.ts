/** Browser entry for the MLP smoke test (bundled by chromium-mlp.ts): result lands on window.__result. */
import { init } from '../../src/index';
import { trainMLP } from '../../examples/mlp-core';

const w = globalThis as unknown as { __result?: unknown };
(async () => {
  try {
    const device = await init();
    const losses = await trainMLP();
    w.__result = {
      runtime: 'chromium',
      adapter: [device.adapterInfo?.vendor, device.adapterInfo?.architecture, device.adapterInfo?.device, device.adapterInfo?.description].join(' | '),
      losses,
    };
    device.destroy();
  } catch (e) {
    w.__result = { error: String((e as Error)?.stack ?? e) };
  }
})();
