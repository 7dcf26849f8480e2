-- Idempotent enrolment (#15): a retry of the same enrolment request with its one-time token, after the reply was
-- lost, gets the same device and credential. The token row keeps what identifies the request and the random
-- nonce the device credential was derived with (the credential itself is never stored).
ALTER TABLE "enrolment_tokens" ADD COLUMN "request_hash" TEXT;
ALTER TABLE "enrolment_tokens" ADD COLUMN "credential_nonce" TEXT;
