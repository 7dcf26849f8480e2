import { z } from 'zod';

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Everything the control plane reads from its environment, validated once at start-up. */
export const ControlPlaneConfig = z
  .object({
    host: z.string().default('127.0.0.1'),
    port: int(0, 65535).default(8080),
    /** PostgreSQL in production; when absent the embedded PGlite database lives in `dataDir`. */
    databaseUrl: z
      .string()
      .regex(/^postgres(ql)?:\/\//, 'expected a postgresql:// URL')
      .optional(),
    /** PostgreSQL schema to use (tests give each file its own). */
    /**
     * PostgreSQL URL of the owner role that runs migrations (DDL). When set, `databaseUrl` is the application role:
     * it gets SELECT, INSERT, UPDATE, DELETE on the tables but only INSERT and SELECT on the audit log, and owns
     * nothing, so it can neither drop the audit trigger nor change audit rows.
     */
    databaseOwnerUrl: z.string().optional(),
    /** PostgreSQL connections per replica. */
    databasePoolSize: int(1, 500).default(10),
    /** How long a transaction waits for a free connection (ms) before it fails. */
    databaseTxWaitMs: int(100, 120_000).default(10_000),
    databaseSchema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'expected a lowercase SQL identifier')
      .default('public'),
    /** PGlite data folder, or "memory://" for a throw-away in-memory database. */
    dataDir: z.string().min(1).default('.data/control-plane/db'),
    blobDir: z.string().min(1).default('.data/control-plane/blobs'),
    /** Where bundles and result images live: the local folder `blobDir`, or an S3-compatible bucket. */
    blobStore: z.enum(['fs', 's3']).default('fs'),
    /** An S3-compatible server (path-style addressing); absent: AWS S3 in `s3Region`. */
    s3Endpoint: z.string().url().optional(),
    s3Region: z.string().min(1).default('us-east-1'),
    s3Bucket: z.string().min(1).optional(),
    /** Static keys; absent: the AWS SDK's default credential chain (AWS_* variables, profiles, IRSA, instance roles). */
    s3AccessKeyId: z.string().min(1).optional(),
    s3SecretAccessKey: z.string().min(1).optional(),
    s3SessionToken: z.string().min(1).optional(),
    mqttUrl: z
      .string()
      .regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected an mqtt:// or ws:// URL')
      .optional(),
    /**
     * Shared-subscription group ($share/<group>/...) so replicas split the stream; empty subscribes without
     * sharing (brokers without shared subscriptions, e.g. aedes 1.x, grant $share filters but deliver nothing).
     */
    mqttGroup: z
      .string()
      .regex(/^[A-Za-z0-9_-]*$/, 'expected letters, digits, "_" or "-"')
      .default('control-plane'),
    /** MQTT 5 by default; 4 (3.1.1) for brokers without MQTT 5 such as aedes 1.x. */
    mqttProtocol: z.coerce
      .number()
      .pipe(z.union([z.literal(4), z.literal(5)]))
      .default(5),
    /**
     * The replica's MQTT client id, stable across restarts and unique per replica: the broker keeps its persistent
     * session (subscription, queued and unacknowledged results) while it is away. Unset: `diad-cp-<hostname>-<port>`.
     */
    mqttClientId: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected 1-64 letters, digits, "_" or "-"')
      .optional(),
    /** A clean (non-persistent) session: results published while the replica is away are not kept for it. Tests only. */
    mqttCleanSession: bool.default(false),
    /** Canary interval of the subscription liveness probe (ms); 0 = off. */
    mqttProbeMs: int(0, 3_600_000).default(10_000),
    /** Delay between MQTT reconnect attempts (ms). */
    mqttReconnectMs: int(50, 60_000).default(500),
    /** How long an MQTT 5 broker keeps the persistent session of a disconnected control plane. */
    mqttSessionExpirySeconds: int(0, 2 ** 32 - 1).default(7 * 86400),
    mqttUsername: z.string().optional(),
    mqttPassword: z.string().optional(),
    jwtSecret: z.string().min(32, 'expected at least 32 characters'),
    jwtTtlSeconds: int(60, 30 * 86400).default(8 * 3600),
    adminUsername: z.string().min(1).default('admin'),
    /** When set and no user exists yet, an admin with this password is created on first start. */
    adminPassword: z.string().min(10, 'expected at least 10 characters').optional(),
    maxBundleBytes: int(1024, 2 ** 40).default(2 * 1024 ** 3),
    maxArtifactBytes: int(1024, 2 ** 31).default(16 * 1024 ** 2),
    /** Open live result streams (SSE) per replica; one more is answered 503 (each holds a socket and a filter). */
    maxLiveStreams: int(1, 100_000).default(200),
    /** Largest dataset archive `POST /lines/{id}/datasets/import` takes (each image also within maxArtifactBytes). */
    maxDatasetImportBytes: int(1024, 2 ** 40).default(4 * 1024 ** 3),
    /**
     * Retention of uploaded OK-sample images (agents' `images.okSampleRate`), per station: the newest are kept up to
     * this many images and bytes, none older than `okImageRetentionDays`; 0 = no bound of that kind. Images in a
     * dataset version and images of labelled results are always kept (they are evidence). NOK images are not swept.
     */
    okImageMaxPerStation: int(0, 100_000_000).default(20_000),
    okImageMaxBytesPerStation: z.coerce
      .number()
      .int()
      .min(0)
      .default(10 * 1024 ** 3),
    okImageRetentionDays: int(0, 36_500).default(90),
    /** How often the OK-image sweep runs (also once at start); 0 = never. */
    okImageSweepMs: int(0, 86_400_000).default(3_600_000),
    requireSignedModels: bool.default(false),
    /**
     * Device signatures on bus messages (results, status): `required` refuses any message not signed by the key the
     * device registered at enrolment (devices enrolled without a key cannot publish); `registered` verifies devices
     * that have a key and takes unsigned messages from devices enrolled without one (migration only).
     */
    deviceSignatures: z.enum(['required', 'registered']).default('required'),
    offlineAfterSeconds: int(5, 86400).default(90),
    /** A retry of the same enrolment request with its used token gets the same device this long after; 0 = off. */
    enrolRetryWindowSeconds: int(0, 7 * 86400).default(3600),
    rolloutTickMs: int(0, 3_600_000).default(5000),
    /** Requests per minute per principal (or per address when anonymous); 0 turns limiting off. */
    rateLimitPerMinute: int(0, 1_000_000).default(1200),
    loginRateLimitPerMinute: int(0, 10_000).default(10),
    /**
     * A JSON response that does not match the schema its route declares (the published OpenAPI document):
     * `log` (the default) sends it anyway; `reject` answers 500 instead. Both log it and count it in
     * diad_http_response_schema_mismatch_total. A plant keeps its pages working when an old row has a shape the
     * schema no longer describes; the test suites run with `reject`, so such a mismatch fails a test first.
     */
    responseCheck: z.enum(['reject', 'log']).default('log'),
    /** Shifts of equal length for the "shift" aggregate, starting at `shiftOrigin` local time. */
    shiftHours: int(1, 24).default(8),
    shiftOrigin: z
      .string()
      .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM')
      .default('06:00'),
    timeZone: z.string().default('UTC'),
    /** The built dashboard served at "/" (default apps/dashboard/dist next to this package); without index.html, none. */
    dashboardDir: z.string().min(1).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ingestBatchSize: int(1, 5000).default(1000),
    /** 0 = group commit: a batch is written as soon as the previous write finished (lowest lag). */
    ingestFlushMs: int(0, 10_000).default(0),
    /** Width of one time partition of the results table (by capture time, UTC). */
    resultsPartitionInterval: z.enum(['day', 'week', 'month']).default('month'),
    /** Partitions created ahead of the current one. */
    resultsPartitionsAhead: int(1, 366).default(2),
    /** Results older than this many days are dropped a whole partition at a time; 0 keeps them all. */
    resultsRetentionDays: int(0, 36_500).default(0),
    /** How often partitions are created ahead and expired ones dropped (also once at start); 0: at start only. */
    partitionMaintenanceMs: int(0, 86_400_000).default(3_600_000),
    /** Stall alarm: agents report queued results and this replica committed none for this long (seconds); 0 = off. */
    ingestStallSeconds: int(0, 86_400).default(60),
    /** Where results come from: "mqtt" (the broker at mqttUrl, $share group) or "nats" (JetStream at natsUrl). */
    ingestTransport: z.enum(['mqtt', 'nats']).default('mqtt'),
    /** NATS servers, comma-separated (every node of a cluster, so the client fails over). */
    natsUrl: z
      .string()
      .regex(/^(nats|tls):\/\/[^,]+(,(nats|tls):\/\/[^,]+)*$/, 'expected nats:// URLs, comma-separated')
      .optional(),
    natsUser: z.string().optional(),
    natsPassword: z.string().optional(),
    /** JetStream stream and durable consumer (created at start when missing). */
    natsStream: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('DIAD_RESULTS'),
    natsConsumer: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/)
      .default('control-plane'),
    natsStreamReplicas: int(1, 5).default(1),
    natsMaxAgeSeconds: int(60, 365 * 86400).default(7 * 86400),
    natsMaxBytes: z.coerce.number().int().min(-1).default(-1),
    natsAckWaitSeconds: int(1, 3600).default(30),
    natsMaxAckPending: int(1, 1_000_000).default(20_000),
    natsPullBatch: int(1, 10_000).default(500),
    /**
     * Per-device broker logins provisioned at enrolment and revoked on disable: `none` (the broker's own logins, the
     * embedded broker and demo unchanged), `mosquitto-dynsec` (Mosquitto's dynamic-security plugin, as its admin), or
     * `nats-config` (a generated users file included by nats.conf, applied with a reload).
     */
    brokerIdentities: z.enum(['none', 'mosquitto-dynsec', 'nats-config']).default('none'),
    /** The secret device broker passwords are derived from (HMAC); kept like JWT_SECRET. */
    brokerIdentitySecret: z.string().min(32, 'expected at least 32 characters').optional(),
    /** mosquitto-dynsec: the broker as the plugin's admin (default MQTT_URL), and the admin's login. */
    brokerAdminUrl: z
      .string()
      .regex(/^mqtts?:\/\/|^wss?:\/\//, 'expected an mqtt:// or ws:// URL')
      .optional(),
    brokerAdminUsername: z.string().min(1).optional(),
    brokerAdminPassword: z.string().min(1).optional(),
    /** nats-config: the users file the control plane owns (nats.conf has `include` of it at top level). */
    brokerNatsUsersFile: z.string().min(1).optional(),
    /** nats-config: nats-server pid files (`pid_file`), comma-separated, one per node reading the users file. */
    brokerNatsPidFiles: z
      .union([
        z
          .string()
          .min(1)
          .transform((s) =>
            s
              .split(',')
              .map((x) => x.trim())
              .filter(Boolean),
          ),
        z.array(z.string().min(1)),
      ])
      .optional(),
    /** nats-config: a file of further user entries (NATS syntax) copied into the users list (monitoring, tools). */
    brokerNatsExtraUsersFile: z.string().min(1).optional(),
    /** How long to wait for the broker when provisioning or revoking (per step). */
    brokerTimeoutMs: int(100, 120_000).default(5000),
  })
  .strict()
  .refine((c) => c.brokerIdentities === 'none' || c.brokerIdentitySecret, {
    message: 'BROKER_IDENTITIES other than "none" needs brokerIdentitySecret (BROKER_IDENTITY_SECRET)',
    path: ['brokerIdentitySecret'],
  })
  .refine(
    (c) =>
      c.brokerIdentities !== 'mosquitto-dynsec' ||
      ((c.brokerAdminUrl ?? c.mqttUrl) && c.brokerAdminUsername && c.brokerAdminPassword),
    {
      message:
        'BROKER_IDENTITIES "mosquitto-dynsec" needs the dynamic-security admin: brokerAdminUsername and brokerAdminPassword (BROKER_ADMIN_USERNAME, BROKER_ADMIN_PASSWORD) and brokerAdminUrl or mqttUrl',
      path: ['brokerAdminUsername'],
    },
  )
  .refine(
    (c) =>
      c.brokerIdentities !== 'nats-config' ||
      (c.brokerNatsUsersFile && c.brokerNatsPidFiles?.length && c.natsUrl),
    {
      message:
        'BROKER_IDENTITIES "nats-config" needs brokerNatsUsersFile, brokerNatsPidFiles and natsUrl (BROKER_NATS_USERS_FILE, BROKER_NATS_PID_FILES, NATS_URL)',
      path: ['brokerNatsUsersFile'],
    },
  )
  .refine((c) => c.ingestTransport !== 'nats' || c.natsUrl, {
    message: 'ingestTransport "nats" needs natsUrl',
    path: ['natsUrl'],
  })
  .refine((c) => c.blobStore !== 's3' || c.s3Bucket, {
    message: 'blobStore "s3" needs s3Bucket (S3_BUCKET)',
    path: ['blobStore'],
  })
  .refine((c) => !c.s3AccessKeyId === !c.s3SecretAccessKey, {
    message: 's3AccessKeyId and s3SecretAccessKey go together (or neither, for the default credential chain)',
    path: ['s3SecretAccessKey'],
  });
