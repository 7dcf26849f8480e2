import { createHash, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { PassThrough, pipeline, type Readable, Transform } from 'node:stream';
import { TarReader } from '@diad/protocol/tar';
import {
  BadRequestException,
  ConflictException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import busboy from 'busboy';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { BlobStore } from '../blob/blob-store.js';
import { toPlain } from '../common/json.js';
import type { RequestContext } from '../common/request-context.js';
import { BLOB_STORE, CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import type { ModelVersion, Prisma } from '../generated/prisma/client.js';
import { type OnnxVerdict, onnxCheckSink } from './onnx-check.js';
import { checkSignature, ed25519PublicKey, isManifestPath, verifyBundle } from './verify-bundle.js';

export const ModelStatusChange = z
  .object({ status: z.enum(['active', 'deprecated', 'retired']), reason: z.string().max(1000).optional() })
  .strict();
export const CreateSigningKey = z
  .object({ name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/), publicKey: z.string().min(40).max(4000) })
  .strict();
export const ModelListQuery = z.object({
  name: z.string().max(64).optional(),
  status: z.enum(['active', 'deprecated', 'retired']).optional(),
});

interface Upload {
  blobKey: string;
  bytes: number;
  sha256: string;
  reader: TarReader;
  /** Each file's ONNX verdict by archive path, made as its bytes streamed past. */
  onnx: Map<string, OnnxVerdict>;
  fields: Record<string, string>;
}

/** The model registry: immutable bundle versions (name + semver), verified on upload, stored as blobs. */
@Injectable()
export class ModelsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  /**
   * Streams a multipart upload (file field `bundle`, optional fields `signature` and `signedBy`) to the blob store
   * while hashing the whole tar and every file inside it; nothing is held in memory but the manifest.
   */
  async upload(ctx: RequestContext, headers: IncomingHttpHeaders, body: Readable) {
    const up = await this.receive(headers, body);
    try {
      let manifest: ReturnType<typeof verifyBundle>;
      try {
        const contents = await up.reader.end();
        manifest = verifyBundle(contents.files, contents.content, up.onnx);
      } catch (e) {
        throw new UnprocessableEntityException((e as Error).message);
      }
      const signedBy = await this.checkSignature(up.sha256, up.fields.signature, up.fields.signedBy);
      const { name, version } = manifest.model;
      const exists = await this.db.prisma.modelVersion.findUnique({
        where: { name_version: { name, version } },
      });
      if (exists) {
        throw new ConflictException(
          `model ${name}@${version} already exists; versions are immutable, bump the version`,
        );
      }
      return await this.db.prisma.$transaction(async (tx) => {
        const row = await tx.modelVersion.create({
          data: {
            name,
            version,
            sha256: up.sha256,
            bytes: BigInt(up.bytes),
            blobKey: up.blobKey,
            manifest: manifest as unknown as Prisma.InputJsonValue,
            description: manifest.model.description ?? null,
            imageThreshold: manifest.calibration.imageThreshold,
            pixelThreshold: manifest.calibration.pixelThreshold,
            signature: up.fields.signature || null,
            signedBy,
            createdBy: ctx.principal.name,
          },
        });
        await this.audit.record(tx, ctx, {
          action: 'model.upload',
          entityType: 'model',
          entityId: row.id,
          after: summary(row),
        });
        return present(row);
      });
    } catch (e) {
      await this.blobs.delete(up.blobKey);
      throw e;
    }
  }

  private receive(headers: IncomingHttpHeaders, body: Readable): Promise<Upload> {
    if (!String(headers['content-type'] ?? '').startsWith('multipart/form-data')) {
      throw new BadRequestException('body: expected multipart/form-data with a file field "bundle"');
    }
    const max = this.config.maxBundleBytes;
    return new Promise<Upload>((resolve, reject) => {
      let bb: busboy.Busboy;
      try {
        bb = busboy({ headers, limits: { fileSize: max, files: 1, fields: 8, fieldSize: 16 * 1024 } });
      } catch (e) {
        reject(new BadRequestException(`body: ${(e as Error).message}`));
        return;
      }
      const fields: Record<string, string> = {};
      let stored: Promise<Omit<Upload, 'fields'>> | null = null;
      let truncated = false;
      bb.on('field', (name, value) => {
        fields[name] = value;
      });
      bb.on('file', (name, file) => {
        if (name !== 'bundle' || stored) {
          file.resume();
          return;
        }
        const hash = createHash('sha256');
        // The one tar reader of the repo, fed as the bytes stream past; it keeps only manifest.json.
        // Every file also runs through the streaming ONNX check; the manifest says afterwards which are graphs.
        const onnx = new Map<string, OnnxVerdict>();
        const reader = new TarReader({
          keep: isManifestPath,
          sink: (path) => onnxCheckSink((v) => onnx.set(path, v)),
        });
        let bytes = 0;
        const tap = new Transform({
          transform(chunk: Buffer, _enc, cb) {
            bytes += chunk.length;
            hash.update(chunk);
            reader.write(chunk).then(
              () => cb(null, chunk),
              (e) => cb(e as Error),
            );
          },
        });
        file.on('limit', () => {
          truncated = true;
        });
        const blobKey = `bundles/${randomUUID()}.tar`;
        // pipeline, not pipe: a file stream busboy destroys (a truncated form) must fail the blob write, so that
        // the store removes its partial file instead of waiting for an end that never comes.
        const pass = new PassThrough();
        pipeline(file, tap, pass, () => {});
        body.once('close', () => {
          if (body.readableEnded) return;
          const aborted = new BadRequestException('body: the upload was aborted');
          pass.destroy(aborted);
          // busboy never closes on an aborted request: settle here (the store's rejection is then expected).
          stored?.catch(() => {});
          reject(aborted);
        });
        stored = this.blobs
          .put(blobKey, pass)
          .then(() => ({ blobKey, bytes, sha256: hash.digest('hex'), reader, onnx }));
      });
      bb.on('error', (e) => reject(new BadRequestException(`body: ${(e as Error).message}`)));
      bb.on('close', () => {
        if (!stored) {
          reject(new BadRequestException('body: missing file field "bundle"'));
          return;
        }
        stored.then(
          async (s) => {
            if (truncated) {
              await this.blobs.delete(s.blobKey);
              reject(
                new HttpException(
                  `bundle: larger than the limit of ${max} bytes`,
                  HttpStatus.PAYLOAD_TOO_LARGE,
                ),
              );
              return;
            }
            resolve({ ...s, fields });
          },
          (e) => reject(e),
        );
      });
      body.pipe(bb);
    });
  }

  private async checkSignature(
    sha256: string,
    signature?: string,
    signedBy?: string,
  ): Promise<string | null> {
    if (!signature) {
      if (this.config.requireSignedModels) {
        throw new UnprocessableEntityException('signature: this control plane accepts only signed bundles');
      }
      return null;
    }
    if (!signedBy)
      throw new UnprocessableEntityException('signedBy: name the signing key that made the signature');
    const key = await this.db.prisma.signingKey.findUnique({ where: { name: signedBy } });
    if (!key || key.revokedAt)
      throw new UnprocessableEntityException(`signedBy: no active signing key "${signedBy}"`);
    if (!checkSignature(sha256, signature, ed25519PublicKey(key.publicKey))) {
      throw new UnprocessableEntityException(`signature: does not verify with key "${signedBy}"`);
    }
    return signedBy;
  }

  async list(q: z.infer<typeof ModelListQuery>) {
    const rows = await this.db.prisma.modelVersion.findMany({
      where: { name: q.name, status: q.status },
      orderBy: [{ name: 'asc' }, { createdAt: 'desc' }],
    });
    return rows.map(present);
  }

  async get(name: string, version: string) {
    return present(await this.find(name, version));
  }

  async find(name: string, version: string): Promise<ModelVersion> {
    const row = await this.db.prisma.modelVersion.findUnique({ where: { name_version: { name, version } } });
    if (!row) throw new NotFoundException(`model ${name}@${version} not found`);
    return row;
  }

  async setStatus(
    ctx: RequestContext,
    name: string,
    version: string,
    input: z.infer<typeof ModelStatusChange>,
  ) {
    return this.db.prisma.$transaction(async (tx) => {
      const before = await tx.modelVersion.findUnique({ where: { name_version: { name, version } } });
      if (!before) throw new NotFoundException(`model ${name}@${version} not found`);
      if (input.status === 'retired') {
        const inUse = await tx.device.count({
          where: { OR: [{ desiredModelVersionId: before.id }, { shadowModelVersionId: before.id }] },
        });
        if (inUse > 0) {
          throw new ConflictException(
            `model ${name}@${version} is still the desired model of ${inUse} device(s)`,
          );
        }
      }
      const after = await tx.modelVersion.update({
        where: { id: before.id },
        data: { status: input.status, statusReason: input.reason ?? null },
      });
      await this.audit.record(tx, ctx, {
        action: `model.${input.status === 'active' ? 'reactivate' : input.status === 'deprecated' ? 'deprecate' : 'retire'}`,
        entityType: 'model',
        entityId: before.id,
        before: summary(before),
        after: summary(after),
      });
      return present(after);
    });
  }

  /** The bundle tar as a stream. */
  async open(row: ModelVersion) {
    const blob = await this.blobs.get(row.blobKey);
    if (!blob)
      throw new NotFoundException(`bundle blob of ${row.name}@${row.version} is missing from the store`);
    return blob;
  }

  async createSigningKey(ctx: RequestContext, input: z.infer<typeof CreateSigningKey>) {
    try {
      ed25519PublicKey(input.publicKey);
    } catch (e) {
      throw new BadRequestException(`body.publicKey: ${(e as Error).message}`);
    }
    return this.db.prisma.$transaction(async (tx) => {
      const row = await tx.signingKey.create({ data: input });
      await this.audit.record(tx, ctx, {
        action: 'signingkey.create',
        entityType: 'signingkey',
        entityId: row.id,
        after: row,
      });
      return row;
    });
  }

  listSigningKeys() {
    return this.db.prisma.signingKey.findMany({ orderBy: { name: 'asc' } });
  }
}

function summary(r: ModelVersion) {
  return {
    name: r.name,
    version: r.version,
    sha256: r.sha256,
    status: r.status,
    statusReason: r.statusReason,
  };
}

export function present(r: ModelVersion) {
  const manifest = r.manifest as { calibration?: unknown };
  return toPlain({
    id: r.id,
    name: r.name,
    version: r.version,
    sha256: r.sha256,
    bytes: r.bytes,
    status: r.status,
    statusReason: r.statusReason,
    description: r.description,
    calibration: manifest.calibration ?? null,
    signature: r.signature,
    signedBy: r.signedBy,
    createdBy: r.createdBy,
    createdAt: r.createdAt,
    manifest: r.manifest,
  }) as Record<string, unknown>;
}
