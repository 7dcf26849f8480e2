import type { InspectionResult, StationAddress } from '@diad/protocol';

/**
 * The contract between a message transport (MQTT, NATS JetStream, ...) and the transport-independent ingestion
 * core (`IngestionCore`, ./ingestion-core.ts).
 *
 * The core's promise to every transport: a delivery is acknowledged only once its row is committed (or it was
 * refused for good, e.g. invalid, which is counted by reason and acknowledged so the broker stops offering it).
 * On shutdown or while the database is down, deliveries not yet committed are handed back with `nack()` and
 * never acknowledged. Duplicates (a redelivery of a committed result) are harmless: rows are idempotent on
 * result id, and the duplicate is acknowledged.
 */

/** One message received from a broker (or one result of an HTTP batch), waiting for its fate. */
export interface Delivery {
  /** Transport label used in metrics and logs: 'mqtt', 'nats', 'http', ... */
  readonly transport: string;
  /** The topic or subject it arrived on (for logs). */
  readonly topic: string;
  /**
   * The station the topic/subject names, when the transport carries one (MQTT `diad/<site>/<line>/<station>/result`,
   * NATS `diad.<site>.<line>.<station>.result`). The core refuses a result whose own address differs
   * (reason `topic-mismatch`). Undefined: no check.
   */
  readonly address?: StationAddress;
  /** The raw payload bytes exactly as received (JSON of an InspectionResult); checks may verify signatures over them. */
  readonly payload: Uint8Array;
  /** Transport headers / MQTT 5 user properties, when any (lower-case names). */
  readonly headers?: Readonly<Record<string, string>>;
  /** True when the broker says this is a redelivery (MQTT DUP flag, JetStream delivery count > 1). */
  readonly redelivered?: boolean;
  /**
   * Settles the delivery for good: the broker may forget it. Called exactly once per delivery by the core, after
   * the batch holding it committed, or at once for a permanent refusal. Must not throw; a failure to send the
   * acknowledgement (connection gone) only means the broker will redeliver, which is harmless.
   */
  ack(): void;
  /**
   * Hands the delivery back without acknowledging it (shutdown, database unavailable): the broker will redeliver
   * it, to this or another consumer. For MQTT this is "send no PUBACK"; for JetStream a `nak()`. Must not throw.
   */
  nack(): void;
}

/** What a transport hands its deliveries to. Implemented by `IngestionCore`. */
export interface DeliverySink {
  /**
   * Takes one delivery. Resolves when the core has taken it into its buffer (not when it is committed); while the
   * buffer is full it resolves later, which is the back-pressure a transport should honour by not reading more.
   */
  deliver(d: Delivery): Promise<void>;
}

/** The health a transport reports to `/readyz` and metrics. */
export interface TransportHealth {
  /** Connected and the consumer/subscription is confirmed by the broker (SUBACK granted, consumer bound). */
  attached: boolean;
  /** Set while a liveness probe found the subscription not delivering and it has not recovered yet. */
  stalled?: string;
  /** Free text for operators (broker URL, last error). */
  detail?: string;
}

/** A source of result deliveries (MQTT shared subscription, JetStream pull consumer, ...). */
export interface IngestionTransport {
  readonly name: string;
  /** Connects and starts handing deliveries to `sink`; resolves once attached (or throws). */
  start(sink: DeliverySink): Promise<void>;
  /**
   * Closes the connection. The core calls it after draining (its last batch committed and acknowledged, or handed
   * back with `nack()`), so a transport must keep its connection open until then for those acknowledgements. What
   * arrives meanwhile the core hands back at once. Nothing unacknowledged may be acknowledged by closing (MQTT:
   * no PUBACK, the persistent session redelivers; JetStream: un-acked messages are redelivered after AckWait).
   */
  stop(): Promise<void>;
  health(): TransportHealth;
}

/** A refusal for good: the delivery is acknowledged and counted in `diad_results_rejected_total{reason}`. */
export interface Refusal {
  reason: string;
  detail?: string;
}

/**
 * An extra validation step run by the core after schema, range, topic and device checks and before buffering
 * (e.g. verifying the device's signature over `delivery.payload`). Return a Refusal to drop it for good, or null.
 * Throwing counts as a transient failure: the delivery is handed back (`nack`) to be redelivered.
 */
export type ResultCheck = (
  result: InspectionResult,
  delivery: Delivery,
) => Refusal | null | Promise<Refusal | null>;
