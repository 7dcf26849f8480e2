import type { BrokerIdentity } from './identity.js';

/**
 * Gives a device its own login on the site broker, limited to its station's topics, and takes it away again.
 * Every method is idempotent (an upsert or a no-op when already done), so a caller that saw a failure retries the
 * same call. Failures throw BrokerIdentityError naming the broker and what to check.
 */
export interface BrokerIdentityProvisioner {
  readonly kind: 'mosquitto-dynsec' | 'nats-config';
  /** Creates or updates the login and its permissions, and enables it; returns once the broker accepts it. */
  provision(identity: BrokerIdentity): Promise<void>;
  /** The login stops working: new connections are refused and a connected device is disconnected. */
  revoke(identity: BrokerIdentity): Promise<void>;
  /** Removes the login and its permissions from the broker for good (device deleted). */
  remove(identity: BrokerIdentity): Promise<void>;
  close(): Promise<void>;
}
