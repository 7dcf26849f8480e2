import { PassThrough, type Readable } from 'node:stream';
import { uuidv7 } from '@diad/protocol';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import tar from 'tar-stream';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { BlobStore } from '../blob/blob-store.js';
import type { RequestContext } from '../common/request-context.js';
import { BLOB_STORE, CLOCK, type Clock } from '../common/tokens.js';
import { Database } from '../db/database.js';
import type { Prisma } from '../generated/prisma/client.js';

export const FreezeDataset = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'expected lowercase letters, digits, ".", "_" or "-"'),
    /** Only results inspected in [from, to) are considered. */
    from: z.string().datetime({ offset: true }).optional(),
    to: z.string().datetime({ offset: true }).optional(),
    station: z.string().min(1).max(64).optional(),
    /** Most normal (OK, not labelled defective) images for training, newest first. */
    maxTrain: z.number().int().min(1).max(100_000).default(2000),
  })
  .strict();
export type FreezeDataset = z.infer<typeof FreezeDataset>;

interface Candidate {
  result_id: string;
  verdict: string;
  image_ref: string;
  label: string | null;
  mask_ref: string | null;
}

/**
 * Datasets: a version is a frozen selection of a line's stored images. Training takes normal images the model
 * passed and no supervisor called defective; validation takes every labelled image (confirmed OK and false alarms
 * are normal, confirmed and missed defects are defects), so the two never share an image.
 */
@Injectable()
export class DatasetsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async freeze(ctx: RequestContext, lineId: string, input: FreezeDataset) {
    const line = await this.db.prisma.line.findUnique({ where: { id: lineId }, include: { site: true } });
    if (!line) throw new NotFoundException(`line ${lineId} not found`);
    if (input.from && input.to && new Date(input.from) >= new Date(input.to))
      throw new BadRequestException('body.to: expected a time after body.from');
    // The current label of each result is its highest version.
    const candidates = await this.db.prisma.$queryRawUnsafe<Candidate[]>(
      `SELECT r.result_id, r.verdict, a.blob_key AS image_ref, l.label, l.mask_ref
         FROM results r
         JOIN result_artifacts a ON a.result_id = r.result_id AND a.kind = 'image'
         LEFT JOIN LATERAL (
           SELECT label, mask_ref FROM result_labels x WHERE x.result_id = r.result_id ORDER BY version DESC LIMIT 1
         ) l ON true
        WHERE r.site = $5 AND r.line = $1 AND r.verdict IS NOT NULL
          AND ($2::timestamptz IS NULL OR r.inspected_at >= $2)
          AND ($3::timestamptz IS NULL OR r.inspected_at < $3)
          AND ($4::text IS NULL OR r.station = $4)
        ORDER BY r.inspected_at DESC, r.result_id`,
      line.code,
      input.from ?? null,
      input.to ?? null,
      input.station ?? null,
      line.site.code,
    );
    const items: Array<{
      resultId: string;
      split: string;
      label: string;
      imageRef: string;
      maskRef: string | null;
    }> = [];
    let train = 0;
    for (const c of candidates) {
      if (c.label) {
        const defect = c.label === 'confirmed_defect' || c.label === 'missed_defect';
        items.push({
          resultId: c.result_id,
          split: 'validation',
          label: defect ? 'defect' : 'normal',
          imageRef: c.image_ref,
          maskRef: defect ? c.mask_ref : null,
        });
      } else if (c.verdict === 'OK' && train < input.maxTrain) {
        items.push({
          resultId: c.result_id,
          split: 'train',
          label: 'normal',
          imageRef: c.image_ref,
          maskRef: null,
        });
        train++;
      }
    }
    const counts = {
      train: train,
      validationNormal: items.filter((i) => i.split === 'validation' && i.label === 'normal').length,
      validationDefect: items.filter((i) => i.split === 'validation' && i.label === 'defect').length,
    };
    if (counts.train === 0)
      throw new BadRequestException('no normal images with stored pictures in the selection');
    return this.db.prisma.$transaction(async (tx) => {
      const last = await tx.dataset.findFirst({
        where: { lineId, name: input.name },
        orderBy: { version: 'desc' },
      });
      const ds = await tx.dataset.create({
        data: {
          id: uuidv7(),
          lineId,
          name: input.name,
          version: (last?.version ?? 0) + 1,
          frozenAt: this.clock.now(),
          selection: input as Prisma.InputJsonValue,
          counts,
          createdBy: ctx.principal.name,
        },
      });
      await tx.datasetItem.createMany({ data: items.map((i) => ({ ...i, datasetId: ds.id })) });
      await this.audit.record(tx, ctx, {
        action: 'dataset.freeze',
        entityType: 'dataset',
        entityId: ds.id,
        after: { ...ds, counts },
      });
      return ds;
    });
  }

  list(lineId: string) {
    return this.db.prisma.dataset.findMany({
      where: { lineId },
      orderBy: [{ name: 'asc' }, { version: 'desc' }],
    });
  }

  async get(id: string) {
    const ds = await this.db.prisma.dataset.findUnique({ where: { id } });
    if (!ds) throw new NotFoundException(`dataset ${id} not found`);
    return ds;
  }

  /**
   * The dataset as a tar in MVTec AD layout, category = the dataset's name:
   * `<name>/train/good/`, `<name>/test/good/`, `<name>/test/defect/`, `<name>/ground_truth/defect/<id>_mask.png`.
   * A defect without a painted mask has no ground-truth file (image-level label only).
   */
  async exportMvtec(id: string): Promise<{ name: string; stream: Readable }> {
    const ds = await this.get(id);
    const items = await this.db.prisma.datasetItem.findMany({
      where: { datasetId: id },
      orderBy: { resultId: 'asc' },
    });
    const pack = tar.pack();
    const out = new PassThrough();
    pack.pipe(out);
    const root = ds.name;
    const blobs = this.blobs;
    const entry = async (name: string, key: string) => {
      const blob = await blobs.get(key);
      if (!blob) throw new Error(`dataset ${id}: blob ${key} is missing from the blob store`);
      await new Promise<void>((resolve, reject) => {
        const w = pack.entry({ name, size: blob.bytes }, (e) => (e ? reject(e) : resolve()));
        blob.stream.on('error', reject);
        blob.stream.pipe(w);
      });
    };
    (async () => {
      for (const it of items) {
        const ext = it.imageRef.endsWith('.jpg') || it.imageRef.endsWith('.jpeg') ? 'jpg' : 'png';
        const dir = it.split === 'train' ? 'train/good' : it.label === 'defect' ? 'test/defect' : 'test/good';
        await entry(`${root}/${dir}/${it.resultId}.${ext}`, it.imageRef);
        if (it.maskRef) await entry(`${root}/ground_truth/defect/${it.resultId}_mask.png`, it.maskRef);
      }
      pack.finalize();
    })().catch((e) => out.destroy(e as Error));
    return { name: `${ds.name}-v${ds.version}.tar`, stream: out };
  }
}
