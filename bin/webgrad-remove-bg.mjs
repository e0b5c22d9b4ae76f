#!/usr/bin/env node
// The `webgrad-remove-bg` command: runs examples/remove-background.ts through tsx (a devDependency),
// so it works from a checkout (`npm link`, or `npx webgrad-remove-bg` inside the repository).
import { register } from 'tsx/esm/api';

register();
await import('../examples/remove-background.ts');
