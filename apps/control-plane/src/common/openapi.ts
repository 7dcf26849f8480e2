import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { cleanupOpenApiDoc } from 'nestjs-zod';

/**
 * The API's OpenAPI document, built from the controllers' decorators and their zod DTOs (request and response
 * schemas). Served at /docs/openapi.json and written to openapi.json by `npm run openapi`.
 */
export function openApiDocument(app: INestApplication): OpenAPIObject {
  const doc = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('DiAD Edge control plane')
      .setDescription(
        'Fleet, model registry, rollouts, thresholds, results and audit. Authenticate with Authorization: Bearer <JWT from /api/v1/auth/login | API key | device credential>.',
      )
      .setVersion('1')
      .setOpenAPIVersion('3.1.0')
      .addBearerAuth()
      .build(),
  );
  // nestjs-zod leaves markers in the schemas of its DTOs that only this pass turns into plain OpenAPI.
  return pathParameters(cleanupOpenApiDoc(doc));
}

/**
 * Every `{name}` of a path as a string parameter, taken from the path itself. @nestjs/swagger documents a route
 * parameter only when the build emitted decorator metadata for it (tsc and the test runner do, tsx does not), so
 * the document would otherwise differ with the tool that built it. Each is checked by its route's pipe (UUID,
 * semver, ...), which answers 400 naming it.
 */
function pathParameters(doc: OpenAPIObject): OpenAPIObject {
  for (const [path, item] of Object.entries(doc.paths)) {
    const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
    for (const op of Object.values(item) as Array<{ parameters?: Array<{ in?: string }> }>) {
      if (!op || typeof op !== 'object' || !('responses' in op)) continue;
      const others = (op.parameters ?? []).filter((p) => p.in !== 'path');
      op.parameters = [
        ...names.map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
        ...others,
      ];
    }
  }
  return doc;
}
