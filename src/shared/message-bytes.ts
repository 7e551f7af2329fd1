/**
 * Where a Kafka message's key and value bytes are: `key[keyAt, keyEnd)` and `value[valueAt, valueEnd)`,
 * null for none. Lets ingest hand bytes to decode in place, without a Buffer view per message (the buffers
 * may be a whole fetch response).
 */
export interface MessageBytes {
  key: Buffer | null;
  keyAt: number;
  keyEnd: number;
  value: Buffer | null;
  valueAt: number;
  valueEnd: number;
}

export function emptyMessageBytes(): MessageBytes {
  return { key: null, keyAt: 0, keyEnd: 0, value: null, valueAt: 0, valueEnd: 0 };
}
