import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'nats';
import { type BrokerIdentity, BrokerIdentityError, devicePublishTopics, natsSubjects } from './identity.js';
import type { BrokerIdentityProvisioner } from './provisioner.js';

/** A login written to the file as it is (the control plane's own, and any the operator adds), without limits. */
export interface StaticNatsUser {
  username: string;
  password: string;
}

export interface NatsConfigOptions {
  /** The file this provisioner owns; nats.conf includes it at top level (`include "diad-users.conf"`). */
  usersFile: string;
  /** nats-server pid files (`pid_file` in nats.conf), one per node that reads the file; each gets SIGHUP. */
  pidFiles: string[];
  /** A node's client URL, used to check that a login works (or no longer does) after the reload. */
  url: string;
  staticUsers: StaticNatsUser[];
  /** NATS configuration text inserted into the users list as it is (operator-maintained users), or none. */
  extraUsers?: string;
  /** The devices that must have a login now (enabled devices, from the database). */
  enabledDevices: () => Promise<BrokerIdentity[]>;
  timeoutMs: number;
  /** How long a change made here is kept on top of the database's list (until its transaction has committed). */
  overrideMs?: number;
  now?: () => number;
}

const q = (s: string) => JSON.stringify(s);

/**
 * The users file: an `authorization` block with the static users (no limits) and one user per device that may
 * publish only to its station's result and status subjects and subscribe only to `_INBOX.>` (JetStream's publish
 * acknowledgement comes back on the publisher's inbox). Pure.
 */
export function renderUsersFile(
  statics: StaticNatsUser[],
  devices: BrokerIdentity[],
  extraUsers?: string,
): string {
  const lines = [
    '# Written by the DiAD control plane (BROKER_IDENTITIES=nats-config); do not edit, it is rewritten on every',
    '# enrolment, disable and re-enable. Holds passwords: readable by nats-server only.',
    'authorization {',
    '  users: [',
  ];
  for (const u of statics) lines.push(`    { user: ${q(u.username)}, password: ${q(u.password)} }`);
  if (extraUsers?.trim()) lines.push(extraUsers.trim());
  const sorted = [...devices].sort((a, b) => a.username.localeCompare(b.username));
  for (const d of sorted) {
    const publish = devicePublishTopics(d.address).flatMap(natsSubjects);
    lines.push(
      `    { user: ${q(d.username)}, password: ${q(d.password)}, permissions: { publish: { allow: [${publish
        .map(q)
        .join(', ')}] }, subscribe: { allow: ["_INBOX.>"] } } }`,
    );
  }
  lines.push('  ]', '}', '');
  return lines.join('\n');
}

/**
 * NATS users with subject permissions in a generated include file, applied with a configuration reload (SIGHUP,
 * what `nats-server --signal reload` sends). Chosen over the account/JWT (operator mode) approach because it works
 * with a nats-server run from a plain config file, as the site broker is, needs no resolver or `nsc` tooling, and a
 * reload applies it without restarting the node or dropping other clients; on reload nats-server disconnects
 * clients whose user is gone. Its limits: the control plane must be able to write the file and signal each node
 * (same host or a shared volume), and with several replicas every one writes the whole list from the database (the
 * last write wins and holds every committed change; `resync` runs periodically to converge).
 *
 * A change is made before its database transaction commits (so a broker failure rolls the enrolment back), so the
 * list written is the database's committed devices with the recent changes made here laid over it.
 */
export class NatsConfigProvisioner implements BrokerIdentityProvisioner {
  readonly kind = 'nats-config' as const;
  private readonly overrides = new Map<string, { identity: BrokerIdentity; enabled: boolean; at: number }>();
  private chain: Promise<unknown> = Promise.resolve();
  private lastWritten: string | null = null;

  constructor(private readonly o: NatsConfigOptions) {}

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  provision(identity: BrokerIdentity): Promise<void> {
    return this.provisionWith(identity);
  }

  revoke(identity: BrokerIdentity): Promise<void> {
    return this.revokeWith(identity);
  }

  /**
   * As provision, with the device list read through the caller's transaction: with a single-connection database
   * (PGlite) a read outside the open transaction would wait for it.
   */
  async provisionWith(identity: BrokerIdentity, list?: () => Promise<BrokerIdentity[]>): Promise<void> {
    await this.change(identity, true, list);
    await this.waitFor(identity, true);
  }

