-- Defect-history pages at fleet scale (#15). Every page is ORDER BY inspected_at DESC, result_id DESC with a
-- keyset cursor on (inspected_at, result_id). The filtered indexes ended at inspected_at, so a page either
-- re-sorted ties (incremental sort) or, when the planner judged a filter value common, walked the unfiltered
-- (inspected_at, result_id) index and filtered row by row: 3.9 s for the first page of a line whose results are
-- all a year old, at 5 M rows. Ending each index in result_id DESC gives every filter an index in exactly the
-- page's order, with the cursor as an index condition. The indexes replace the old ones (same count, so ingestion
-- writes no more index entries than before). On a partitioned table each CREATE INDEX builds the index on every
-- partition inside this migration's transaction: minutes for millions of rows; plan a maintenance window.
DROP INDEX IF EXISTS "results_site_line_station_inspected_at_idx";
DROP INDEX IF EXISTS "results_line_inspected_at_idx";
DROP INDEX IF EXISTS "results_line_verdict_inspected_at_idx";
DROP INDEX IF EXISTS "results_site_line_station_verdict_inspected_at_idx";
DROP INDEX IF EXISTS "results_device_id_inspected_at_idx";
DROP INDEX IF EXISTS "results_model_name_model_version_inspected_at_idx";
CREATE INDEX "results_site_line_station_inspected_at_result_id_idx" ON "results"("site", "line", "station", "inspected_at" DESC, "result_id" DESC);
CREATE INDEX "results_line_inspected_at_result_id_idx" ON "results"("line", "inspected_at" DESC, "result_id" DESC);
CREATE INDEX "results_line_verdict_inspected_at_result_id_idx" ON "results"("line", "verdict", "inspected_at" DESC, "result_id" DESC);
CREATE INDEX "results_site_line_station_verdict_inspected_at_result_id_idx" ON "results"("site", "line", "station", "verdict", "inspected_at" DESC, "result_id" DESC);
CREATE INDEX "results_device_id_inspected_at_result_id_idx" ON "results"("device_id", "inspected_at" DESC, "result_id" DESC);
CREATE INDEX "results_model_name_model_version_inspected_at_result_id_idx" ON "results"("model_name", "model_version", "inspected_at" DESC, "result_id" DESC);
