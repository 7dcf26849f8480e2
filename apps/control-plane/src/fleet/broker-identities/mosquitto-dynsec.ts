import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import { type BrokerIdentity, BrokerIdentityError, devicePublishTopics } from './identity.js';
import type { BrokerIdentityProvisioner } from './provisioner.js';

const CONTROL_TOPIC = '$CONTROL/dynamic-security/v1';
const RESPONSE_TOPIC = `${CONTROL_TOPIC}/response`;

export interface MosquittoDynsecOptions {
  /** The broker, as an admin client of the dynamic-security plugin. */
  url: string;
  username: string;
  password: string;
  /** How long to wait for the broker (connect, and each answer of the plugin). */
  timeoutMs: number;
}

interface DynsecCommand {
  command: string;
  [k: string]: unknown;
}
interface DynsecResponse {
  command: string;
  error?: string;
  correlationData?: string;
}

/** A command the plugin may refuse without it being a failure (the upsert's "already there" / "not there"). */
type Tolerated = RegExp | null;

/** The role that carries the device's permissions; one per device, named after its login. */
export function roleName(identity: BrokerIdentity): string {
  return identity.username;
}

/**
 * Mosquitto's dynamic-security plugin (`mosquitto_dynamic_security.so`, Mosquitto ≥ 2.0), driven as its admin
 * over MQTT: commands on `$CONTROL/dynamic-security/v1`, answers on `.../response`, matched by correlationData.
 * The plugin stores the client's password salted and hashed (PBKDF2-SHA512) in its own file and applies changes at
 * once, without a restart; disableClient and deleteClient also disconnect a connected client.
 *
 * A connection per operation: enrolment and disable are rare, and a fresh connection never has stale state.
 */
export class MosquittoDynsecProvisioner implements BrokerIdentityProvisioner {
  readonly kind = 'mosquitto-dynsec' as const;

  constructor(private readonly o: MosquittoDynsecOptions) {}

  async provision(identity: BrokerIdentity): Promise<void> {
    const role = roleName(identity);
    const acls = devicePublishTopics(identity.address).map((topic) => ({
      acltype: 'publishClientSend',
      topic,
      priority: 0,
      allow: true,
    }));
    // An upsert made of plain commands: the role is rebuilt (so its ACLs are exactly these), the client is created
    // or, when it exists, given the password again, then bound to the role and enabled.
    await this.run([
      [{ command: 'deleteRole', rolename: role }, /not found/i],
      [{ command: 'createRole', rolename: role, acls }, null],
      [
        { command: 'createClient', username: identity.username, password: identity.password },
        /already exists/i,
      ],
      [{ command: 'setClientPassword', username: identity.username, password: identity.password }, null],
      [{ command: 'addClientRole', username: identity.username, rolename: role, priority: 0 }, null],
      [{ command: 'enableClient', username: identity.username }, null],
    ]);
  }

  async revoke(identity: BrokerIdentity): Promise<void> {
    // A client that does not exist cannot log in: revoking it is already done.
    await this.run([[{ command: 'disableClient', username: identity.username }, /not found/i]]);
  }

  async remove(identity: BrokerIdentity): Promise<void> {
    await this.run([
      [{ command: 'deleteClient', username: identity.username }, /not found/i],
      [{ command: 'deleteRole', rolename: roleName(identity) }, /not found/i],
    ]);
  }

  async close(): Promise<void> {}

  /** Sends the commands in one message and checks each answer; the first unexpected error is thrown. */
  async run(commands: Array<[DynsecCommand, Tolerated]>): Promise<DynsecResponse[]> {
    const client = await this.connect();
    try {
      const ids = commands.map(() => randomUUID());
      const answers = await this.exchange(
        client,
        commands.map(([c], i) => ({ ...c, correlationData: ids[i] })),
        ids,
      );
      for (const [i, [cmd, tolerated]] of commands.entries()) {
        const a = answers[i];
        if (a.error && !tolerated?.test(a.error)) {
          throw new BrokerIdentityError(
            `mosquitto dynamic security at ${this.o.url}: ${cmd.command} ${String(cmd.username ?? cmd.rolename ?? '')} refused: ${a.error}`,
          );
        }
      }
      return answers;
    } finally {
      await client.endAsync().catch(() => {});
    }
  }

  private async connect(): Promise<MqttClient> {
    const client = mqtt.connect(this.o.url, {
      username: this.o.username,
      password: this.o.password,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: this.o.timeoutMs,
      clientId: `diad-cp-dynsec-${randomUUID().slice(0, 8)}`,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.once('connect', () => resolve());
        client.once('error', reject);
        client.once('close', () => reject(new Error('connection closed')));
      });
      const granted = await client.subscribeAsync(RESPONSE_TOPIC, { qos: 1 });
      if (granted.some((g) => g.qos >= 0x80))
        throw new Error(
          `subscription to ${RESPONSE_TOPIC} refused (is ${this.o.username} the plugin's admin?)`,
        );
      return client;
    } catch (e) {
      client.end(true);
      throw new BrokerIdentityError(
        `mosquitto dynamic security at ${this.o.url}: cannot connect as ${this.o.username}: ${(e as Error).message}`,
      );
    }
  }

  private exchange(client: MqttClient, commands: DynsecCommand[], ids: string[]): Promise<DynsecResponse[]> {
    return new Promise((resolve, reject) => {
      const got = new Map<string, DynsecResponse>();
      const timer = setTimeout(() => {
        client.removeListener('message', onMessage);
        reject(
          new BrokerIdentityError(
            `mosquitto dynamic security at ${this.o.url}: no answer on ${RESPONSE_TOPIC} within ${this.o.timeoutMs} ms (is the dynamic-security plugin loaded, and is ${this.o.username} its admin?)`,
          ),
        );
      }, this.o.timeoutMs);
      const onMessage = (topic: string, payload: Buffer) => {
        if (topic !== RESPONSE_TOPIC) return;
        let parsed: { responses?: DynsecResponse[] };
        try {
          parsed = JSON.parse(payload.toString('utf8'));
        } catch {
          return;
        }
        for (const r of parsed.responses ?? []) if (r.correlationData) got.set(r.correlationData, r);
        if (ids.every((id) => got.has(id))) {
          clearTimeout(timer);
          client.removeListener('message', onMessage);
          resolve(ids.map((id) => got.get(id)!));
        }
      };
      client.on('message', onMessage);
      client.publish(CONTROL_TOPIC, JSON.stringify({ commands }), { qos: 1 }, (err) => {
        if (err) {
          clearTimeout(timer);
          client.removeListener('message', onMessage);
          reject(
            new BrokerIdentityError(
              `mosquitto dynamic security at ${this.o.url}: publishing to ${CONTROL_TOPIC} failed: ${err.message}`,
            ),
          );
        }
      });
    });
  }
}
