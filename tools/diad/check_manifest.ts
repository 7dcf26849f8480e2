// Validates a bundle manifest with the executable contract (parseManifest of @diad/protocol).
// Usage: npx tsx --conditions=@diad/source tools/diad/check_manifest.ts <bundle>/manifest.json
import { readFileSync } from 'node:fs';
import { parseManifest } from '@diad/protocol';

const file = process.argv[2];
if (!file) throw new TypeError('usage: check_manifest.ts <manifest.json>');
const m = parseManifest(JSON.parse(readFileSync(file, 'utf8')));
process.stdout.write(`${JSON.stringify({ ok: true, name: m.model.name, files: Object.keys(m.files) })}\n`);
