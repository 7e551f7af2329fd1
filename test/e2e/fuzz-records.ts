/**
 * Seeded bad Kafka records for the issue-9 fuzz test: random bytes, mutated and truncated valid frames,
 * absurd event times and record timestamps, wrong and missing keys, wrong schema ids, tombstones on topics
 * that are not compacted, out-of-range values; a fifth of them also carry random headers. Every record is checked here to be unusable whatever the
 * engine's state (a mutation that still decodes to a plausible record is drawn again), so that "exactly the
 * valid records are used" stays a precise oracle.
 */
import {
  createResolvingCodec,
  loadProjectSchemas,
  parseFrame,
  validateRecord,
  type ProjectSchemas,
} from '../../src/decode/index.js';
import type { FeatureConfig } from '../../src/config/index.js';
import { checkMachine, checkTelemetry } from '../../src/features/validate.js';
import {
  machineKey,
  type MachineRecord,
  type PdmEvent,
  type RecordKind,
  type TelemetryRecord,
} from '../../src/shared/records.js';
import { createRng, type Rng } from '../../src/simulate/index.js';
import type { Framer, RawMessage } from './handmade.js';
import { eventTs, ENGINE_TOPICS } from './handmade.js';

export const FUZZ_KINDS = [
  'random-bytes',
  'mutated-frame',
  'truncated-frame',
  'absurd-time',
  'absurd-record-timestamp',
  'wrong-key',
  'missing-key',
  'wrong-schema-id',
  'tombstone',
  'bad-category',
  'bad-sensor',
] as const;
export type FuzzKind = (typeof FUZZ_KINDS)[number];

export interface FuzzRecord {
  readonly fuzz: FuzzKind;
  readonly message: RawMessage;
}

const STORABLE_FROM = Date.UTC(2000, 0, 1);
const STORABLE_UNTIL = Date.UTC(2100, 0, 1);
/** Beyond any processing clock plus skew the engine might use while the test runs. */
const FUTURE_FROM = Date.now() + 2 * 86_400_000;
/** Event times no storable-range check may accept; all ≥ 0 so they can double as Kafka timestamps. */
const ABSURD_TIMES = [
  9e15,
  0,
  1,
  Date.UTC(1970, 0, 1, 5),
  Date.UTC(1999, 11, 31, 23, 59, 59, 999),
  STORABLE_UNTIL,
  Date.UTC(2100, 5, 1),
  253_402_300_800_000,
] as const;
const ABSURD_RECORD_TIMESTAMPS = [9e15, 0, 8.64e15 + 1] as const;
const BAD_KEYS = ['abc', '', ' 1', '01', '-1', '1.0', '٣', 'null', '99999999999999999999'] as const;

function timeIsUnusable(ts: unknown): boolean {
  return (
    typeof ts !== 'number' ||
    !Number.isSafeInteger(ts) ||
    ts < STORABLE_FROM ||
    ts >= STORABLE_UNTIL ||
    ts > FUTURE_FROM
  );
}

/** True when no engine state can make this message usable (see the file comment). */
export function surelyBad(
  kind: RecordKind,
  message: RawMessage,
  writerKindOfId: ReadonlyMap<number, RecordKind>,
  schemas: ProjectSchemas,
  ranges: FeatureConfig['ranges'],
): boolean {
  // FEATURES.md revision 2: the storable range applies to a Kafka record timestamp the engine reads too.
  const recordTs = message.timestamp;
  if (recordTs !== undefined && (recordTs < STORABLE_FROM || recordTs >= STORABLE_UNTIL)) return true;
  try {
    const frame = parseFrame(message.value);
    const writerKind = writerKindOfId.get(frame.schemaId);
    if (writerKind === undefined) return true;
    const record = createResolvingCodec(schemas[kind], schemas[writerKind]).decode(frame.body) as Record<
      string,
      unknown
    >;
    validateRecord(kind, record, message.key === null ? null : Buffer.from(message.key, 'utf8'));
    if (kind === 'machines') return checkMachine(record as unknown as MachineRecord) !== null;
    if (timeIsUnusable(record['ts'])) return true;
    if (kind === 'telemetry') return checkTelemetry(record as unknown as TelemetryRecord, ranges) !== null;
    return false;
  } catch {
    // Unparseable frame, unknown or incompatible schema, truncated body, invalid key or value.
    return true;
  }
}

