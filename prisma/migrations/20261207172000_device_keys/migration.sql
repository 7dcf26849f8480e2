-- Device authentication on the bus (#20): each device's ed25519 public key, and the time of the last status
-- message applied, so replayed or retained status messages are not applied twice.
ALTER TABLE "devices" ADD COLUMN "public_key" TEXT;
ALTER TABLE "devices" ADD COLUMN "last_status_at" TIMESTAMPTZ(3);
ALTER TABLE "devices" ADD COLUMN "last_offline_at" TIMESTAMPTZ(3);
