-- #21: an evaluation is measured either on a dataset's validation split or on the live parts of a shadow rollout.
ALTER TABLE "model_evaluations" ALTER COLUMN "dataset_id" DROP NOT NULL;
ALTER TABLE "model_evaluations" ADD COLUMN "shadow_rollout_id" UUID;
ALTER TABLE "model_evaluations" ADD CONSTRAINT "model_evaluations_one_source_check"
    CHECK (("dataset_id" IS NULL) <> ("shadow_rollout_id" IS NULL));
CREATE INDEX "model_evaluations_model_version_id_shadow_rollout_id_created_at_idx"
    ON "model_evaluations"("model_version_id", "shadow_rollout_id", "created_at" DESC);
