import { badUserInput } from '../../errors.js';
import type { Dtype, SafetensorsHeader } from '../../formats/safetensors.format.js';
import { formatS3Uri, type ObjectRef, type ObjectVersion } from '../../storage/object-store.js';
import type { HeaderSummary } from '../../storage/registry.tables.js';
import {
  fileSource,
  objectSource,
  readSafetensorsHeader,
  sha256File,
  type ByteSource,
} from '../../storage/safetensors.source.js';
import type { RegistryDeps } from './registry.deps.js';

export const FLOAT_DTYPES: readonly Dtype[] = ['F64', 'F32', 'F16', 'BF16'];

export async function readObjectHeader(deps: RegistryDeps, ref: ObjectRef) {
  const version = await deps.store.head(ref);
  const source = objectSource(deps.store, ref, version, formatS3Uri(ref));
  const header = await readSafetensorsHeader(source, deps.maxHeaderBytes);
  return { version, header, source };
}

/**
 * Validates a local file as safetensors (plus `check`), then uploads it under a content-addressed key, so
 * re-importing a file never overwrites an object some registration has pinned.
 */
export async function uploadValidated(
  deps: RegistryDeps,
  filePath: string,
  check: (header: SafetensorsHeader, source: ByteSource) => Promise<void>,
): Promise<{ sha256: string; ref: ObjectRef }> {
  const source = await openLocal(filePath);
  try {
    await check(await readSafetensorsHeader(source, deps.maxHeaderBytes), source);
  } finally {
    await source.close();
  }
  return uploadFile(deps, filePath, source.size, '.safetensors');
}

export async function openLocal(filePath: string): Promise<Awaited<ReturnType<typeof fileSource>>> {
  try {
    return await fileSource(filePath);
  } catch (error) {
    throw badUserInput(`cannot read ${filePath}: ${(error as Error).message}`, error);
  }
}

/** Uploads a validated local file to `objects/sha256/<sha256><extension>` unless that object is there. */
export async function uploadFile(
  deps: RegistryDeps,
  filePath: string,
  size: number,
  extension: string,
): Promise<{ sha256: string; ref: ObjectRef }> {
  const sha256 = await sha256File(filePath);
  const ref = { bucket: deps.store.bucket, key: `objects/sha256/${sha256}${extension}` };
  const existing = await deps.store.head(ref).catch(() => undefined);
  if (existing === undefined || existing.size !== size) await deps.store.uploadFile(ref, filePath);
  return { sha256, ref };
}

/** The columns every registered object has: where it is, the pinned version, and its header. */
export function storedObject(
  ref: ObjectRef,
  version: ObjectVersion,
  header: HeaderSummary,
  sha256: string | undefined,
) {
  const summary: HeaderSummary = {
    headerLength: header.headerLength,
    metadata: header.metadata,
    tensors: header.tensors.map(({ name, dtype, shape, begin, end }) => ({ name, dtype, shape, begin, end })),
  };
  return {
    uri: formatS3Uri(ref),
    ...ref,
    size: version.size,
    etag: version.etag,
    sha256: sha256 ?? null,
    header: summary,
  };
}
