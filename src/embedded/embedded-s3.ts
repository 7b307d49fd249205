import { chmod, mkdir } from 'node:fs/promises';
import S3rver from 's3rver';
import type { S3Settings } from '../config/config.js';

const EMBEDDED_BUCKET = 'linpath';
// s3rver checks request signatures against this fixed key pair.
const EMBEDDED_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

export interface EmbeddedS3 {
  settings: S3Settings;
  stop(): Promise<void>;
}

/** An S3-compatible server (s3rver) on a free loopback port, storing objects as files under `directory`. */
export async function startEmbeddedS3(directory: string, bucket = EMBEDDED_BUCKET): Promise<EmbeddedS3> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  await chmod(directory, 0o700);
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return {
    settings: {
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      bucket,
      extraBuckets: [],
      forcePathStyle: true,
      credentials: EMBEDDED_CREDENTIALS,
    },
    stop: async () => {
      server.httpServer.closeAllConnections?.();
      await server.close();
    },
  };
}
