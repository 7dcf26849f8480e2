// Writes docs/mqtt/*.schema.json from the zod contracts. Run from the repo root:
//   npx tsx --conditions=@diad/source apps/agent/scripts/gen-mqtt-schemas.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mqttJsonSchemas } from '../src/mqtt/json-schemas.js';

const dir = join(process.cwd(), 'docs', 'mqtt');
mkdirSync(dir, { recursive: true });
for (const [name, schema] of Object.entries(mqttJsonSchemas())) {
  writeFileSync(join(dir, `${name}.schema.json`), `${JSON.stringify(schema, null, 2)}\n`);
  console.log(`wrote docs/mqtt/${name}.schema.json`);
}