const HEADER_NAMES = [
  'pdm-replay-count',
  'pdm-replayed-from',
  'pdm-replayed-at',
  'content-type',
  '',
  'x',
] as const;

/**
 * Random Kafka headers: the engine's own replay header names with garbage (huge counts, invalid UTF-8,
 * long strings) and arbitrary ones. Records carry them whether valid or not.
 */
export function randomHeaders(rng: Rng): Record<string, Buffer | string> {
  const out: Record<string, Buffer | string> = {};
  const n = rng.int(1, 4);
  for (let i = 0; i < n; i++) {
    const name =
      rng.next() < 0.7 ? (HEADER_NAMES[rng.int(0, HEADER_NAMES.length - 1)] ?? 'x') : `h${rng.int(0, 1e6)}`;
    const r = rng.next();
    out[name] =
      r < 0.25
        ? Buffer.from(Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255)))
        : r < 0.5
          ? String(rng.int(-5, 9_999_999_999))
          : r < 0.75
            ? 'x'.repeat(rng.int(0, 4_000))
            : `t/${rng.int(0, 9)}/${rng.int(0, 1e9)}`;
  }
  return out;
}

export interface FuzzOptions {
  readonly seed: number;
  readonly count: number;
  /** Valid events to derive mutations from (engine topics only). */
  readonly valid: readonly PdmEvent[];
  readonly framer: Framer;
  readonly topics: { readonly [K in RecordKind]: string };
  readonly partitions: number;
  readonly ranges: FeatureConfig['ranges'];
}

