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
  return cleanupOpenApiDoc(doc);
}
