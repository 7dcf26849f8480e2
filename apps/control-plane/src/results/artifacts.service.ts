import type { Readable } from 'node:stream';
import { Transform } from 'node:stream';
import {
  ConflictException,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  NotFoundException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import type { BlobStore } from '../blob/blob-store.js';
import { BLOB_STORE, CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';

export const ARTIFACT_KINDS = ['image', 'heatmap'] as const;
export type ArtifactKind = (typeof ARTIFACT_KINDS)[number];
const TYPES = ['image/png', 'image/jpeg', 'image/webp'];

/** Images and heatmaps of results, uploaded by the device that produced the result. */
@Injectable()
export class ArtifactsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async put(
    deviceId: string,
    resultId: string,
    kind: ArtifactKind,
    contentType: string | undefined,
    body: Readable,
  ) {
    const type = (contentType ?? '').split(';')[0].trim();
    if (!TYPES.includes(type))
      throw new UnsupportedMediaTypeException(`content-type: expected one of ${TYPES.join(', ')}`);
    const result = await this.db.prisma.result.findFirst({
      where: { resultId },
      select: { deviceId: true },
    });
    // An image belongs to a stored result: one for a result that does not exist would never be shown nor
    // removed. 409, not 404: the agent sends results and images on separate paths and retries this later.
    if (!result)
      throw new ConflictException(
        `result ${resultId} is not stored (yet): send the result before its ${kind}`,
      );
    if (result.deviceId !== deviceId) throw new ForbiddenException('result belongs to another device');
    const existing = await this.db.prisma.resultArtifact.findUnique({
      where: { resultId_kind: { resultId, kind } },
    });
    if (existing && existing.deviceId !== deviceId)
      throw new ForbiddenException('artifact belongs to another device');
    const max = this.config.maxArtifactBytes;
    let seen = 0;
    const limit = new Transform({
      transform(chunk: Buffer, _e, cb) {
        seen += chunk.length;
        if (seen > max)
          cb(new HttpException(`${kind}: larger than ${max} bytes`, HttpStatus.PAYLOAD_TOO_LARGE));
        else cb(null, chunk);
      },
    });
    const key = `results/${resultId.slice(0, 8)}/${resultId}.${kind}`;
    body.on('error', (e) => limit.destroy(e));
    const { bytes } = await this.blobs.put(key, body.pipe(limit));
    const row = { resultId, kind, deviceId, blobKey: key, contentType: type, bytes };
    await this.db.prisma.resultArtifact.upsert({
      where: { resultId_kind: { resultId, kind } },
      create: row,
      update: row,
    });
    return { resultId, kind, bytes, contentType: type };
  }

  /**
   * Removes artifacts whose result is gone (its partition dropped by retention), rows and blobs, up to `limit`
   * per call; returns how many. Run with partition maintenance.
   */
  async sweepOrphans(limit = 1000): Promise<number> {
    const orphans = await this.db.prisma.$queryRawUnsafe<
      Array<{ result_id: string; kind: string; blob_key: string }>
    >(
      `SELECT a.result_id::text AS result_id, a.kind, a.blob_key FROM result_artifacts a
        WHERE NOT EXISTS (SELECT 1 FROM results r WHERE r.result_id = a.result_id) LIMIT ${Math.trunc(limit)}`,
    );
    for (const o of orphans) {
      await this.blobs.delete(o.blob_key);
      await this.db.prisma.$executeRawUnsafe(
        'DELETE FROM result_artifacts WHERE result_id = $1::uuid AND kind = $2',
        o.result_id,
        o.kind,
      );
    }
    return orphans.length;
  }

  async get(resultId: string, kind: ArtifactKind) {
    const a = await this.db.prisma.resultArtifact.findUnique({
      where: { resultId_kind: { resultId, kind } },
    });
    if (!a) throw new NotFoundException(`result ${resultId} has no stored ${kind}`);
    const blob = await this.blobs.get(a.blobKey);
    if (!blob) throw new NotFoundException(`${kind} of result ${resultId} is missing from the blob store`);
    return { ...blob, contentType: a.contentType };
  }
}
