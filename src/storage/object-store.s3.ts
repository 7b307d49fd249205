import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Settings } from '../config/config.js';
import { conflict, LinpathError, notFound, unavailable } from '../errors.js';
import { formatS3Uri, type ObjectRef, type ObjectStore, type ObjectVersion } from './object-store.js';

const MULTIPART_PART_BYTES = 16 * 1024 * 1024;

export interface S3ObjectStoreOptions extends Pick<
  S3Settings,
  'endpoint' | 'region' | 'bucket' | 'extraBuckets' | 'forcePathStyle' | 'credentials'
> {
  /**
   * Per attempt (the SDK makes up to 3): the longest wait for a response and the longest silence while one
   * streams (LINPATH_S3_TIMEOUT_MS); a stuck S3 call fails with UNAVAILABLE instead of holding a request.
   */
  requestTimeoutMs?: number;
}

export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  readonly readableBuckets: readonly string[];
  private readonly client: S3Client;
  private readonly timeoutMs: number;

  constructor(options: S3ObjectStoreOptions) {
    this.timeoutMs = options.requestTimeoutMs ?? 120_000;
    this.bucket = options.bucket;
    this.readableBuckets = [options.bucket, ...options.extraBuckets.filter((b) => b !== options.bucket)];
    this.client = new S3Client({
      region: options.region,
      forcePathStyle: options.forcePathStyle,
      // S3-compatible servers (MinIO, R2, s3rver) do not all accept the SDK's default CRC checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      // Without throwOnRequestTimeout the SDK only logs a warning when requestTimeout passes; socketTimeout
      // bounds a body that stops streaming.
      requestHandler: {
        connectionTimeout: 5_000,
        requestTimeout: this.timeoutMs,
        socketTimeout: this.timeoutMs,
        throwOnRequestTimeout: true,
      },
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    });
  }

  async head(ref: ObjectRef): Promise<ObjectVersion> {
    const response = await this.call(ref, () =>
      this.client.send(new HeadObjectCommand({ Bucket: ref.bucket, Key: ref.key })),
    );
    return { size: response.ContentLength ?? 0, etag: response.ETag ?? '' };
  }

  async readRange(ref: ObjectRef, start: number, end: number, expected: ObjectVersion): Promise<Uint8Array> {
    if (start < 0 || end > expected.size || start > end) {
      throw new RangeError(`readRange(${start}, ${end}) outside object of ${expected.size} bytes`);
    }
    if (start === end) return new Uint8Array(0);
    const response = await this.call(ref, () =>
      this.client.send(
        new GetObjectCommand({
          Bucket: ref.bucket,
          Key: ref.key,
          Range: `bytes=${start}-${end - 1}`,
          IfMatch: expected.etag,
        }),
      ),
    );
    // Servers that ignore If-Match (s3rver does) still report the ETag of what they sent.
    if (response.ETag !== undefined && response.ETag !== expected.etag) {
      response.Body?.transformToWebStream()
        .cancel()
        .catch(() => undefined);
      throw changedSinceRegistration(ref, expected.etag, response.ETag);
    }
    const bytes = await this.call(ref, () => response.Body!.transformToByteArray());
    if (bytes.length !== end - start) {
      throw unavailable(
        `S3 returned ${bytes.length} bytes for range [${start}, ${end}) of ${formatS3Uri(ref)}, expected ${end - start}`,
      );
    }
    return bytes;
  }

  async uploadFile(ref: ObjectRef, filePath: string, contentType = 'application/octet-stream'): Promise<ObjectVersion> {
    const { size } = await stat(filePath);
    // leavePartsOnError: lib-storage would abort a failed multipart upload itself, but throw the abort's error
    // instead of the upload's when the abort fails (s3rver, the embedded server, answers it 405): linpath
    // aborts it, best effort, and reports what failed.
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: ref.bucket,
        Key: ref.key,
        Body: createReadStream(filePath),
        ContentType: contentType,
        ContentLength: size,
      },
      partSize: MULTIPART_PART_BYTES,
      queueSize: 4,
      leavePartsOnError: true,
    });
    try {
      await this.call(ref, () => upload.done());
    } catch (error) {
      if (upload.uploadId !== undefined) {
        await this.client
          .send(new AbortMultipartUploadCommand({ Bucket: ref.bucket, Key: ref.key, UploadId: upload.uploadId }))
          .catch(() => undefined);
      }
      throw error;
    }
    // A multipart ETag is not the MD5 of the file; HEAD gives the value later reads will see.
    return this.head(ref);
  }

  async ping(): Promise<void> {
    await this.call({ bucket: this.bucket, key: '' }, () =>
      this.client.send(new HeadBucketCommand({ Bucket: this.bucket })),
    );
  }

  /** Creates the upload bucket when missing (embedded mode, tests). */
  async ensureBucket(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
    }
  }

  destroy(): void {
    this.client.destroy();
  }

  /** Turns S3 failures into coded errors that name the object. */
  private async call<T>(ref: ObjectRef, send: () => Promise<T>): Promise<T> {
    try {
      return await send();
    } catch (error) {
      throw translateS3Error(ref, error, this.timeoutMs);
    }
  }
}

function changedSinceRegistration(ref: ObjectRef, expected: string, actual: string): LinpathError {
  return conflict(
    `${formatS3Uri(ref)} changed since it was registered: expected ETag ${expected}, found ${actual}. ` +
      'Register the new contents as a new checkpoint or dataset instead of overwriting the object.',
  );
}

function translateS3Error(ref: ObjectRef, error: unknown, timeoutMs: number): Error {
  if (error instanceof LinpathError) return error;
  const uri = ref.key === '' ? `s3://${ref.bucket}` : formatS3Uri(ref);
  // The SDK names a reset connection (ECONNRESET, EPIPE) a TimeoutError too, so that it retries it.
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof Error && error.name === 'TimeoutError' && code !== 'ECONNRESET' && code !== 'EPIPE') {
    return unavailable(
      `S3 request for ${uri} timed out (LINPATH_S3_TIMEOUT_MS: ${timeoutMs} ms per attempt): ${error.message}`,
      error,
    );
  }
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode;
    if (error.name === 'NoSuchKey' || error.name === 'NotFound' || error.name === 'NoSuchBucket' || status === 404) {
      return notFound(`no object at ${uri}`);
    }
    if (error.name === 'PreconditionFailed' || status === 412) {
      return conflict(
        `${uri} changed since it was registered (its ETag no longer matches); register the new contents anew`,
      );
    }
    if (status === 403 || status === 401) {
      return unavailable(
        `S3 refused access to ${uri} (HTTP ${status}: ${error.name}); check the S3 credentials`,
        error,
      );
    }
    return unavailable(`S3 request for ${uri} failed (HTTP ${status ?? '?'}: ${error.name})`, error);
  }
  const message = error instanceof Error ? error.message : String(error);
  return unavailable(`S3 could not be reached for ${uri}: ${message}`, error);
}
