import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { badUserInput } from '../errors.js';
import type { ObjectRef, ObjectStore, ObjectVersion } from './object-store.js';
import { decodeTensor } from '../formats/safetensors.decode.js';
import {
  SafetensorsFormatError,
  type SafetensorsHeader,
  type TensorData,
  type TensorInfo,
} from '../formats/safetensors.format.js';
import { parseHeader, readHeaderLength } from '../formats/safetensors.header.js';

/** Random access to the bytes of one file or object. */
export interface ByteSource {
  /** For messages: an s3:// URI or a path. */
  readonly name: string;
  readonly size: number;
  read(start: number, end: number): Promise<Uint8Array>;
}

/** An S3 object pinned to the version registration saw: every read is a range request checked against it. */
export function objectSource(store: ObjectStore, ref: ObjectRef, version: ObjectVersion, name: string): ByteSource {
  return { name, size: version.size, read: (start, end) => store.readRange(ref, start, end, version) };
}

/** A local file. The caller closes it. */
export async function fileSource(filePath: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(filePath, 'r');
  const { size } = await handle.stat();
  return {
    name: filePath,
    size,
    async read(start, end) {
      const buffer = new Uint8Array(end - start);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      if (bytesRead !== buffer.length) throw new Error(`${filePath}: read ${bytesRead} of ${buffer.length} bytes`);
      return buffer;
    },
    close: () => handle.close(),
  };
}

/**
 * Reads and validates a safetensors header with two reads (the 8-byte length, then the JSON), never the
 * tensors. Format problems become BAD_USER_INPUT naming the file.
 */
export async function readSafetensorsHeader(source: ByteSource, maxHeaderBytes: number): Promise<SafetensorsHeader> {
  return asUserInput(source, async () => {
    const prefix = await source.read(0, Math.min(8, source.size));
    const headerLength = readHeaderLength(prefix, source.size, maxHeaderBytes);
    const headerBytes = await source.read(8, 8 + headerLength);
    return parseHeader(headerBytes, headerLength, source.size);
  });
}

/** Reads one tensor by range and decodes it. */
export async function readTensor(
  source: ByteSource,
  header: SafetensorsHeader,
  tensor: TensorInfo,
): Promise<TensorData> {
  return asUserInput(source, async () => {
    const bytes = await source.read(header.dataStart + tensor.begin, header.dataStart + tensor.end);
    return decodeTensor(tensor, bytes);
  });
}

/** SHA-256 of a local file, streamed. */
export async function sha256File(filePath: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(filePath)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function asUserInput<T>(source: ByteSource, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof SafetensorsFormatError) {
      throw badUserInput(`${source.name} is not a valid safetensors file: ${error.message}`, error);
    }
    throw error;
  }
}
