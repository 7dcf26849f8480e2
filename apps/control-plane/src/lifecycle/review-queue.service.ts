import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { Database } from '../db/database.js';

export const ReviewQueueQuery = z
  .object({
    site: z.string().min(1).max(64).optional(),
    line: z.string().min(1).max(64),
    station: z.string().min(1).max(64).optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  })
  .strict();
export type ReviewQueueQuery = z.infer<typeof ReviewQueueQuery>;

export interface ReviewItem {
  resultId: string;
  station: string;
  partId: string;
  inspectedAt: Date;
  verdict: string;
  score: number | null;
  normalizedScore: number | null;
  shadowVerdict: string | null;
  /** Why it is in the queue: the shadow model disagrees, or the score is near the threshold. */
  reason: 'shadow-disagrees' | 'borderline';
}

/**
 * Unlabelled results ordered by what a label teaches most: first those where the shadow model's verdict differs
 * from the active one (one of the two is wrong), then those closest to the threshold (normalised score 0.5).
 */
@Injectable()
export class ReviewQueueService {
  constructor(@Inject(Database) private readonly db: Database) {}

  async list(q: ReviewQueueQuery): Promise<ReviewItem[]> {
    const rows = await this.db.prisma.$queryRawUnsafe<
      Array<{
        result_id: string;
        station: string;
        part_id: string;
        inspected_at: Date;
        verdict: string;
        score: number | null;
        normalized_score: number | null;
        shadow_verdict: string | null;
        disagrees: boolean;
      }>
    >(
      `SELECT r.result_id, r.station, r.part_id, r.inspected_at, r.verdict, r.score, r.normalized_score,
              r.shadow_verdict, (r.shadow_verdict IS NOT NULL AND r.shadow_verdict <> r.verdict) AS disagrees
         FROM results r
        WHERE r.line = $1
          AND ($2::text IS NULL OR r.site = $2)
          AND ($3::text IS NULL OR r.station = $3)
          AND r.verdict IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM result_labels l WHERE l.result_id = r.result_id)
        ORDER BY disagrees DESC, abs(coalesce(r.normalized_score, 0.5) - 0.5) ASC, r.inspected_at DESC
        LIMIT $4`,
      q.line,
      q.site ?? null,
      q.station ?? null,
      q.limit,
    );
    return rows.map((r) => ({
      resultId: r.result_id,
      station: r.station,
      partId: r.part_id,
      inspectedAt: r.inspected_at,
      verdict: r.verdict,
      score: r.score,
      normalizedScore: r.normalized_score,
      shadowVerdict: r.shadow_verdict,
      reason: r.disagrees ? 'shadow-disagrees' : 'borderline',
    }));
  }
}
