import { createReadStream } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';

/** Lines of one read chunk; `firstLine` is the 1-based line number of `lines[0]`. */
export interface LineBatch {
  readonly lines: readonly string[];
  readonly firstLine: number;
  /** Bytes of the file consumed so far. */
  readonly bytesRead: number;
}

/** @default 1 MiB: few awaits per file, bounded memory. */
const CHUNK_BYTES = 1 << 20;

/**
 * Lines of a text file in batches (one per read chunk) rather than one by one: an `await` per line would
 * dominate the cost of reading a 900k-line telemetry file. Strips `\r` and a leading UTF-8 BOM. Breaking
 * out of the loop closes the file.
 */
export async function* readLineBatches(path: string): AsyncGenerator<LineBatch> {
  const stream = createReadStream(path, { highWaterMark: CHUNK_BYTES });
  const decoder = new StringDecoder('utf8');
  let carry = '';
  let lineNo = 1;
  let bytesRead = 0;
  let first = true;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      let text = carry + decoder.write(chunk);
      if (first && text.length > 0) {
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
        first = false;
      }
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      if (lines.length === 0) continue;
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i] ?? '';
        if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
      }
      yield { lines, firstLine: lineNo, bytesRead };
      lineNo += lines.length;
    }
    const rest = carry + decoder.end();
    if (rest !== '') {
      yield { lines: [rest.endsWith('\r') ? rest.slice(0, -1) : rest], firstLine: lineNo, bytesRead };
    }
  } finally {
    stream.destroy();
  }
}
