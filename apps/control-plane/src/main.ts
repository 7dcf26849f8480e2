#!/usr/bin/env node
import { configFromEnv } from './config.js';
import { createControlPlane } from './control-plane.js';

const cp = await createControlPlane(configFromEnv());
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    cp.close().then(
      () => process.exit(0),
      (e) => {
        console.error(e);
        process.exit(1);
      },
    );
  });
}
