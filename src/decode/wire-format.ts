import { BadRecordError } from '../shared/errors.js';

/** Confluent wire format: magic byte 0, 4-byte big-endian schema id, then the Avro binary body. */
export const MAGIC_BYTE = 0;
export const FRAME_HEADER_BYTES = 5;

export interface Frame {
  readonly schemaId: number;
  /** A view into the original buffer (no copy). */
  readonly body: Buffer;
}

export function encodeFrame(schemaId: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  out[0] = MAGIC_BYTE;
  out.writeUInt32BE(schemaId, 1);
  out.set(body, FRAME_HEADER_BYTES);
  return out;
}

/** Splits a framed value; throws {@link BadRecordError} `BAD_FRAME` for a missing value, short frame or wrong magic byte. */
export function parseFrame(value: Buffer | null): Frame {
  return { schemaId: frameSchemaId(value), body: (value as Buffer).subarray(FRAME_HEADER_BYTES) };
}

/**
 * The schema id of a framed value, checked like {@link parseFrame}; its body starts at
 * {@link FRAME_HEADER_BYTES}. The decoder's per-message path: no frame object, no body view.
 */
export function frameSchemaId(value: Buffer | null): number {
  if (value === null)
    throw new BadRecordError('BAD_FRAME', 'message has no value (tombstone)', { stage: 'decode' });
  if (value.length < FRAME_HEADER_BYTES) {
    throw new BadRecordError(
      'BAD_FRAME',
      `frame of ${value.length} bytes is shorter than the 5-byte header`,
      {
        stage: 'decode',
      },
    );
  }
  if (value[0] !== MAGIC_BYTE) {
    throw new BadRecordError('BAD_FRAME', `magic byte is ${value[0]}, expected ${MAGIC_BYTE}`, {
      stage: 'decode',
    });
  }
  return value.readUInt32BE(1);
}
