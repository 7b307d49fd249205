import { isIP } from 'node:net';
import path from 'node:path';
import { HOSTNAME, readBoundary, type BoundarySettings } from './boundary.config.js';

/**
 * The only reader of the environment. Every setting is validated here, so a typo in a variable fails at
 * start with the variable's name and what was expected, never later deep inside a request.
 */

export interface S3Settings {
  /** Undefined means AWS's own endpoint for the region. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  /** Further buckets that registration may read from (never written to). */
  extraBuckets: string[];
  forcePathStyle: boolean;
  /** Undefined: the AWS SDK's default credential chain (profiles, instance roles, ...). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export interface Config {
  home: string;
  host: string;
  port: number;
  /** Undefined: embedded PGlite under `home`. */
  databaseUrl: string | undefined;
  /** Undefined: embedded S3 server (s3rver) under `home`. */
  s3: S3Settings | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Load the demo runs into an empty embedded database at start. */
  demo: boolean;
  maxHeaderBytes: number;
  maxRequestBytes: number;
  compute: ComputeSettings;
  queue: QueueSettings;
  auth: AuthSettings;
  limits: RequestLimits;
  boundary: BoundarySettings;
}

/** Who may do what over GraphQL (the CLI works on the database directly and needs no key). */
export interface AuthSettings {
  /** LINPATH_AUTH (default on); off: every operation is open, keys are ignored (a trusted network only). */
  enabled: boolean;
  /** LINPATH_AUTH_READS: `open` (default): queries and subscriptions need no key; `key`: a `read` key. */
  reads: 'open' | 'key';
  /**
   * LINPATH_TRUSTED_PROXIES: addresses of reverse proxies whose X-Forwarded-For names the client (for the
   * per-client limits and quotas); empty (default): the connection's peer is the client.
   */
  trustedProxies: string[];
}

/** Bounds on the work one request may cause; each names its variable in the error that enforces it. */
export interface RequestLimits {
  /** Deepest nesting of fields in an operation (introspection fields included). */
  maxQueryDepth: number;
  /** Largest estimated cost of an operation, introspection included (see src/graphql/pipeline/query-limits.ts). */
  maxQueryCost: number;
  /** Most fields at the root of one operation, aliases and fragments included. */
  maxRootFields: number;
  /** Most lexical tokens of one GraphQL document: bounds the work of parsing and validating it. */
  maxQueryTokens: number;
  /** Most blocks of one block-wise request (one path each). */
  maxBlocks: number;
  /** Most runs one correlation (or report) may take. */
  maxCorrelationRuns: number;
  /** Evaluation-queuing fields in flight at once per API key (per client address without a key). */
  maxEvaluationsPerKey: number;
  /** Most paths (or distances) one report, correlation or run-metrics request may queue: its maxEvaluations. */
  maxRequestEvaluations: number;
  /** Per S3 request (each of the SDK's attempts); a stuck call fails instead of holding a request. */
  s3TimeoutMs: number;
  /** Postgres statement_timeout of every connection of the pool; 0: none. */
  databaseStatementTimeoutMs: number;
}

/** The evaluation queue (pg-boss on the configured Postgres or the embedded PGlite) and its workers. */
export interface QueueSettings {
  /** Workers this process runs (`linpath start`: LINPATH_WORKERS, default 1; 0 makes an API-only node). */
  workers: number;
  /** α per job; 0: sized from the model and the examples so one job is seconds to a minute of work. */
  jobAlphas: number;
  /** A job running longer is taken to be lost (a dead worker) and retried: the hard limit per job. */
  jobExpireSeconds: number;
  /** Retries of a job that failed with a transient error, with exponential backoff from retryDelaySeconds. */
  retryLimit: number;
  retryDelaySeconds: number;
  /** How often idle workers look for jobs. */
  workerPollMs: number;
  /** How often waiting requests and subscriptions look for new points of other processes' workers. */
  pollMs: number;
  /** Queue maintenance (expiring lost jobs, archiving) runs this often. */
  maintenanceSeconds: number;
  /** The longest a `wait: true` request waits (also its default timeoutMs). */
  maxWaitMs: number;
  /** Bounds on the evaluation work API clients have queued and not yet computed (the CLI is not bounded). */
  quotas: WorkQuotas;
}

