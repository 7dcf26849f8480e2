import { z } from 'zod';

/** Response building blocks: what the API's JSON carries (dates as ISO strings, JSON columns as objects). */
export const isoTime = z.string().describe('ISO 8601 time');
export const jsonObject = z.record(z.string(), z.unknown());

/** A keyset-paginated list: the next page starts after `nextCursor` (null on the last page). */
export function page<T extends z.ZodType>(item: T) {
  return z.object({ items: z.array(item), nextCursor: z.string().nullable() });
}
