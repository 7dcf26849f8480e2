import {
  type ArgumentMetadata,
  applyDecorators,
  BadRequestException,
  Body,
  type CallHandler,
  type ExecutionContext,
  Injectable,
  InternalServerErrorException,
  type NestInterceptor,
  type PipeTransform,
  Query,
  SetMetadata,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiResponse } from '@nestjs/swagger';
import { createZodDto, createZodValidationPipe, type ZodDto } from 'nestjs-zod';
import { map, type Observable } from 'rxjs';
import { z } from 'zod';
import { toPlain } from './json.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** A 400 naming the input (`where`: body, query, or the parameter) and every failing key. */
export function badRequest(error: z.core.$ZodError, where: string): BadRequestException {
  const issues = error.issues.map((i) => ({ path: [where, ...i.path].join('.'), message: i.message }));
  return new BadRequestException({ message: `${issues[0].path}: ${issues[0].message}`, issues });
}

// nestjs-zod's exception factory only sees the ZodError, not which input failed; the subclass below adds that
// (`body.name`, `query.limit`, `id`) so the error format stays what clients already read.
const BasePipe: new (schemaOrDto?: z.ZodType | ZodDto) => PipeTransform = createZodValidationPipe({
  createValidationException: (e) => e as Error,
});

/**
 * Validates request input through zod. Global: every `@Body()`/`@Query()` typed with a DTO made by `createZodDto`.
 * Per parameter: `@Param('id', new ZodPipe(uuidParam))` for route parameters that are not DTOs.
 */
@Injectable()
export class ZodPipe extends BasePipe {
  override transform(value: unknown, metadata: ArgumentMetadata): unknown {
    try {
      return super.transform(value, metadata);
    } catch (e) {
      if (e instanceof z.core.$ZodError) throw badRequest(e, metadata.data ?? metadata.type);
      throw e;
    }
  }
}

export const uuidParam = z.string().uuid('expected a UUID');
export const isoDate = z
  .string()
  .datetime({ offset: true, message: 'expected an ISO 8601 time with offset' });
/** `@Param('id', UuidPipe)`: a 400 `id: expected a UUID` for anything else. */
export const UuidPipe = new ZodPipe(uuidParam);

/**
 * Records a parameter's DTO as its design type. The build (tsc) emits the same `design:paramtypes`; the tests and
 * `npm run openapi` run the sources through esbuild, which emits none, and both the global pipe (which DTO to
 * validate with) and @nestjs/swagger (which schema to document) read the DTO from there.
 */
function designType(dto: AnyDto): ParameterDecorator {
  return (target, key, index) => {
    const types = [...((key && Reflect.getMetadata('design:paramtypes', target, key)) ?? [])];
    types[index] = dto;
    if (key) Reflect.defineMetadata('design:paramtypes', types, target, key);
  };
}

/** `@BodyOf(CreateSiteDto) body: CreateSiteDto`: the JSON body, validated by the DTO's schema (400 `body.code: ...`). */
export function BodyOf(dto: AnyDto): ParameterDecorator {
  return (target, key, index) => {
    Body()(target, key, index);
    designType(dto)(target, key, index);
  };
}

/** `@QueryOf(DeviceQueryDto) q: DeviceQueryDto`: the query string, validated (400 `query.limit: ...`), documented. */
export function QueryOf(dto: AnyDto): ParameterDecorator {
  return (target, key, index) => {
    Query()(target, key, index);
    designType(dto)(target, key, index);
  };
}

type Properties = Record<string, Record<string, unknown>>;
type Factory = { _OPENAPI_METADATA_FACTORY(): Properties };

/**
 * zod writes a nullable primitive as `type: ["string", "null"]`; @nestjs/swagger reads a `type` array on a DTO's
 * own property as "array of string", which would document `nextCursor: string | null` as `string[]`. The same
 * property as `anyOf` is read as intended (nestjs-zod already passes `anyOf` through and drops the empty type).
 */
