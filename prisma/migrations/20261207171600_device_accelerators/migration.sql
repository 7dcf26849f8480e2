-- The agent's start-up check of execution providers, as last reported in its heartbeat (diad.heartbeat/v1
-- `accelerators`): each provider's status and reason, the GPU found, the bundle variant in use.
ALTER TABLE "devices" ADD COLUMN "accelerators" JSONB;
