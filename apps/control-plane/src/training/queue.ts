/**
 * The training queue on PostgreSQL, through pg-boss (a maintained job queue: SKIP LOCKED fetching, retries,
 * cancellation), so the control plane and any number of trainer workers share it through the database they
 * already have. PGlite (the embedded default) has no server for a second process to reach, so training jobs
 * need PostgreSQL.
 */
import PgBoss from 'pg-boss';

export const TRAINING_QUEUE = 'diad-training';

export interface TrainingQueueMessage {
  trainingJobId: string;
}

export async function openBoss(databaseUrl: string, schema: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: databaseUrl, schema, max: 3 });
  boss.on('error', () => {}); // reported through the calls that fail; an idle connection error must not crash
  await boss.start();
  await boss.createQueue(TRAINING_QUEUE).catch((e: Error) => {
    if (!/already exists/i.test(e.message)) throw e;
  });
  return boss;
}

/** pg-boss's schema beside the application's (one per control-plane database schema). */
export function bossSchema(databaseSchema: string): string {
  return `${databaseSchema === 'public' ? 'diad' : databaseSchema}_jobs`;
}