function nullableAsAnyOf(props: Properties): Properties {
  for (const p of Object.values(props)) {
    if (Array.isArray(p.type)) {
      p.anyOf = (p.type as string[]).map((type) => ({ type }));
      p.type = '';
    }
  }
  return props;
}

/** `class CreateSiteDto extends zodDto(CreateSite) {}`: nestjs-zod's DTO, with nullable properties documented right. */
export function zodDto<S extends z.ZodType>(schema: S) {
  const dto = createZodDto(schema);
  fixFactory(dto);
  const output = Object.getOwnPropertyDescriptor(dto, 'Output')?.get;
  if (!output) throw new Error('nestjs-zod DTOs no longer have an Output getter');
  // Each read of `.Output` makes the output class anew (named after the subclass it is read from).
  Object.defineProperty(dto, 'Output', {
    get(this: typeof dto) {
      return fixFactory(output.call(this));
    },
  });
  return dto;
}

function fixFactory<T>(dto: T): T {
  const f = dto as unknown as Factory;
  const factory = f._OPENAPI_METADATA_FACTORY;
  Object.defineProperty(dto, '_OPENAPI_METADATA_FACTORY', {
    value(this: Factory) {
      return nullableAsAnyOf(factory.call(this));
    },
  });
  return dto;
}

const RESPONSE_SCHEMA = 'diad:response-schema';
type AnyDto = ZodDto<z.ZodType>;

/**
 * Declares what a route answers: the DTO's output schema goes into the OpenAPI document (and from there into the
 * dashboard's generated types), and `ResponseCheck` holds every response to it. `status` defaults to 200; POST
 * routes without `@HttpCode(200)` answer 201.
 */
export function Returns(dto: AnyDto | [AnyDto], status = 200, description?: string) {
  const one = Array.isArray(dto) ? dto[0] : dto;
  const schema = Array.isArray(dto) ? z.array(one.schema) : one.schema;
  return applyDecorators(
    SetMetadata(RESPONSE_SCHEMA, schema),
    ApiResponse({ status, description, type: Array.isArray(dto) ? [one.Output] : one.Output }),
  );
}

/**
 * Checks each JSON response against the schema its route declares with `@Returns`; a mismatch is logged, counted
 * (diad_http_response_schema_mismatch_total) and, with `mode` "reject" (the default, RESPONSE_CHECK), answered
 * with a 500, so a response that drifts from the published document fails the tests instead of a client.
 *
 * Why not nestjs-zod's ZodSerializerInterceptor: it parses the handler's in-memory value (Date objects, before
 * JSON) and replaces the response with the parsed copy. The document describes the JSON on the wire, and routes
 * keep answering exactly what their services return, so this checks the JSON form and sends the original.
 */
@Injectable()
export class ResponseCheck implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly log: Logger,
    private readonly metrics: Metrics,
    private readonly mode: 'reject' | 'log' = 'reject',
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const schema = this.reflector.get<z.ZodType | undefined>(RESPONSE_SCHEMA, context.getHandler());
    if (!schema) return next.handle();
    return next.handle().pipe(
      map((body) => {
        const r = schema.safeParse(toPlain(body));
        if (r.success) return body;
        const req = context.switchToHttp().getRequest<{ method: string; route?: { path: string } }>();
        const route = `${req.method} ${req.route?.path}`;
        const issues = r.error.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`);
        this.metrics.responseSchemaMismatch.inc({ route });
        this.log.error({ route, issues }, 'response does not match its schema');
        if (this.mode === 'log') return body;
        throw new InternalServerErrorException('response does not match its schema');
      }),
    );
  }
}

/** Declares a route that streams a file (bundle, image, CSV) rather than JSON. */
export function ReturnsFile(contentTypes: string[], description: string) {
  const binary = { schema: { type: 'string', format: 'binary' } };
  return ApiResponse({
    status: 200,
    description,
    content: Object.fromEntries(contentTypes.map((t) => [t, binary])),
  });
}
