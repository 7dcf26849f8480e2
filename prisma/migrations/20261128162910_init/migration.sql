-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "Role" AS ENUM ('admin', 'engineer', 'supervisor', 'device');

-- CreateEnum
CREATE TYPE "ModelStatus" AS ENUM ('active', 'deprecated', 'retired');

-- CreateEnum
CREATE TYPE "RolloutStatus" AS ENUM ('running', 'paused', 'completed', 'aborted', 'rolled_back');

-- CreateEnum
CREATE TYPE "RolloutMode" AS ENUM ('normal', 'shadow');

-- CreateEnum
CREATE TYPE "RolloutDeviceState" AS ENUM ('waiting', 'pending', 'downloading', 'active', 'shadow', 'failed', 'rolled_back');

-- CreateTable
CREATE TABLE "sites" (
    "id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "sites_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "lines" (
    "id" UUID NOT NULL,
    "site_id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "lines_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "stations" (
    "id" UUID NOT NULL,
    "line_id" UUID NOT NULL,
    "code" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stations_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "devices" (
    "id" UUID NOT NULL,
    "station_id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "hostname" TEXT NOT NULL,
    "agent_version" TEXT NOT NULL,
    "providers" TEXT[],
    "credential_hash" TEXT NOT NULL,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "enrolled_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_seen_at" TIMESTAMPTZ(3),
    "health" TEXT,
    "provider" TEXT,
    "queue_depth" INTEGER NOT NULL DEFAULT 0,
    "outbox_depth" INTEGER NOT NULL DEFAULT 0,
    "active_model_name" TEXT,
    "active_model_version" TEXT,
    "active_model_sha256" TEXT,
    "desired_model_version_id" UUID,
    "shadow_model_version_id" UUID,
    "desired_rollout_id" UUID,
    "desired_revision" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "devices_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "enrolment_tokens" (
    "id" UUID NOT NULL,
    "token_hash" TEXT NOT NULL,
    "station_id" UUID NOT NULL,
    "device_name" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "used_at" TIMESTAMPTZ(3),
    "device_id" UUID,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "enrolment_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "users" (
    "id" UUID NOT NULL,
    "username" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "role" "Role" NOT NULL,
    "user_id" UUID,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "signing_keys" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "public_key" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),

    CONSTRAINT "signing_keys_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "model_versions" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "version" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "blob_key" TEXT NOT NULL,
    "manifest" JSONB NOT NULL,
    "description" TEXT,
    "image_threshold" DOUBLE PRECISION NOT NULL,
    "pixel_threshold" DOUBLE PRECISION NOT NULL,
    "signature" TEXT,
    "signed_by" TEXT,
    "status" "ModelStatus" NOT NULL DEFAULT 'active',
    "status_reason" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "model_versions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rollouts" (
    "id" UUID NOT NULL,
    "model_version_id" UUID NOT NULL,
    "mode" "RolloutMode" NOT NULL DEFAULT 'normal',
    "status" "RolloutStatus" NOT NULL DEFAULT 'running',
    "target" JSONB NOT NULL,
    "stages" JSONB NOT NULL,
    "policy" JSONB NOT NULL,
    "current_stage" INTEGER NOT NULL DEFAULT 0,
    "stage_started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "reason" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "rollouts_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rollout_devices" (
    "rollout_id" UUID NOT NULL,
    "device_id" UUID NOT NULL,
    "stage" INTEGER NOT NULL,
    "state" "RolloutDeviceState" NOT NULL DEFAULT 'waiting',
    "previous_model_version_id" UUID,
    "previous_shadow_version_id" UUID,
    "error" TEXT,
    "assigned_at" TIMESTAMPTZ(3),
    "activated_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rollout_devices_pkey" PRIMARY KEY ("rollout_id","device_id")
);

-- CreateTable
CREATE TABLE "threshold_sets" (
    "id" SERIAL NOT NULL,
    "line_id" UUID NOT NULL,
    "version" INTEGER NOT NULL,
    "effective_from" TIMESTAMPTZ(3) NOT NULL,
    "image" DOUBLE PRECISION,
    "pixel" DOUBLE PRECISION,
    "station_overrides" JSONB NOT NULL,
    "category_overrides" JSONB NOT NULL,
    "note" TEXT,
    "created_by" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "threshold_sets_pkey" PRIMARY KEY ("id")
);

-- CreateTable
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
    "received_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "results_pkey" PRIMARY KEY ("result_id")
);

-- CreateTable
CREATE TABLE "result_artifacts" (
    "result_id" UUID NOT NULL,
    "kind" TEXT NOT NULL,
    "device_id" UUID NOT NULL,
    "blob_key" TEXT NOT NULL,
    "content_type" TEXT NOT NULL,
    "bytes" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "result_artifacts_pkey" PRIMARY KEY ("result_id","kind")
);

-- CreateTable
CREATE TABLE "audit_log" (
    "id" BIGSERIAL NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor_type" TEXT NOT NULL,
    "actor_id" TEXT,
    "actor_name" TEXT,
    "role" TEXT,
    "action" TEXT NOT NULL,
    "entity_type" TEXT NOT NULL,
    "entity_id" TEXT,
    "before" JSONB,
    "after" JSONB,
    "request_id" TEXT,
    "ip" TEXT,

    CONSTRAINT "audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "sites_code_key" ON "sites"("code");

-- CreateIndex
CREATE UNIQUE INDEX "lines_site_id_code_key" ON "lines"("site_id", "code");

-- CreateIndex
CREATE UNIQUE INDEX "stations_line_id_code_key" ON "stations"("line_id", "code");

-- CreateIndex
CREATE INDEX "devices_station_id_idx" ON "devices"("station_id");

-- CreateIndex
CREATE UNIQUE INDEX "enrolment_tokens_token_hash_key" ON "enrolment_tokens"("token_hash");

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key" ON "users"("username");

-- CreateIndex
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys"("prefix");

-- CreateIndex
CREATE UNIQUE INDEX "signing_keys_name_key" ON "signing_keys"("name");

-- CreateIndex
CREATE INDEX "model_versions_sha256_idx" ON "model_versions"("sha256");

-- CreateIndex
CREATE UNIQUE INDEX "model_versions_name_version_key" ON "model_versions"("name", "version");

-- CreateIndex
CREATE INDEX "rollouts_status_idx" ON "rollouts"("status");

-- CreateIndex
CREATE INDEX "rollout_devices_device_id_idx" ON "rollout_devices"("device_id");

-- CreateIndex
CREATE INDEX "threshold_sets_line_id_effective_from_idx" ON "threshold_sets"("line_id", "effective_from");

-- CreateIndex
CREATE UNIQUE INDEX "threshold_sets_line_id_version_key" ON "threshold_sets"("line_id", "version");

-- CreateIndex
CREATE INDEX "results_inspected_at_result_id_idx" ON "results"("inspected_at" DESC, "result_id" DESC);

-- CreateIndex
CREATE INDEX "results_site_line_station_inspected_at_idx" ON "results"("site", "line", "station", "inspected_at" DESC);

-- CreateIndex
CREATE INDEX "results_line_inspected_at_idx" ON "results"("line", "inspected_at" DESC);

-- CreateIndex
CREATE INDEX "results_device_id_inspected_at_idx" ON "results"("device_id", "inspected_at" DESC);

-- CreateIndex
CREATE INDEX "results_model_name_model_version_inspected_at_idx" ON "results"("model_name", "model_version", "inspected_at" DESC);

-- CreateIndex
CREATE INDEX "results_part_id_idx" ON "results"("part_id");

-- CreateIndex
CREATE INDEX "audit_log_at_idx" ON "audit_log"("at" DESC);

-- CreateIndex
CREATE INDEX "audit_log_entity_type_entity_id_idx" ON "audit_log"("entity_type", "entity_id");

-- CreateIndex
CREATE INDEX "audit_log_actor_id_idx" ON "audit_log"("actor_id");

-- AddForeignKey
ALTER TABLE "lines" ADD CONSTRAINT "lines_site_id_fkey" FOREIGN KEY ("site_id") REFERENCES "sites"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "stations" ADD CONSTRAINT "stations_line_id_fkey" FOREIGN KEY ("line_id") REFERENCES "lines"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_station_id_fkey" FOREIGN KEY ("station_id") REFERENCES "stations"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_desired_model_version_id_fkey" FOREIGN KEY ("desired_model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "devices" ADD CONSTRAINT "devices_shadow_model_version_id_fkey" FOREIGN KEY ("shadow_model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enrolment_tokens" ADD CONSTRAINT "enrolment_tokens_station_id_fkey" FOREIGN KEY ("station_id") REFERENCES "stations"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rollouts" ADD CONSTRAINT "rollouts_model_version_id_fkey" FOREIGN KEY ("model_version_id") REFERENCES "model_versions"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rollout_devices" ADD CONSTRAINT "rollout_devices_rollout_id_fkey" FOREIGN KEY ("rollout_id") REFERENCES "rollouts"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "rollout_devices" ADD CONSTRAINT "rollout_devices_device_id_fkey" FOREIGN KEY ("device_id") REFERENCES "devices"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "threshold_sets" ADD CONSTRAINT "threshold_sets_line_id_fkey" FOREIGN KEY ("line_id") REFERENCES "lines"("id") ON DELETE CASCADE ON UPDATE CASCADE;