  async revokeWith(identity: BrokerIdentity, list?: () => Promise<BrokerIdentity[]>): Promise<void> {
    await this.change(identity, false, list);
    await this.waitFor(identity, false);
  }

  /** A removed device is simply no longer in the list; on NATS there is nothing else to delete. */
  remove(identity: BrokerIdentity): Promise<void> {
    return this.revoke(identity);
  }

  async close(): Promise<void> {
    await this.chain.catch(() => {});
  }

  /** Rewrites the file from the database (and recent changes) and reloads when it changed. */
  resync(list?: () => Promise<BrokerIdentity[]>): Promise<boolean> {
    const run = this.chain.then(() => this.write(list ?? this.o.enabledDevices));
    this.chain = run.catch(() => {});
    return run;
  }

  private change(
    identity: BrokerIdentity,
    enabled: boolean,
    list?: () => Promise<BrokerIdentity[]>,
  ): Promise<boolean> {
    this.overrides.set(identity.username, { identity, enabled, at: this.now() });
    return this.resync(list);
  }

  private async write(list: () => Promise<BrokerIdentity[]>): Promise<boolean> {
    const keep = this.o.overrideMs ?? 120_000;
    for (const [k, v] of this.overrides) if (this.now() - v.at > keep) this.overrides.delete(k);
    const byName = new Map((await list()).map((d) => [d.username, d]));
    for (const [k, v] of this.overrides) {
      if (v.enabled) byName.set(k, v.identity);
      else byName.delete(k);
    }
    const text = renderUsersFile(this.o.staticUsers, [...byName.values()], this.o.extraUsers);
    if (text === this.lastWritten && this.current() === text) return false;
    const tmp = `${this.o.usersFile}.tmp`;
    try {
      writeFileSync(tmp, text, { mode: 0o600 });
      renameSync(tmp, this.o.usersFile);
    } catch (e) {
      throw new BrokerIdentityError(
        `nats users file ${this.o.usersFile}: cannot write: ${(e as Error).message}`,
      );
    }
    this.lastWritten = text;
    for (const pidFile of this.o.pidFiles) this.reload(pidFile);
    return true;
  }

  private current(): string | null {
    try {
      return readFileSync(this.o.usersFile, 'utf8');
    } catch {
      return null;
    }
  }

  private reload(pidFile: string): void {
    let pid: number;
    try {
      pid = Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10);
    } catch (e) {
      throw new BrokerIdentityError(`nats-server pid file ${pidFile}: unreadable: ${(e as Error).message}`);
    }
    if (!Number.isInteger(pid) || pid <= 0)
      throw new BrokerIdentityError(`nats-server pid file ${pidFile}: no process id in it`);
    try {
      process.kill(pid, 'SIGHUP');
    } catch (e) {
      throw new BrokerIdentityError(
        `nats-server ${pid} (from ${pidFile}): cannot signal a reload: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  }

  /**
   * A reload is asynchronous and a bad file is only logged by nats-server, so the change is proven by logging in:
   * until the login works (provision) or is refused (revoke), or the timeout says which it is not.
   */
  private async waitFor(identity: BrokerIdentity, accepted: boolean): Promise<void> {
    const end = this.now() + this.o.timeoutMs;
    let last = '';
    for (;;) {
      const works = await connect({
        servers: this.o.url,
        user: identity.username,
        pass: identity.password,
        timeout: Math.min(2000, this.o.timeoutMs),
        reconnect: false,
      }).then(
        async (nc) => {
          await nc.close();
          return true;
        },
        (e: Error & { code?: string }) => {
          last = e.code ?? e.message;
          return /AUTHORIZATION_VIOLATION|Authorization Violation/i.test(`${e.code} ${e.message}`)
            ? false
            : null;
        },
      );
      if (works === accepted) return;
      if (this.now() >= end) {
        throw new BrokerIdentityError(
          works === null
            ? `nats-server at ${this.o.url}: unreachable (${last}); the users file ${this.o.usersFile} was written but the change is not confirmed`
            : `nats-server at ${this.o.url}: ${identity.username} is ${accepted ? 'still refused' : 'still accepted'} ${this.o.timeoutMs} ms after the reload (is ${this.o.usersFile} included in its configuration, and ${this.o.pidFiles.join(', ')} its pid file?)`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
