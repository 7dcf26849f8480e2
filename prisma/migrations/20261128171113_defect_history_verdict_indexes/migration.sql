-- CreateIndex
CREATE INDEX "results_line_verdict_inspected_at_idx" ON "results"("line", "verdict", "inspected_at" DESC);

-- CreateIndex
CREATE INDEX "results_site_line_station_verdict_inspected_at_idx" ON "results"("site", "line", "station", "verdict", "inspected_at" DESC);
