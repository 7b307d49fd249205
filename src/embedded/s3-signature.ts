import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** What a request to the embedded S3 server shows of itself: enough to check its Signature V4. */
export interface SignedRequest {
  method: string;
  /** The request target as sent: path and query, still URI-encoded. */
  url: string;
  /** Lower-case header names, as Node parses them. */
  headers: Record<string, string | string[] | undefined>;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** AWS's own bound on the difference between a request's x-amz-date and the server's clock. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const REQUIRED_SIGNED_HEADERS = ['host', 'x-amz-content-sha256', 'x-amz-date'];

/**
 * Checks an S3 request's AWS Signature Version 4 (Authorization header form) against `credentials`:
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html. s3rver itself checks only that
 * the access key id exists (and lets unsigned requests through), so the embedded server calls this first.
 * Returns undefined for a valid signature, else why the request is refused. The payload hash is taken from
 * `x-amz-content-sha256` as signed; the body itself is not re-hashed (whoever signs knows the secret).
 */
export function checkSignatureV4(
  request: SignedRequest,
  credentials: S3Credentials,
  now = Date.now(),
): string | undefined {
  const authorization = header(request, 'authorization');
  if (authorization === undefined) return 'the request is not signed (no Authorization header)';
  const match = /^AWS4-HMAC-SHA256 +Credential=([^,\s]+), *SignedHeaders=([^,\s]+), *Signature=([0-9a-f]{64})$/.exec(
    authorization.trim(),
  );
  if (match === null) return `the Authorization header is not an ${ALGORITHM} signature`;
  const [, credential, signedHeaderList, signature] = match as unknown as [string, string, string, string];
  const [accessKeyId, ...scopeParts] = credential.split('/');
  if (accessKeyId !== credentials.accessKeyId || scopeParts.length !== 4 || scopeParts[3] !== 'aws4_request') {
    return 'the access key id is not this server’s';
  }
  const signedHeaders = signedHeaderList.split(';');
  const missing = REQUIRED_SIGNED_HEADERS.filter((name) => !signedHeaders.includes(name));
  if (missing.length > 0) return `the signature does not cover ${missing.join(', ')}`;
  const amzDate = header(request, 'x-amz-date') ?? '';
  const time = parseAmzDate(amzDate);
  if (time === undefined || amzDate.slice(0, 8) !== scopeParts[0])
    return 'x-amz-date is missing or not the scope’s day';
  if (Math.abs(now - time) > MAX_SKEW_MS) return 'x-amz-date is more than 15 minutes from the server’s time';

  const [rawPath = '', rawQuery] = splitOnce(request.url, '?');
  const canonicalHeaders = signedHeaders.map(
    (name) => `${name}:${(header(request, name) ?? '').trim().replace(/\s+/g, ' ')}\n`,
  );
  const canonicalRequest = [
    request.method.toUpperCase(),
    rawPath,
    canonicalQuery(rawQuery ?? ''),
    canonicalHeaders.join(''),
    signedHeaderList,
    header(request, 'x-amz-content-sha256') ?? '',
  ].join('\n');
  const scope = scopeParts.join('/');
  const stringToSign = [ALGORITHM, amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  let key: Buffer = Buffer.from(`AWS4${credentials.secretAccessKey}`, 'utf8');
  for (const part of scopeParts) key = createHmac('sha256', key).update(part, 'utf8').digest();
  const expected = createHmac('sha256', key).update(stringToSign, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(signature, 'hex')) ? undefined : 'the signature does not match';
}

/** The canonical query string: each name and value decoded, RFC 3986-encoded again, sorted by name then value. */
function canonicalQuery(rawQuery: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const [name = '', value = ''] = splitOnce(part, '=');
    const decodedName = safeDecode(name);
    const decodedValue = safeDecode(value);
    if (decodedName === undefined || decodedValue === undefined) return '\u0000invalid';
    pairs.push([escapeUri(decodedName), escapeUri(decodedValue)]);
  }
  pairs.sort(([a, x], [b, y]) => (a < b ? -1 : a > b ? 1 : x < y ? -1 : x > y ? 1 : 0));
  return pairs.map(([name, value]) => `${name}=${value}`).join('&');
}

const escapeUri = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text);
  } catch {
    return undefined;
  }
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

function header(request: SignedRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** `yyyyMMddTHHmmssZ` → milliseconds since the epoch. */
function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