/**
 * Points (one α of one path each) queued by GraphQL clients and not yet stored. A request that would go over
 * one of them is refused (TOO_MANY_REQUESTS) before it queues anything; wait: false does not escape them.
 */
export interface WorkQuotas {
  /** LINPATH_QUEUE_QUOTA_PER_CLIENT: per client without a key (its address, IPv6 by /64). */
  perClient: number;
  /** LINPATH_QUEUE_QUOTA_ANONYMOUS: all clients without a key together. */
  anonymous: number;
  /** LINPATH_QUEUE_QUOTA_PER_KEY: per API key. */
  perKey: number;
  /** LINPATH_QUEUE_QUOTA_TOTAL: every GraphQL client together, keys included. */
  total: number;
}

export interface ComputeSettings {
  engine: 'onnx' | 'tfjs';
  onnxProvider: 'cpu' | 'cuda';
  /** How ONNX Runtime receives each state (OnnxEngineOptions.state). */
  onnxState: 'auto' | 'inputs' | 'initializers';
  /** Engine threads; 0: the engine's default (one per core). */
  threads: number;
  /** undefined: the fastest available of tensorflow, wasm, cpu. */
  tfjsBackend: 'tensorflow' | 'wasm' | 'cpu' | undefined;
  batchSize: number;
  maxAlphas: number;
  maxAbsAlpha: number;
  /** Most examples one path may evaluate (its `limit`, or the whole dataset). */
  maxExamples: number;
  checkpointCacheBytes: number;
  datasetCacheBytes: number;
  /** Most bytes of activations a block-wise evaluation keeps at its cuts (prefix reuse); 0 turns it off. */
  prefixCacheBytes: number;
  /** Bounds on one training (LINPATH_TRAIN_MAX_PARAMETERS, LINPATH_TRAIN_MAX_WORK, LINPATH_TRAIN_MAX_CHECKPOINTS). */
  training: { maxParameters: number; maxWork: number; maxCheckpoints: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const problems: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };

  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min || value > max) {
      problems.push(`${name}: expected an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };

  const boolean = (name: string, fallback: boolean): boolean => {
    const raw = read(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['1', 'true', 'yes', 'on'].includes(raw)) return true;
    if (['0', 'false', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name}: expected true or false (also 1/0, yes/no, on/off), got "${env[name]}"`);
    return fallback;
  };

  const url = (name: string, protocols: string[]): string | undefined => {
    const raw = read(name);
    if (raw === undefined) return undefined;
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      problems.push(`${name}: expected a URL (${protocols.join(' or ')}), got "${redact(raw)}"`);
      return undefined;
    }
    if (!protocols.includes(parsed.protocol)) {
      problems.push(`${name}: expected a ${protocols.join(' or ')} URL, got protocol "${parsed.protocol}"`);
      return undefined;
    }
    return raw;
  };

  const home = path.resolve(cwd, read('LINPATH_HOME') ?? '.linpath');
  const host = read('HOST') ?? '127.0.0.1';
  if (!isIP(host) && !HOSTNAME.test(host)) {
    problems.push(
      `HOST: expected an IP address or a host name to listen on (e.g. 127.0.0.1, 0.0.0.0, ::), got "${host}"`,
    );
  }
  const port = integer('PORT', 4000, 0, 65535);
  const databaseUrl = url('DATABASE_URL', ['postgres:', 'postgresql:']);
  const logLevelRaw = read('LOG_LEVEL') ?? 'info';
  const logLevel = (LOG_LEVELS as readonly string[]).includes(logLevelRaw)
    ? (logLevelRaw as Config['logLevel'])
    : (problems.push(`LOG_LEVEL: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevelRaw}"`), 'info');

  const s3 = readS3(read, url, boolean, problems);

  const choice = <T extends string>(name: string, options: readonly T[], fallback: T): T => {
    const raw = read(name);
    if (raw === undefined) return fallback;
    if ((options as readonly string[]).includes(raw)) return raw as T;
    problems.push(`${name}: expected one of ${options.join(', ')}, got "${raw}"`);
    return fallback;
  };
  const tfjsBackend = choice('LINPATH_TFJS_BACKEND', ['auto', 'tensorflow', 'wasm', 'cpu'] as const, 'auto');
  const compute: ComputeSettings = {
    engine: choice('LINPATH_ENGINE', ['onnx', 'tfjs'] as const, 'onnx'),
    onnxProvider: choice('LINPATH_ONNX_PROVIDER', ['cpu', 'cuda'] as const, 'cpu'),
    onnxState: choice('LINPATH_ONNX_STATE', ['auto', 'inputs', 'initializers'] as const, 'auto'),
    threads: integer('LINPATH_THREADS', 0, 0, 1024),
    tfjsBackend: tfjsBackend === 'auto' ? undefined : tfjsBackend,
    batchSize: integer('LINPATH_BATCH_SIZE', 250, 1, 1_000_000),
    maxAlphas: integer('LINPATH_MAX_ALPHAS', 1001, 1, 100_000),
    maxAbsAlpha: integer('LINPATH_MAX_ABS_ALPHA', 10, 1, 1000),
    maxExamples: integer('LINPATH_MAX_EXAMPLES', 1_000_000, 1, 1_000_000_000),
    checkpointCacheBytes: integer('LINPATH_CHECKPOINT_CACHE_BYTES', 1024 ** 3, 0, Number.MAX_SAFE_INTEGER),
    datasetCacheBytes: integer('LINPATH_DATASET_CACHE_BYTES', 512 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
    prefixCacheBytes: integer('LINPATH_PREFIX_CACHE_BYTES', 512 * 1024 ** 2, 0, Number.MAX_SAFE_INTEGER),
    training: {
      maxParameters: integer('LINPATH_TRAIN_MAX_PARAMETERS', 50_000_000, 1, 10_000_000_000),
      maxWork: integer('LINPATH_TRAIN_MAX_WORK', 2e13, 1, Number.MAX_SAFE_INTEGER),
      maxCheckpoints: integer('LINPATH_TRAIN_MAX_CHECKPOINTS', 1000, 2, 1_000_000),
    },
  };

  const queue: QueueSettings = {
    workers: integer('LINPATH_WORKERS', 1, 0, 64),
    jobAlphas: integer('LINPATH_JOB_ALPHAS', 0, 0, 10_000),
    jobExpireSeconds: integer('LINPATH_JOB_EXPIRE_SECONDS', 900, 5, 82_800), // pg-boss: under 24 h
    retryLimit: integer('LINPATH_JOB_RETRIES', 3, 0, 100),
    retryDelaySeconds: integer('LINPATH_JOB_RETRY_DELAY_SECONDS', 5, 1, 3600),
    workerPollMs: integer('LINPATH_WORKER_POLL_MS', 500, 500, 60_000),
    pollMs: integer('LINPATH_POLL_MS', 250, 20, 60_000),
    maintenanceSeconds: integer('LINPATH_QUEUE_MAINTENANCE_SECONDS', 30, 1, 3600),
    maxWaitMs: integer('LINPATH_MAX_WAIT_MS', 600_000, 0, 86_400_000),
    quotas: {
      perClient: integer('LINPATH_QUEUE_QUOTA_PER_CLIENT', 2_000, 0, 100_000_000),
      anonymous: integer('LINPATH_QUEUE_QUOTA_ANONYMOUS', 10_000, 0, 100_000_000),
      perKey: integer('LINPATH_QUEUE_QUOTA_PER_KEY', 100_000, 1, 100_000_000),
      total: integer('LINPATH_QUEUE_QUOTA_TOTAL', 1_000_000, 1, 1_000_000_000),
    },
  };

  const reads = choice('LINPATH_AUTH_READS', ['open', 'key'] as const, 'open');
  const trustedProxies = (read('LINPATH_TRUSTED_PROXIES') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  for (const proxy of trustedProxies)
    if (isIP(proxy) === 0)
      problems.push(`LINPATH_TRUSTED_PROXIES: expected IP addresses separated by commas, got "${proxy}"`);
  const auth: AuthSettings = { enabled: boolean('LINPATH_AUTH', true), reads, trustedProxies };
  const limits: RequestLimits = {
    maxQueryDepth: integer('LINPATH_MAX_QUERY_DEPTH', 16, 2, 1000),
    maxQueryCost: integer('LINPATH_MAX_QUERY_COST', 100_000, 10, 1_000_000_000),
    maxRootFields: integer('LINPATH_MAX_ROOT_FIELDS', 32, 1, 10_000),
    maxQueryTokens: integer('LINPATH_MAX_QUERY_TOKENS', 20_000, 100, 10_000_000),
    maxBlocks: integer('LINPATH_MAX_BLOCKS', 256, 1, 100_000),
    maxCorrelationRuns: integer('LINPATH_MAX_CORRELATION_RUNS', 1000, 1, 1_000_000),
    maxEvaluationsPerKey: integer('LINPATH_MAX_EVALUATIONS_PER_KEY', 16, 1, 10_000),
    maxRequestEvaluations: integer('LINPATH_MAX_REQUEST_EVALUATIONS', 1000, 0, 1_000_000),
    s3TimeoutMs: integer('LINPATH_S3_TIMEOUT_MS', 120_000, 100, 3_600_000),
    databaseStatementTimeoutMs: integer('LINPATH_DB_STATEMENT_TIMEOUT_MS', 120_000, 0, 86_400_000),
  };

  const config: Config = {
    home,
    host,
    port,
    databaseUrl,
    s3,
    logLevel,
    demo: boolean('LINPATH_DEMO', true),
    maxHeaderBytes: integer('LINPATH_MAX_HEADER_BYTES', 100 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxRequestBytes: integer('LINPATH_MAX_REQUEST_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    compute,
    queue,
    auth,
    limits,
    boundary: readBoundary(read, integer, choice, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

function readS3(
  read: (name: string) => string | undefined,
  url: (name: string, protocols: string[]) => string | undefined,
  boolean: (name: string, fallback: boolean) => boolean,
  problems: string[],
): S3Settings | undefined {
  const endpoint = url('S3_ENDPOINT', ['http:', 'https:']);
  const bucket = read('S3_BUCKET');
  const extra = (read('S3_ALLOWED_BUCKETS') ?? '')
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b !== '');
  const accessKeyId = read('AWS_ACCESS_KEY_ID');
  const secretAccessKey = read('AWS_SECRET_ACCESS_KEY');
  const sessionToken = read('AWS_SESSION_TOKEN');
  const forcePathStyle = boolean('S3_FORCE_PATH_STYLE', true);
  const region = read('S3_REGION') ?? read('AWS_REGION') ?? 'us-east-1';

  if (bucket === undefined) {
    if (read('S3_ENDPOINT') !== undefined || extra.length > 0) {
      problems.push('S3_BUCKET: required when S3_ENDPOINT or S3_ALLOWED_BUCKETS is set, got nothing');
    }
    return undefined;
  }
  for (const name of [bucket, ...extra]) {
    if (!BUCKET_NAME.test(name)) {
      problems.push(`S3_BUCKET / S3_ALLOWED_BUCKETS: expected S3 bucket names (3-63 of a-z 0-9 . -), got "${name}"`);
    }
  }
  if ((accessKeyId === undefined) !== (secretAccessKey === undefined)) {
    problems.push('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: expected both or neither, got only one');
  }
  const credentials =
    accessKeyId !== undefined && secretAccessKey !== undefined
      ? { accessKeyId, secretAccessKey, ...(sessionToken !== undefined ? { sessionToken } : {}) }
      : undefined;
  return { endpoint, region, bucket, extraBuckets: extra, forcePathStyle, credentials };
}

/** Hides a password in a connection URL before it is printed. */
export function redact(raw: string): string {
  return raw.replace(/\/\/([^:/@]+):([^@]*)@/, '//$1:***@');
}
