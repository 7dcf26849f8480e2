import type { Readable } from 'node:stream';
import { PassThrough, Writable } from 'node:stream';
import { uuidv7 } from '@diad/protocol';
import { TarError, TarReader } from '@diad/protocol/tar';
import {
  BadRequestException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import sharp from 'sharp';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { BlobStore } from '../blob/blob-store.js';
import type { RequestContext } from '../common/request-context.js';
import { BLOB_STORE, CLOCK, type Clock, CONFIG } from '../common/tokens.js';
import type { ControlPlaneConfig } from '../config.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';
import { IMAGE_EXTENSIONS, LayoutError, planMvtecImport } from './mvtec-layout.js';

export const ImportDatasetQuery = z
  .object({
    /** Dataset name; default: the archive's category folder. */
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-"')
      .optional(),
  })
  .strict();
export type ImportDatasetQuery = z.infer<typeof ImportDatasetQuery>;

const TAR_TYPES = ['application/x-tar', 'application/tar', 'application/octet-stream'];
/** Largest image side accepted (sharp's pixel limit): a decompression bomb is refused before it is decoded. */
const MAX_PIXELS = 8192 * 8192;

interface Staged {
  key: string;
  format: 'png' | 'jpeg';
}

/**
 * Imports a dataset in MVTec AD layout from a tar (through the one tar reader, `@diad/protocol/tar`, with its
 * limits) as a frozen dataset version of a line: train/good → training normals; test/good → validation normals;
 * test/<defect> → validation defects with their ground-truth masks. Every image is decoded once to refuse corrupt
 * files (naming them); masks are stored as one-channel black/white PNGs like painted masks. Imported images are not
 * inspection results: they exist only as the dataset's items (and blobs), so history and counts are untouched.
 */
@Injectable()
export class DatasetImportService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(CONFIG) private readonly config: ControlPlaneConfig,
  ) {}

  async importTar(
    ctx: RequestContext,
    lineId: string,
    query: ImportDatasetQuery,
    contentType: string | undefined,
    body: Readable,
  ) {
    const type = (contentType ?? '').split(';')[0].trim();
    if (!TAR_TYPES.includes(type)) {
      body.resume();
      throw new UnsupportedMediaTypeException(
        `content-type: expected ${TAR_TYPES[0]} (a tar in MVTec layout)`,
      );
    }
    const line = await this.db.prisma.line.findUnique({ where: { id: lineId } });
    if (!line) {
      body.resume();
      throw new NotFoundException(`line ${lineId} not found`);
    }
    const datasetId = uuidv7();
    const staged = new Map<string, Staged>();
    const pending: Array<Promise<unknown>> = [];
    try {
      const paths = await this.receive(datasetId, body, staged, pending);
      const plan = planMvtecImport(paths);
      const name = query.name ?? plan.category.toLowerCase();
      if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name))
        throw new BadRequestException(
          `query.name: the category "${plan.category}" is not a dataset name; give one (lowercase letters, digits, ".", "_" or "-")`,
        );
      const items = plan.images.map((img) => ({
        resultId: uuidv7(),
        split: img.split,
        label: img.label,
        imageRef: staged.get(img.path)!.key,
        maskRef: img.maskPath ? staged.get(img.maskPath)!.key : null,
      }));
      const defectTypes: Record<string, number> = {};
      for (const img of plan.images)
        if (img.defectType) defectTypes[img.defectType] = (defectTypes[img.defectType] ?? 0) + 1;
      const counts = {
        train: items.filter((i) => i.split === 'train').length,
        validationNormal: items.filter((i) => i.split === 'validation' && i.label === 'normal').length,
        validationDefect: items.filter((i) => i.label === 'defect').length,
        masks: items.filter((i) => i.maskRef).length,
      };
      return await this.db.prisma.$transaction(async (tx) => {
        const last = await tx.dataset.findFirst({ where: { lineId, name }, orderBy: { version: 'desc' } });
        const ds = await tx.dataset.create({
          data: {
            id: datasetId,
            lineId,
            name,
            version: (last?.version ?? 0) + 1,
            frozenAt: this.clock.now(),
            selection: {
              import: { format: 'mvtec', category: plan.category, defectTypes, skipped: plan.skipped },
            } as Prisma.InputJsonValue,
            counts,
            createdBy: ctx.principal.name,
          },
        });
        await tx.datasetItem.createMany({ data: items.map((i) => ({ ...i, datasetId })) });
        await this.audit.record(tx, ctx, {
          action: 'dataset.import',
          entityType: 'dataset',
          entityId: ds.id,
          after: ds,
        });
        return ds;
      });
    } catch (e) {
      // A refused archive may leave an image being stored (the reader stops without waiting for it).
      await Promise.allSettled(pending);
      await Promise.all([...staged.values()].map((s) => this.blobs.delete(s.key).catch(() => {})));
      if (e instanceof LayoutError || e instanceof TarError)
        throw new UnprocessableEntityException(e.message);
      throw e;
    }
  }

  /** Reads the tar, staging each image in the blob store once it decoded; returns every file path. */
  private async receive(
    datasetId: string,
    body: Readable,
    staged: Map<string, Staged>,
    pending: Array<Promise<unknown>>,
  ): Promise<string[]> {
    const maxTotal = this.config.maxDatasetImportBytes;
    let n = 0;
    const reader = new TarReader({
      maxEntryBytes: this.config.maxArtifactBytes,
      sink: (path, size) => {
        if (!path.includes('/') && path.toLowerCase().endsWith('.txt')) return null;
        const lower = path.toLowerCase();
        if (!IMAGE_EXTENSIONS.some((e) => lower.endsWith(e))) return null; // the layout check names it
        const chunks: Buffer[] = [];
        const index = n++;
        return new Writable({
          write(chunk: Buffer, _e, cb) {
            chunks.push(chunk);
            cb();
          },
          final: (cb) => {
            const work = this.stage(datasetId, index, path, Buffer.concat(chunks, size)).then((s) => {
              staged.set(path, s);
            });
            pending.push(work.catch(() => {}));
            work.then(
              () => cb(),
              (e) => cb(e as Error),
            );
          },
        });
      },
    });
    let total = 0;
    try {
      // Leaving the loop early must not destroy the request: the answer still has to go out on its socket.
      for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > maxTotal)
          throw new HttpException(
            `body: the archive is larger than the limit of ${maxTotal} bytes`,
            HttpStatus.PAYLOAD_TOO_LARGE,
          );
        await reader.write(chunk);
        if (reader.refused) break;
      }
    } finally {
      body.resume(); // drain what is left so the answer reaches the client
    }
    const contents = await reader.end();
    return contents.files.map((f) => f.path);
  }

  /** Decodes an image (refusing a corrupt one by name) and stores it; masks become black/white PNGs. */
  private async stage(datasetId: string, index: number, path: string, bytes: Buffer): Promise<Staged> {
    const mask = path.toLowerCase().endsWith('_mask.png') && path.split('/')[1] === 'ground_truth';
    let out = bytes;
    let format: 'png' | 'jpeg';
    try {
      const img = sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'error' });
      const meta = await img.metadata();
      if (meta.format !== 'png' && meta.format !== 'jpeg')
        throw new Error(`expected PNG or JPEG, got ${meta.format ?? 'unknown data'}`);
      if (mask && meta.format !== 'png') throw new Error('a mask must be a PNG');
      // Decoding the pixels (not only the header) is what finds a truncated or corrupt file.
      if (mask) out = await img.greyscale().threshold(1).png().toBuffer();
      else await img.raw().toBuffer();
      format = meta.format;
    } catch (e) {
      throw new LayoutError(`"${path}": not a readable image (${(e as Error).message})`);
    }
    const key = `datasets/${datasetId}/${mask ? 'masks' : 'images'}/${index}.${format === 'png' ? 'png' : 'jpg'}`;
    const body = new PassThrough();
    body.end(out);
    await this.blobs.put(key, body);
    return { key, format };
  }
}