export function fuzzRecords(o: FuzzOptions): FuzzRecord[] {
  const rng: Rng = createRng(o.seed);
  const schemas = loadProjectSchemas();
  const writerKindOfId = new Map<number, RecordKind>(
    (Object.entries(o.framer.ids) as [RecordKind, number][]).map(([k, id]) => [id, k]),
  );
  const pick = <T>(list: readonly T[]): T => list[rng.int(0, list.length - 1)] as T;
  const randomBytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => rng.int(0, 255)));
  const validEvent = (kinds: readonly RecordKind[] = ENGINE_TOPICS): PdmEvent => {
    for (;;) {
      const ev = pick(o.valid);
      if (kinds.includes(ev.kind)) return ev;
    }
  };
  const messageOf = (ev: PdmEvent, value: Buffer | null, extra: Partial<RawMessage> = {}): RawMessage => {
    const ts = eventTs(ev);
    return {
      topic: o.topics[ev.kind],
      key: machineKey(ev.record.machineId),
      value,
      ...(ts === undefined ? {} : { timestamp: ts }),
      ...extra,
    };
  };
  const bad = (kind: RecordKind, m: RawMessage): boolean =>
    surelyBad(kind, m, writerKindOfId, schemas, o.ranges);

  function draw(fuzz: FuzzKind): { kind: RecordKind; message: RawMessage } | undefined {
    switch (fuzz) {
      case 'random-bytes': {
        const kind = pick(ENGINE_TOPICS);
        const value = randomBytes(rng.int(0, 48));
        // A random schema id must not hit a real one by chance (ids are small numbers).
        if (value.length >= 5 && value[0] === 0) value[1] = 0xff;
        const machineId = rng.int(1, 1000);
        return { kind, message: { topic: o.topics[kind], key: machineKey(machineId), value } };
      }
      case 'mutated-frame': {
        const ev = validEvent();
        const value = Buffer.from(o.framer.frame(ev));
        const flips = rng.int(1, 3);
        for (let i = 0; i < flips; i++) {
          const at = rng.int(5, value.length - 1);
          value[at] = (value[at] ?? 0) ^ (1 << rng.int(0, 7));
        }
        return { kind: ev.kind, message: messageOf(ev, value) };
      }
      case 'truncated-frame': {
        const ev = validEvent();
        const frame = o.framer.frame(ev);
        return { kind: ev.kind, message: messageOf(ev, frame.subarray(0, rng.int(0, frame.length - 1))) };
      }
      case 'absurd-time': {
        const ev = validEvent(['telemetry', 'errors', 'maintenance']);
        const ts = pick(ABSURD_TIMES);
        const moved = { ...ev, record: { ...ev.record, ts } } as PdmEvent;
        const timestamp = rng.next() < 0.5 ? pick(ABSURD_RECORD_TIMESTAMPS) : ts;
        return { kind: ev.kind, message: messageOf(moved, o.framer.frame(moved), { timestamp }) };
      }
      case 'absurd-record-timestamp': {
        // A copy of a valid record whose only fault is its Kafka timestamp.
        const ev = validEvent();
        return {
          kind: ev.kind,
          message: messageOf(ev, o.framer.frame(ev), { timestamp: pick(ABSURD_RECORD_TIMESTAMPS) }),
        };
      }
      case 'wrong-key': {
        const ev = validEvent();
        const key = rng.next() < 0.5 ? pick(BAD_KEYS) : machineKey(ev.record.machineId + rng.int(1, 5));
        return { kind: ev.kind, message: messageOf(ev, o.framer.frame(ev), { key }) };
      }
      case 'missing-key': {
        // Compacted topics refuse records without a key: machines is left out.
        const ev = validEvent(['telemetry', 'errors', 'maintenance']);
        return {
          kind: ev.kind,
          message: messageOf(ev, o.framer.frame(ev), { key: null, partition: rng.int(0, o.partitions - 1) }),
        };
      }
      case 'wrong-schema-id': {
        const ev = validEvent();
        const frame = Buffer.from(o.framer.frame(ev));
        const other = pick(ENGINE_TOPICS.filter((k) => k !== ev.kind));
        frame.writeUInt32BE(rng.next() < 0.5 ? o.framer.ids[other] : 1_000_000 + rng.int(0, 499), 1);
        return { kind: ev.kind, message: messageOf(ev, frame) };
      }
      case 'tombstone': {
        const ev = validEvent(['telemetry', 'errors', 'maintenance']);
        return { kind: ev.kind, message: messageOf(ev, null) };
      }
      case 'bad-category': {
        const ev = validEvent(['errors', 'maintenance', 'machines']);
        const record =
          ev.kind === 'errors'
            ? { ...ev.record, errorId: pick(['error0', 'error6', 'Error1', '']) }
            : ev.kind === 'maintenance'
              ? { ...ev.record, comp: pick(['comp0', 'comp5', 'COMP1']) }
              : rng.next() < 0.5
                ? { ...ev.record, model: pick(['model0', 'model5', 'm1']) }
                : { ...ev.record, age: -rng.int(1, 100) };
        const broken = { ...ev, record } as PdmEvent;
        return { kind: ev.kind, message: messageOf(broken, o.framer.frame(broken)) };
      }
      case 'bad-sensor': {
        const ev = validEvent(['telemetry']);
        if (ev.kind !== 'telemetry') return undefined;
        const sensor = pick(['volt', 'rotate', 'pressure', 'vibration'] as const);
        const value = pick([Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, 1e9]);
        const broken: PdmEvent = { kind: 'telemetry', record: { ...ev.record, [sensor]: value } };
        return { kind: 'telemetry', message: messageOf(broken, o.framer.frame(broken)) };
      }
    }
  }

  const out: FuzzRecord[] = [];
  while (out.length < o.count) {
    const fuzz = pick(FUZZ_KINDS);
    // A mutation that happens to stay plausible is drawn again (bounded: random choices change each time).
    for (let attempt = 0; attempt < 50; attempt++) {
      const d = draw(fuzz);
      if (d !== undefined && bad(d.kind, d.message)) {
        const withHeaders = rng.next() < 0.2 ? { ...d.message, headers: randomHeaders(rng) } : d.message;
        out.push({ fuzz, message: withHeaders });
        break;
      }
    }
  }
  return out;
}
