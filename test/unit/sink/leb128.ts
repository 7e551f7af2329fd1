/** LEB128 of a non-negative integer (RowBinary's length prefix), written out by hand for the tests. */
export function leb128(n: number): Buffer {
  const bytes: number[] = [];
  let x = n;
  do {
    bytes.push((x & 0x7f) | (x >= 0x80 ? 0x80 : 0));
    x = Math.floor(x / 128);
  } while (x > 0);
  return Buffer.from(bytes);
}
