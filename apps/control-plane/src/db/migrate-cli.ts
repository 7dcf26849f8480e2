/** `npm run db:migrate -w @diad/control-plane`: applies pending migrations to DATABASE_URL or DATA_DIR. */
import { Database } from './database.js';

const db = await Database.open({
  databaseUrl: process.env.DATABASE_URL || undefined,
  databaseSchema: process.env.DATABASE_SCHEMA || 'public',
  dataDir: process.env.DATA_DIR || '.data/control-plane/db',
});
try {
  const applied = await db.migrate();
  console.log(applied.length ? `applied: ${applied.join(', ')}` : 'database is up to date');
} finally {
  await db.close();
}
