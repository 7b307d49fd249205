// s3rver ships no type declarations; this covers the part linpath uses.
declare module 's3rver' {
  import type { RequestListener } from 'node:http';
  interface S3rverOptions {
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: Array<{ name: string; configs?: unknown[] }>;
  }
  /** A Koa application: linpath serves its `callback()` from its own HTTP server, behind a signature check. */
  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** Creates the buckets named in `configureBuckets` (what `run()` does before listening). */
    configureBuckets(): Promise<void>;
    callback(): RequestListener;
    logger: { close(): void };
  }
}
