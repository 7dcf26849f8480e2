-- Training jobs (the queue itself is pg-boss's schema, created by pg-boss) and model evaluations on datasets.
CREATE TABLE "training_jobs" (
    "id" UUID NOT NULL,
    "line_id" UUID NOT NULL,
    "dataset_id" UUID NOT NULL,
    "config" JSONB NOT NULL,
    "status" TEXT NOT NULL,
    "progress" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "worker" TEXT,
    "model_version_id" UUID,
    "error" TEXT,
    "queue_job_id" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    CONSTRAINT "training_jobs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "training_jobs_status_check" CHECK ("status" IN ('queued', 'running', 'succeeded', 'failed', 'cancelled'))
);
CREATE INDEX "training_jobs_line_id_created_at_idx" ON "training_jobs"("line_id", "created_at" DESC);

CREATE TABLE "model_evaluations" (
    "id" UUID NOT NULL,
    "model_version_id" UUID NOT NULL,
    "dataset_id" UUID NOT NULL,
    "report" JSONB NOT NULL,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "model_evaluations_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "model_evaluations_model_version_id_dataset_id_created_at_idx" ON "model_evaluations"("model_version_id", "dataset_id", "created_at" DESC);
