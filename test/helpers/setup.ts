import { beforeAll } from 'vitest';
import { init } from '../../src/node';

beforeAll(async () => {
  await init();
});
