import { createHmac } from 'node:crypto';
import { type StationAddress, topics } from '@diad/protocol';

/** One device's login on the site broker and what it may do there. */
export interface BrokerIdentity {
  username: string;
  password: string;
  /** The station the device is enrolled at: the only topics it may publish to. */
  address: StationAddress;
}

/** A broker could not be told about an identity; the message names the broker and what to check. */
export class BrokerIdentityError extends Error {
  override name = 'BrokerIdentityError';
}

/** Broker user names are the device id with a prefix, so an operator reading the broker's user list knows them. */
export function brokerUsername(deviceId: string): string {
  return `diad-dev-${deviceId}`;
}

/**
 * The device's broker password, derived from a control-plane secret and the device id (HMAC-SHA256, 256 bits).
 *
 * Why derived and not random-and-stored: provisioning has to be repeatable (a retried enrolment, a re-enable after
 * the broker lost its state, the NATS users file rewritten from the device list by any replica) and each of those
 * needs the password or a broker-specific hash of it. Deriving it keeps nothing in the database to steal (a dump of
 * the database yields no broker password) and makes every provisioning call an idempotent upsert. The cost: whoever
 * holds BROKER_IDENTITY_SECRET can compute every device's broker password, as whoever holds JWT_SECRET can mint
 * admin tokens; it is kept like that one.
 */
export function brokerPassword(secret: string, deviceId: string): string {
  return createHmac('sha256', secret).update(`diad-broker-password/v1\0${deviceId}`).digest('base64url');
}

export function brokerIdentity(secret: string, deviceId: string, address: StationAddress): BrokerIdentity {
  return { username: brokerUsername(deviceId), password: brokerPassword(secret, deviceId), address };
}

/**
 * What a device may publish: its own station's result and status topics (status is retained and also its last
 * will). It subscribes to nothing: desired state and bundles come over HTTPS with the device credential, and the
 * topic tree has no command topics.
 */
export function devicePublishTopics(address: StationAddress): string[] {
  return [topics.result(address), topics.status(address)];
}

/**
 * The NATS subjects for an MQTT topic: the JetStream sink's subject ('/' → '.') and the subject NATS' MQTT listener
 * maps the topic to ('.' in a level → '//', then '/' → '.'). They differ only when a code contains a '.'.
 */
export function natsSubjects(topic: string): string[] {
  return [...new Set([topic.replaceAll('/', '.'), mqttSubject(topic)])];
}

/** NATS' MQTT topic → subject mapping for topics without leading/trailing or empty levels (ours never have them). */
export function mqttSubject(topic: string): string {
  return topic
    .split('/')
    .map((level) => level.replaceAll('.', '//'))
    .join('.');
}
