/**
 * An IDX file (MNIST's format): magic 0x0000 <type> <rank>, big-endian dimensions, then the data, here as
 * raw bytes (zeros when omitted). `type` 0x08 is unsigned byte.
 */
export function idxFile(type: number, dims: number[], data?: Uint8Array): Uint8Array {
  const body = data ?? new Uint8Array(dims.reduce((a, b) => a * b, 1));
  const out = new Uint8Array(4 + 4 * dims.length + body.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, (type << 8) | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(body, 4 + 4 * dims.length);
  return out;
}
