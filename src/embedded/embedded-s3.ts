import { randomBytes } from 'node:crypto';
import { chmod, mkdir } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import type { S3Settings } from '../config/config.js';
import { checkSignatureV4, type S3Credentials } from './s3-signature.js';

const EMBEDDED_BUCKET = 'linpath';
/** s3rver knows one access key id, S3RVER; the secret is what `checkSignatureV4` verifies. */
const ACCESS_KEY_ID = 'S3RVER';

export interface EmbeddedS3 {
  settings: S3Settings;
  stop(): Promise<void>;
}

export interface EmbeddedS3Options {
  bucket?: string;
  /** The key pair requests must be signed with; by default a new random secret at each start. */
  credentials?: S3Credentials;
}

/**
 * An S3-compatible server (s3rver) on a free loopback port, storing objects as files under `directory`.
 * Every local user can reach a loopback port, and s3rver verifies no Signature V4 (it lets unsigned requests
 * through): so each request's signature is checked here first, against a secret made at each start and handed
 * only to this user's processes (runtime.json, 0600); anything else is refused with 403 before s3rver sees it.
 */
export async function startEmbeddedS3(directory: string, options: EmbeddedS3Options = {}): Promise<EmbeddedS3> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await chmod(directory, 0o700);
  const bucket = options.bucket ?? EMBEDDED_BUCKET;
  const credentials = options.credentials ?? {
    accessKeyId: ACCESS_KEY_ID,
    secretAccessKey: randomBytes(32).toString('base64url'),
  };
  const s3rver = new S3rver({
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  await s3rver.configureBuckets();
  const handle = s3rver.callback();
  const server = http.createServer((req, res) => {
    const refusal = checkSignatureV4(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers },
      credentials,
    );
    if (refusal === undefined) {
      handle(req, res);
      return;
    }
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>' +
      `<Message>Access Denied: ${refusal}</Message></Error>`;
    // The body of a refused request is not read: the connection closes after the answer.
    res.writeHead(403, {
      'content-type': 'application/xml',
      'content-length': Buffer.byteLength(body),
      connection: 'close',
    });
    res.end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    settings: {
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket,
      extraBuckets: [],
      forcePathStyle: true,
      credentials,
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      s3rver.logger.close();
    },
  };
}
