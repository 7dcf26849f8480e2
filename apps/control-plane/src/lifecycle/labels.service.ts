import { Readable } from 'node:stream';
import { uuidv7 } from '@diad/protocol';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import sharp from 'sharp';
import { z } from 'zod';
import { AuditService } from '../audit/audit.service.js';
import type { BlobStore } from '../blob/blob-store.js';
import type { RequestContext } from '../common/request-context.js';
import { BLOB_STORE } from '../common/tokens.js';
import { Database } from '../db/database.js';

export const LABELS = ['confirmed_defect', 'false_alarm', 'missed_defect', 'confirmed_ok'] as const;
export type LabelKind = (typeof LABELS)[number];

/** Which verdict each label is about: a supervisor confirms or corrects what the model said. */
const VERDICT_OF: Record<LabelKind, 'NOK' | 'OK'> = {
  confirmed_defect: 'NOK',
  false_alarm: 'NOK',
  missed_defect: 'OK',
  confirmed_ok: 'OK',
};

/** Whether the part really is defective, by the label. */
export function isDefect(label: LabelKind): boolean {
  return label === 'confirmed_defect' || label === 'missed_defect';
}

const MAX_MASK_BYTES = 2 * 1024 * 1024;

export const CreateLabel = z
  .object({
    label: z.enum(LABELS),
    note: z.string().max(2000).optional(),
    /** PNG of the defect region (non-zero = defect), base64; only for labels that say the part is defective. */
    maskPngBase64: z
      .string()
      .max(Math.ceil((MAX_MASK_BYTES * 4) / 3) + 4, 'expected at most 2 MiB of PNG')
      .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected base64')
      .optional(),
  })
  .strict();
export type CreateLabel = z.infer<typeof CreateLabel>;

/** Supervisors' verdicts on results: versioned (a correction is a new version), audited, with an optional mask. */
@Injectable()
export class LabelsService {
  constructor(
    @Inject(Database) private readonly db: Database,
    @Inject(AuditService) private readonly audit: AuditService,
    @Inject(BLOB_STORE) private readonly blobs: BlobStore,
  ) {}

  async create(ctx: RequestContext, resultId: string, input: CreateLabel) {
    const result = await this.db.prisma.result.findFirst({
      where: { resultId },
      select: { resultId: true, verdict: true, state: true },
    });
    if (!result) throw new NotFoundException(`result ${resultId} not found`);
    if (!result.verdict)
      throw new BadRequestException(
        `result ${resultId} has no verdict (state ${result.state}): nothing to label`,
      );
    const expected = VERDICT_OF[input.label];
    if (result.verdict !== expected)
      throw new BadRequestException(
        `body.label: "${input.label}" is for ${expected} results; this result's verdict is ${result.verdict}`,
      );
    let mask: Buffer | undefined;
    if (input.maskPngBase64 !== undefined) {
      if (!isDefect(input.label))
        throw new BadRequestException(
          `body.maskPngBase64: a mask marks a defect; "${input.label}" says there is none`,
        );
      mask = await checkMask(Buffer.from(input.maskPngBase64, 'base64'));
    }
    return this.db.prisma.$transaction(async (tx) => {
      const last = await tx.resultLabel.findFirst({ where: { resultId }, orderBy: { version: 'desc' } });
      const version = (last?.version ?? 0) + 1;
      let maskRef: string | null = null;
      if (mask) {
        maskRef = `labels/${resultId.slice(0, 8)}/${resultId}.v${version}.mask.png`;
        await this.blobs.put(maskRef, Readable.from(mask));
      }
      const row = await tx.resultLabel.create({
        data: {
          id: uuidv7(),
          resultId,
          version,
          label: input.label,
          maskRef,
          note: input.note ?? null,
          createdBy: ctx.principal.name,
        },
      });
      await this.audit.record(tx, ctx, {
        action: last ? 'label.correct' : 'label.create',
        entityType: 'result',
        entityId: resultId,
        before: last,
        after: row,
      });
      return row;
    });
  }

  /** Every version, newest first. */
  history(resultId: string) {
    return this.db.prisma.resultLabel.findMany({ where: { resultId }, orderBy: { version: 'desc' } });
  }

  async mask(resultId: string, version: number) {
    const row = await this.db.prisma.resultLabel.findUnique({
      where: { resultId_version: { resultId, version } },
    });
    if (!row?.maskRef) throw new NotFoundException(`label ${version} of result ${resultId} has no mask`);
    const blob = await this.blobs.get(row.maskRef);
    if (!blob) throw new NotFoundException(`mask of label ${version} of result ${resultId} is missing`);
    return blob;
  }
}

/** A mask must be a PNG we can read, of a sensible size; it is stored as one-channel 0/255. */
async function checkMask(bytes: Buffer): Promise<Buffer> {
  if (bytes.length > MAX_MASK_BYTES) throw new BadRequestException('body.maskPngBase64: larger than 2 MiB');
  try {
    const img = sharp(bytes, { limitInputPixels: 4096 * 4096 });
    const meta = await img.metadata();
    if (meta.format !== 'png') throw new Error(`expected a PNG, got ${meta.format ?? 'unknown data'}`);
    return await img.greyscale().threshold(1).png().toBuffer();
  } catch (e) {
    throw new BadRequestException(`body.maskPngBase64: ${(e as Error).message}`);
  }
}
