import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redact } from '../../src/config/config.js';

describe('loadConfig', () => {
  it('defaults to the embedded stack on loopback', () => {
    const config = loadConfig({}, '/work/project');
    expect(config).toMatchObject({
      home: '/work/project/.linpath',
      host: '127.0.0.1',
      port: 4000,
      databaseUrl: undefined,
      s3: undefined,
      logLevel: 'info',
      demo: true,
      maxHeaderBytes: 100 * 1024 * 1024,
    });
  });

  it('reads a production configuration', () => {
    const config = loadConfig(
      {
        LINPATH_HOME: '/var/lib/linpath',
        HOST: '0.0.0.0',
        PORT: '8080',
        DATABASE_URL: 'postgres://linpath:secret@db:5432/linpath',
        S3_ENDPOINT: 'http://minio:9000',
        S3_REGION: 'eu-west-1',
        S3_BUCKET: 'checkpoints',
        S3_ALLOWED_BUCKETS: 'archive, shared-runs',
        S3_FORCE_PATH_STYLE: 'false',
        AWS_ACCESS_KEY_ID: 'key',
        AWS_SECRET_ACCESS_KEY: 'secret',
        LINPATH_DEMO: '0',
      },
      '/',
    );
    expect(config).toMatchObject({
      home: '/var/lib/linpath',
      host: '0.0.0.0',
      port: 8080,
      databaseUrl: 'postgres://linpath:secret@db:5432/linpath',
      demo: false,
      s3: {
        endpoint: 'http://minio:9000',
        region: 'eu-west-1',
        bucket: 'checkpoints',
        extraBuckets: ['archive', 'shared-runs'],
        forcePathStyle: false,
        credentials: { accessKeyId: 'key', secretAccessKey: 'secret' },
      },
    });
  });

  it('leaves credentials to the AWS default chain when none are given', () => {
    expect(loadConfig({ S3_BUCKET: 'checkpoints' }).s3).toMatchObject({
      endpoint: undefined,
      credentials: undefined,
      region: 'us-east-1',
    });
  });

  it.each([
    [
      { HOST: 'bad host' },
      'HOST: expected an IP address or a host name to listen on (e.g. 127.0.0.1, 0.0.0.0, ::), got "bad host"',
    ],
    [{ HOST: 'http://0.0.0.0' }, 'HOST: expected an IP address or a host name'],
    [
      { LINPATH_ONNX_STATE: 'weights' },
      'LINPATH_ONNX_STATE: expected one of auto, inputs, initializers, got "weights"',
    ],
    [{ PORT: 'eighty' }, 'PORT: expected an integer from 0 to 65535, got "eighty"'],
    [{ PORT: '70000' }, 'PORT: expected an integer from 0 to 65535, got "70000"'],
    [{ DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL: expected a postgres: or postgresql: URL, got protocol "mysql:"'],
    [{ DATABASE_URL: 'not a url' }, 'DATABASE_URL: expected a URL'],
    [{ S3_ENDPOINT: 'http://minio:9000' }, 'S3_BUCKET: required when S3_ENDPOINT or S3_ALLOWED_BUCKETS is set'],
    [{ S3_BUCKET: 'Bad_Bucket' }, 'expected S3 bucket names (3-63 of a-z 0-9 . -), got "Bad_Bucket"'],
    [{ S3_BUCKET: 'ok-bucket', AWS_ACCESS_KEY_ID: 'key' }, 'expected both or neither, got only one'],
    [{ S3_BUCKET: 'ok-bucket', S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE: expected true or false'],
    [{ LINPATH_DEMO: '2' }, 'LINPATH_DEMO: expected true or false'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"'],
    [{ LINPATH_MAX_HEADER_BYTES: '10' }, 'LINPATH_MAX_HEADER_BYTES: expected an integer from 1024'],
    [{ LINPATH_AUTH: 'sometimes' }, 'LINPATH_AUTH: expected true or false (also 1/0, yes/no, on/off), got "sometimes"'],
    [{ LINPATH_AUTH_READS: 'closed' }, 'LINPATH_AUTH_READS: expected one of open, key, got "closed"'],
    [{ LINPATH_MAX_QUERY_DEPTH: '1' }, 'LINPATH_MAX_QUERY_DEPTH: expected an integer from 2 to 1000, got "1"'],
    [{ LINPATH_MAX_QUERY_COST: 'lots' }, 'LINPATH_MAX_QUERY_COST: expected an integer from 10'],
    [{ LINPATH_MAX_BLOCKS: '0' }, 'LINPATH_MAX_BLOCKS: expected an integer from 1 to 100000, got "0"'],
    [{ LINPATH_MAX_CORRELATION_RUNS: '0' }, 'LINPATH_MAX_CORRELATION_RUNS: expected an integer from 1'],
    [
      { LINPATH_MAX_EVALUATIONS_PER_KEY: '0' },
      'LINPATH_MAX_EVALUATIONS_PER_KEY: expected an integer from 1 to 10000, got "0"',
    ],
    [{ LINPATH_S3_TIMEOUT_MS: '5' }, 'LINPATH_S3_TIMEOUT_MS: expected an integer from 100 to 3600000, got "5"'],
    [
      { LINPATH_DB_STATEMENT_TIMEOUT_MS: '-1' },
      'LINPATH_DB_STATEMENT_TIMEOUT_MS: expected an integer from 0 to 86400000, got "-1"',
    ],
  ])('rejects %j naming the variable', (env, message) => {
    expect(() => loadConfig(env)).toThrowError(ConfigError);
    expect(() => loadConfig(env)).toThrowError(message);
  });

  it('guards writes with keys and bounds requests by default, and reads the settings', () => {
    expect(loadConfig({})).toMatchObject({
      auth: { enabled: true, reads: 'open' },
      limits: {
        maxQueryDepth: 16,
        maxQueryCost: 100_000,
        maxRootFields: 32,
        maxQueryTokens: 20_000,
        maxBlocks: 256,
        maxCorrelationRuns: 1000,
        maxEvaluationsPerKey: 16,
        s3TimeoutMs: 120_000,
        databaseStatementTimeoutMs: 120_000,
      },
    });
    const config = loadConfig({
      LINPATH_AUTH: 'off',
      LINPATH_AUTH_READS: 'key',
      LINPATH_MAX_QUERY_DEPTH: '8',
      LINPATH_MAX_QUERY_COST: '5000',
      LINPATH_MAX_ROOT_FIELDS: '4',
      LINPATH_MAX_QUERY_TOKENS: '500',
      LINPATH_MAX_BLOCKS: '4',
      LINPATH_MAX_CORRELATION_RUNS: '50',
      LINPATH_MAX_EVALUATIONS_PER_KEY: '2',
      LINPATH_S3_TIMEOUT_MS: '1000',
      LINPATH_DB_STATEMENT_TIMEOUT_MS: '0',
    });
    expect(config.auth).toEqual({ enabled: false, reads: 'key', trustedProxies: [] });
    expect(config.limits).toEqual({
      maxQueryDepth: 8,
      maxQueryCost: 5000,
      maxRootFields: 4,
      maxQueryTokens: 500,
      maxBlocks: 4,
      maxCorrelationRuns: 50,
      maxEvaluationsPerKey: 2,
      maxRequestEvaluations: 1000,
      s3TimeoutMs: 1000,
      databaseStatementTimeoutMs: 0,
    });
  });

  it('bounds queued work by default, and reads the quotas', () => {
    expect(loadConfig({}).queue.quotas).toEqual({
      perClient: 2000,
      anonymous: 10_000,
      perKey: 100_000,
      total: 1_000_000,
    });
    const config = loadConfig({
      LINPATH_QUEUE_QUOTA_PER_CLIENT: '0',
      LINPATH_QUEUE_QUOTA_ANONYMOUS: '5',
      LINPATH_QUEUE_QUOTA_PER_KEY: '7',
      LINPATH_QUEUE_QUOTA_TOTAL: '9',
      LINPATH_MAX_REQUEST_EVALUATIONS: '3',
    });
    expect(config.queue.quotas).toEqual({ perClient: 0, anonymous: 5, perKey: 7, total: 9 });
    expect(config.limits.maxRequestEvaluations).toBe(3);
    expect(() => loadConfig({ LINPATH_QUEUE_QUOTA_PER_KEY: '0' })).toThrowError(
      'LINPATH_QUEUE_QUOTA_PER_KEY: expected an integer from 1 to 100000000, got "0"',
    );
  });

  it('reads the boundary settings, with bounded defaults', () => {
    expect(loadConfig({}).boundary).toEqual({
      allowedOrigins: [],
      allowedHosts: [],
      maxConnectionsPerClient: 256,
      maxSockets: 256,
      maxSocketsPerClient: 16,
      maxSubscriptionsPerSocket: 16,
      maxSocketBufferBytes: 4 * 1024 * 1024,
      maxReplayPoints: 256,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      metrics: 'admin',
    });
    const boundary = loadConfig({
      LINPATH_ALLOWED_ORIGINS: 'https://Lab.example.org:8443/, http://localhost:5173',
      LINPATH_ALLOWED_HOSTS: 'lab.example.org',
      LINPATH_METRICS: 'open',
    }).boundary;
    expect(boundary.allowedOrigins).toEqual(['https://lab.example.org:8443', 'http://localhost:5173']);
    expect(boundary.allowedHosts).toEqual(['lab.example.org']);
    expect(boundary.metrics).toBe('open');
    expect(loadConfig({ LINPATH_ALLOWED_ORIGINS: '*', LINPATH_ALLOWED_HOSTS: '*' }).boundary).toMatchObject({
      allowedOrigins: '*',
      allowedHosts: '*',
    });
    expect(() => loadConfig({ LINPATH_ALLOWED_ORIGINS: 'https://lab.example.org/path' })).toThrowError(
      'LINPATH_ALLOWED_ORIGINS: expected origins such as https://lab.example.org:8443, or *, got "https://lab.example.org/path"',
    );
    expect(() => loadConfig({ LINPATH_ALLOWED_HOSTS: 'lab.example.org:80' })).toThrowError('LINPATH_ALLOWED_HOSTS');
    expect(() => loadConfig({ LINPATH_HEADERS_TIMEOUT_MS: '60000' })).toThrowError(
      'LINPATH_HEADERS_TIMEOUT_MS: expected at most LINPATH_REQUEST_TIMEOUT_MS (30000), got 60000',
    );
  });

  it('reports every problem at once', () => {
    try {
      loadConfig({ PORT: '-1', LOG_LEVEL: 'x' });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });

  it('never prints a database password', () => {
    expect(redact('postgres://user:hunter2@host/db')).toBe('postgres://user:***@host/db');
    expect(() => loadConfig({ DATABASE_URL: 'postgres//user:hunter2@host' })).toThrowError(/^(?!.*hunter2)/s);
  });
});
