-- #20: results an agent set aside (refused for good), as its heartbeat reports them, for the fleet view.
ALTER TABLE "devices" ADD COLUMN "set_aside" JSONB;