export type ControlPlaneConfig = z.infer<typeof ControlPlaneConfig>;
export type ControlPlaneConfigInput = z.input<typeof ControlPlaneConfig>;

/** A configuration the control plane cannot start with; the message names each setting that is wrong. */
export class ConfigError extends TypeError {
  override name = 'ConfigError';
}

function describe(issues: z.core.$ZodIssue[], nameOf: (key: string) => string): string {
  return issues
    .map((i) => {
      const key = i.path.join('.') || '(root)';
      const missing = i.code === 'invalid_type' && /received undefined/.test(i.message);
      return `${nameOf(key)}: ${missing ? 'required' : i.message}`;
    })
    .join('; ');
}

export function parseConfig(input: ControlPlaneConfigInput): ControlPlaneConfig {
  const r = ControlPlaneConfig.safeParse(input);
  if (!r.success) throw new ConfigError(`control-plane config: ${describe(r.error.issues, (k) => k)}`);
  return r.data;
}

export const ENV_KEYS: Record<string, keyof ControlPlaneConfig> = {
  HOST: 'host',
  PORT: 'port',
  DATABASE_URL: 'databaseUrl',
  DATABASE_OWNER_URL: 'databaseOwnerUrl',
  DATABASE_POOL_SIZE: 'databasePoolSize',
  DATABASE_TX_WAIT_MS: 'databaseTxWaitMs',
  DATABASE_SCHEMA: 'databaseSchema',
  DATA_DIR: 'dataDir',
  BLOB_DIR: 'blobDir',
  BLOB_STORE: 'blobStore',
  S3_ENDPOINT: 's3Endpoint',
  S3_REGION: 's3Region',
  S3_BUCKET: 's3Bucket',
  S3_ACCESS_KEY_ID: 's3AccessKeyId',
  S3_SECRET_ACCESS_KEY: 's3SecretAccessKey',
  S3_SESSION_TOKEN: 's3SessionToken',
  MQTT_URL: 'mqttUrl',
  MQTT_GROUP: 'mqttGroup',
  MQTT_PROTOCOL: 'mqttProtocol',
  MQTT_CLIENT_ID: 'mqttClientId',
  MQTT_SESSION_EXPIRY_SECONDS: 'mqttSessionExpirySeconds',
  MQTT_CLEAN_SESSION: 'mqttCleanSession',
  MQTT_PROBE_MS: 'mqttProbeMs',
  MQTT_RECONNECT_MS: 'mqttReconnectMs',
  MQTT_USERNAME: 'mqttUsername',
  MQTT_PASSWORD: 'mqttPassword',
  JWT_SECRET: 'jwtSecret',
  JWT_TTL_SECONDS: 'jwtTtlSeconds',
  DIAD_ADMIN_USERNAME: 'adminUsername',
  DIAD_ADMIN_PASSWORD: 'adminPassword',
  MAX_BUNDLE_BYTES: 'maxBundleBytes',
  MAX_ARTIFACT_BYTES: 'maxArtifactBytes',
  MAX_LIVE_STREAMS: 'maxLiveStreams',
  MAX_DATASET_IMPORT_BYTES: 'maxDatasetImportBytes',
  OK_IMAGE_MAX_PER_STATION: 'okImageMaxPerStation',
  OK_IMAGE_MAX_BYTES_PER_STATION: 'okImageMaxBytesPerStation',
  OK_IMAGE_RETENTION_DAYS: 'okImageRetentionDays',
  OK_IMAGE_SWEEP_MS: 'okImageSweepMs',
  REQUIRE_SIGNED_MODELS: 'requireSignedModels',
  DEVICE_SIGNATURES: 'deviceSignatures',
  OFFLINE_AFTER_SECONDS: 'offlineAfterSeconds',
  ENROL_RETRY_WINDOW_SECONDS: 'enrolRetryWindowSeconds',
  ROLLOUT_TICK_MS: 'rolloutTickMs',
  RATE_LIMIT_PER_MINUTE: 'rateLimitPerMinute',
  LOGIN_RATE_LIMIT_PER_MINUTE: 'loginRateLimitPerMinute',
  RESPONSE_CHECK: 'responseCheck',
  SHIFT_HOURS: 'shiftHours',
  SHIFT_ORIGIN: 'shiftOrigin',
  TIME_ZONE: 'timeZone',
  DASHBOARD_DIR: 'dashboardDir',
  LOG_LEVEL: 'logLevel',
  INGEST_BATCH_SIZE: 'ingestBatchSize',
  INGEST_FLUSH_MS: 'ingestFlushMs',
  RESULTS_PARTITION_INTERVAL: 'resultsPartitionInterval',
  RESULTS_PARTITIONS_AHEAD: 'resultsPartitionsAhead',
  RESULTS_RETENTION_DAYS: 'resultsRetentionDays',
  PARTITION_MAINTENANCE_MS: 'partitionMaintenanceMs',
  INGEST_STALL_SECONDS: 'ingestStallSeconds',
  INGEST_TRANSPORT: 'ingestTransport',
  NATS_URL: 'natsUrl',
  NATS_USER: 'natsUser',
  NATS_PASSWORD: 'natsPassword',
  NATS_STREAM: 'natsStream',
  NATS_CONSUMER: 'natsConsumer',
  NATS_STREAM_REPLICAS: 'natsStreamReplicas',
  NATS_MAX_AGE_SECONDS: 'natsMaxAgeSeconds',
  NATS_MAX_BYTES: 'natsMaxBytes',
  NATS_ACK_WAIT_SECONDS: 'natsAckWaitSeconds',
  NATS_MAX_ACK_PENDING: 'natsMaxAckPending',
  NATS_PULL_BATCH: 'natsPullBatch',
  BROKER_IDENTITIES: 'brokerIdentities',
  BROKER_IDENTITY_SECRET: 'brokerIdentitySecret',
  BROKER_ADMIN_URL: 'brokerAdminUrl',
  BROKER_ADMIN_USERNAME: 'brokerAdminUsername',
  BROKER_ADMIN_PASSWORD: 'brokerAdminPassword',
  BROKER_NATS_USERS_FILE: 'brokerNatsUsersFile',
  BROKER_NATS_PID_FILES: 'brokerNatsPidFiles',
  BROKER_NATS_EXTRA_USERS_FILE: 'brokerNatsExtraUsersFile',
  BROKER_TIMEOUT_MS: 'brokerTimeoutMs',
};

/** Reads the documented environment variables (unset and empty ones are left to the defaults). */
export function configFromEnv(env: NodeJS.ProcessEnv = process.env): ControlPlaneConfig {
  const input: Record<string, string> = {};
  for (const [k, key] of Object.entries(ENV_KEYS)) {
    const v = env[k];
    if (v !== undefined && (v !== '' || key === 'mqttGroup')) input[key] = v;
  }
  const r = ControlPlaneConfig.safeParse(input);
  if (!r.success) {
    const envName = Object.fromEntries(Object.entries(ENV_KEYS).map(([k, v]) => [v, k])) as Record<
      string,
      string
    >;
    throw new ConfigError(`configuration: ${describe(r.error.issues, (k) => envName[k] ?? k)}`);
  }
  return r.data;
}
