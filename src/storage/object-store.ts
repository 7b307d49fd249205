import { badUserInput } from '../errors.js';

/** An object in a bucket. */
export interface ObjectRef {
  bucket: string;
  key: string;
}

/** What registration pins: later reads must see exactly this object. */
export interface ObjectVersion {
  size: number;
  etag: string;
}

/**
 * The S3 operations linpath needs. One implementation talks to any S3-compatible service (AWS, MinIO, R2,
 * the embedded s3rver); the contract tests in test/storage run it against a real server over HTTP.
 */
export interface ObjectStore {
  /** The bucket linpath writes uploads to. */
  readonly bucket: string;
  /** Buckets registration may read: `bucket` and the extra ones configured. */
  readonly readableBuckets: readonly string[];
  /** NOT_FOUND when there is no such object. */
  head(ref: ObjectRef): Promise<ObjectVersion>;
  /**
   * Bytes [start, end) of the object, which must still be `expected` (else CONFLICT): a checkpoint
   * overwritten after registration can never mix into memoized results.
   */
  readRange(ref: ObjectRef, start: number, end: number, expected: ObjectVersion): Promise<Uint8Array>;
  /** Uploads a local file (multipart when large) and returns the stored version. */
  uploadFile(ref: ObjectRef, filePath: string, contentType?: string): Promise<ObjectVersion>;
  /** Checks the bucket can be reached. */
  ping(): Promise<void>;
}

const MAX_KEY_BYTES = 1024;

export const formatS3Uri = (ref: ObjectRef): string => `s3://${ref.bucket}/${ref.key}`;

/** The longest segment of a key between slashes, as file-system backed S3 servers store it. */
const MAX_SEGMENT_BYTES = 255;

/**
 * Parses `s3://<bucket>/<key>` and refuses anything else: other schemes (no fetching of arbitrary URLs),
 * buckets that are not configured, and keys that could escape a file-backed store.
 */
export function parseS3Uri(uri: string, readableBuckets: readonly string[]): ObjectRef {
  const expected = `expected s3://<bucket>/<key> with bucket ${readableBuckets.map((b) => `"${b}"`).join(' or ')}`;
  const match = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (match === null) throw badUserInput(`uri: ${expected}, got "${truncate(uri)}"`);
  const [, bucket = '', key = ''] = match;
  if (!readableBuckets.includes(bucket)) {
    throw badUserInput(`uri: bucket "${truncate(bucket)}" is not configured for linpath; ${expected}`);
  }
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    throw badUserInput(`uri: expected a key of at most ${MAX_KEY_BYTES} bytes, got ${Buffer.byteLength(key)}`);
  }
  // File-system backed stores (MinIO, the embedded s3rver) keep a segment as a file name: 255 bytes at most.
  const long = key.split('/').find((part) => Buffer.byteLength(part) > MAX_SEGMENT_BYTES);
  if (long !== undefined) {
    throw badUserInput(
      `uri: expected key segments (between "/") of at most ${MAX_SEGMENT_BYTES} bytes, got one of ${Buffer.byteLength(long)}`,
    );
  }
  if (
    // eslint-disable-next-line no-control-regex -- control characters are exactly what this rejects
    /[\u0000-\u001f\u007f\\]/.test(key) ||
    key.split('/').some((part) => part === '..' || part === '.' || part === '')
  ) {
    throw badUserInput(
      `uri: expected a key of non-empty path segments without ".", "..", backslashes or control characters, got "${truncate(key)}"`,
    );
  }
  return { bucket, key };
}

const truncate = (text: string, max = 200): string => (text.length > max ? `${text.slice(0, max)}…` : text);
