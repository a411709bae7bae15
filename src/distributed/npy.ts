/** Writing NumPy `.npy` files (format 1.0), for `keops-ts merge`: readable by numpy.load. */
import type { Tensor } from "../tensor.js";

const DESCR = { float32: "<f4", float64: "<f8", int32: "<i4" } as const;

/** The bytes of a `.npy` file holding `t` (C order, little-endian). */
export function npyBytes(t: Tensor): Uint8Array {
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(", ")})`;
  let header = `{'descr': '${DESCR[t.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64, ending in \n
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header.padEnd(total - 10 - 1, " ") + "\n";
  const out = new Uint8Array(total + t.data.byteLength);
  out.set([0x93, ...Array.from("NUMPY", (c) => c.charCodeAt(0)), 1, 0, header.length & 0xff, header.length >> 8]);
  for (let k = 0; k < header.length; k++) out[10 + k] = header.charCodeAt(k);
  out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), total);
  return out;
}
