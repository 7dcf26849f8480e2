import { BadRequestException } from '@nestjs/common';
import { z } from 'zod';

/** Parses `value` with `schema`; a failure is a 400 naming the input (`where`) and every failing key. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, where: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message }));
  throw new BadRequestException({
    message: `${issues[0].path}: ${issues[0].message}`,
    issues,
  });
}

/** JSON Schema for OpenAPI from a zod schema (request shapes are documented from the same source). */
export function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

export const uuidParam = z.string().uuid('expected a UUID');
export const isoDate = z
  .string()
  .datetime({ offset: true, message: 'expected an ISO 8601 time with offset' });
