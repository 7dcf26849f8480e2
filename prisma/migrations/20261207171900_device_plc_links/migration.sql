-- The station's PLC links as last reported in the agent's heartbeat (diad.heartbeat/v1 `plc`): per enabled
-- interface (opcua, modbus, s7) its state (up, idle, down), connected clients, pending S7 writes, detail.
ALTER TABLE "devices" ADD COLUMN "plc_links" JSONB;
