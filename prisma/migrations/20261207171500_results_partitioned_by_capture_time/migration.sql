-- Results partitioned by capture time (declarative RANGE partitions, UTC bounds).
--
-- Partitions are named results_p<YYYYMMDD of lower bound>_<YYYYMMDD of upper bound>; the control plane reads the
-- bounds from the names, creates the next ones ahead of time and drops whole partitions past the retention.
-- results_default holds rows outside every partition (a device clock far off, history older than the first
-- partition); the control plane moves them into a partition when it creates one covering them.
--
-- A unique index on a partitioned table must contain the partition key, so the primary key is
-- (result_id, captured_at). An agent resends a result with the same id and capture time (both come from its
-- outbox), so ON CONFLICT on that key keeps ingestion idempotent; the insert also skips an id already stored
-- under another capture time (see apps/control-plane/src/results/result-row.ts).
--
-- Existing rows are copied into the new table in this migration's transaction; the old table is dropped.

ALTER TABLE "results" RENAME TO "results_unpartitioned";

CREATE TABLE "results" (
    "result_id" UUID NOT NULL,
    "site" TEXT NOT NULL,
    "line" TEXT NOT NULL,
    "station" TEXT NOT NULL,
    "camera" TEXT NOT NULL,
    "device_id" TEXT NOT NULL,
    "part_id" TEXT NOT NULL,
    "category" TEXT,
    "captured_at" TIMESTAMPTZ(3) NOT NULL,
    "inspected_at" TIMESTAMPTZ(3) NOT NULL,
    "state" TEXT NOT NULL,
    "verdict" TEXT,
    "score" DOUBLE PRECISION,
    "normalized_score" DOUBLE PRECISION,
    "defect_area_px" INTEGER,
    "threshold_version" INTEGER,
    "threshold_image" DOUBLE PRECISION,
    "model_name" TEXT,
    "model_version" TEXT,
    "model_sha256" TEXT,
    "provider" TEXT,
    "timings_ms" JSONB,
    "error_code" TEXT,
    "error_message" TEXT,
    "image_ref" TEXT,
    "heatmap_ref" TEXT,
    "shadow_model_version" TEXT,
    "shadow_score" DOUBLE PRECISION,
    "shadow_verdict" TEXT,
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
) PARTITION BY RANGE ("captured_at");

CREATE TABLE "results_default" PARTITION OF "results" DEFAULT;

-- Monthly partitions for every month that holds rows (back to 24 months ago; older rows go to the default
-- partition) and for the current month and the next two.
DO $$
DECLARE
  m timestamp;
BEGIN
  FOR m IN
    SELECT DISTINCT date_trunc('month', "captured_at" AT TIME ZONE 'UTC')
      FROM "results_unpartitioned"
     WHERE "captured_at" >= date_trunc('month', now() AT TIME ZONE 'UTC') - interval '24 months'
       AND "captured_at" < date_trunc('month', now() AT TIME ZONE 'UTC')
    UNION
    SELECT generate_series(date_trunc('month', now() AT TIME ZONE 'UTC'),
                           date_trunc('month', now() AT TIME ZONE 'UTC') + interval '2 months',
                           interval '1 month')
  LOOP
    EXECUTE format(
      'CREATE TABLE %I PARTITION OF "results" FOR VALUES FROM (%L) TO (%L)',
      'results_p' || to_char(m, 'YYYYMMDD') || '_' || to_char(m + interval '1 month', 'YYYYMMDD'),
      to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00',
      to_char(m + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
  END LOOP;
END $$;

INSERT INTO "results" (
    "result_id", "site", "line", "station", "camera", "device_id", "part_id", "category", "captured_at",
    "inspected_at", "state", "verdict", "score", "normalized_score", "defect_area_px", "threshold_version",
    "threshold_image", "model_name", "model_version", "model_sha256", "provider", "timings_ms", "error_code",
    "error_message", "image_ref", "heatmap_ref", "shadow_model_version", "shadow_score", "shadow_verdict",
    "received_at")
SELECT
    "result_id", "site", "line", "station", "camera", "device_id", "part_id", "category", "captured_at",
    "inspected_at", "state", "verdict", "score", "normalized_score", "defect_area_px", "threshold_version",
    "threshold_image", "model_name", "model_version", "model_sha256", "provider", "timings_ms", "error_code",
    "error_message", "image_ref", "heatmap_ref", "shadow_model_version", "shadow_score", "shadow_verdict",
    "received_at"
FROM "results_unpartitioned";

DROP TABLE "results_unpartitioned";

ALTER TABLE "results" ADD CONSTRAINT "results_pkey" PRIMARY KEY ("result_id", "captured_at");

-- The same indexes as before, now one per partition.
CREATE INDEX "results_inspected_at_result_id_idx" ON "results"("inspected_at" DESC, "result_id" DESC);
CREATE INDEX "results_site_line_station_inspected_at_idx" ON "results"("site", "line", "station", "inspected_at" DESC);
CREATE INDEX "results_line_inspected_at_idx" ON "results"("line", "inspected_at" DESC);
CREATE INDEX "results_line_verdict_inspected_at_idx" ON "results"("line", "verdict", "inspected_at" DESC);
CREATE INDEX "results_site_line_station_verdict_inspected_at_idx" ON "results"("site", "line", "station", "verdict", "inspected_at" DESC);
CREATE INDEX "results_device_id_inspected_at_idx" ON "results"("device_id", "inspected_at" DESC);
CREATE INDEX "results_model_name_model_version_inspected_at_idx" ON "results"("model_name", "model_version", "inspected_at" DESC);
CREATE INDEX "results_part_id_idx" ON "results"("part_id");
