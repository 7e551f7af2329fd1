/**
 * A third-party producer for end-to-end tests: the Python `confluent-kafka` client (librdkafka) with its
 * AvroSerializer and SchemaRegistryClient, run from a venv under the stack's cache directory
 * (`.cache/pyvenv`, created and filled from PyPI on first use). See python/produce.py.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { beforeAll } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./python/produce.py', import.meta.url));
/** Packages of the venv; `[avro,schemaregistry]` pulls the serializer's own dependencies. */
const REQUIREMENTS = ['confluent-kafka[avro,schemaregistry]', 'fastavro'] as const;

function run(cmd: string, args: readonly string[], timeoutMs: number): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  }
}

/**
 * Path of a Python interpreter that can `import confluent_kafka.schema_registry.avro`; creates the venv
 * `<cacheDir>/pyvenv` on first use. @param cacheDir - PDM_CACHE_DIR, relative to the repository root.
 */
export function pythonWithConfluentKafka(cacheDir = '.cache'): string {
  const venv = resolve(ROOT, cacheDir, 'pyvenv');
  const python = join(venv, 'bin', 'python');
  const ready = join(venv, '.pdm-ready');
  if (existsSync(ready)) return python;
  rmSync(venv, { recursive: true, force: true });
  mkdirSync(resolve(ROOT, cacheDir), { recursive: true });
  run('python3', ['-m', 'venv', venv], 120_000);
  run(python, ['-m', 'pip', 'install', '--quiet', ...REQUIREMENTS], 600_000);
  run(python, ['-c', 'import confluent_kafka.schema_registry.avro'], 60_000);
  writeFileSync(ready, `${REQUIREMENTS.join('\n')}\n`);
  return python;
}

/** One message for produce.py: `value` null is a tombstone; `timestamp` is the Kafka record timestamp. */
export interface PyMessage {
  readonly topic: string;
  /** Name of a schema passed in {@link PyProduceOptions.schemas}; required unless `value` is null. */
  readonly schema?: string;
  readonly key: string | null;
  readonly value: Readonly<Record<string, unknown>> | null;
  readonly timestamp?: number;
  /** Kafka headers in order, [name, UTF-8 value]; null is a header without a value. */
  readonly headers?: ReadonlyArray<readonly [string, string | null]>;
}

export interface PyProduceOptions {
  readonly bootstrap: string;
  readonly registryUrl: string;
  /** Schema name → path of an .avsc file (registered under `<topic>-value` on first use). */
  readonly schemas: Readonly<Record<string, string>>;
  /** librdkafka partitioner for all topics. @default librdkafka's default (consistent_random) */
  readonly partitioner?: string;
  /** Topic → librdkafka partitioner, for topics produced differently from the rest. */
  readonly topicPartitioners?: Readonly<Record<string, string>>;
  /** librdkafka `compression.type` (gzip, snappy, lz4, zstd). @default none */
  readonly compression?: string;
  /**
   * produce.py is killed and the call rejects, naming the last step it reported, when it has not finished
   * by then (a hang must fail the test with a reason, not run into the test's own timeout). @default 120000
   */
  readonly timeoutMs?: number;
}

export interface PyDelivery {
  readonly i: number;
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

/** Produces `messages` in order with produce.py; resolves with each message's partition and offset. */
export function producePython(
  messages: readonly PyMessage[],
  options: PyProduceOptions,
): Promise<PyDelivery[]> {
  const python = pythonWithConfluentKafka(process.env['PDM_CACHE_DIR'] ?? '.cache');
  const args = [SCRIPT, '--bootstrap', options.bootstrap, '--registry', options.registryUrl];
  for (const [name, path] of Object.entries(options.schemas)) args.push('--schema', `${name}=${path}`);
  if (options.partitioner !== undefined) args.push('--partitioner', options.partitioner);
  for (const [topic, p] of Object.entries(options.topicPartitioners ?? {}))
    args.push('--topic-partitioner', `${topic}=${p}`);
  if (options.compression !== undefined) args.push('--compression', options.compression);
  return new Promise((resolve, reject) => {
    const p = spawn(python, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const timeoutMs = options.timeoutMs ?? 120_000;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      p.kill('SIGKILL');
    }, timeoutMs);
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      if (timedOut) {
        const steps = err.split('\n').filter((l) => l.startsWith('step: '));
        reject(
          new Error(
            `produce.py did not finish within ${timeoutMs} ms (${messages.length} messages); killed after its ` +
              `last step: ${steps.at(-1)?.slice('step: '.length) ?? 'none reported (stuck before its producers were ready)'}\n` +
              err.slice(-4000),
          ),
        );
        return;
      }
      if (code !== 0) {
        reject(new Error(`produce.py exited ${code}:\n${err.slice(-4000)}`));
        return;
      }
      const deliveries = out
        .trim()
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as PyDelivery);
      if (deliveries.length !== messages.length) {
        reject(new Error(`produce.py acknowledged ${deliveries.length} of ${messages.length} messages`));
        return;
      }
      resolve(deliveries);
    });
    // Written in chunks so that a large fleet does not sit in one string.
    const CHUNK = 5_000;
    for (let i = 0; i < messages.length; i += CHUNK) {
      p.stdin.write(
        messages
          .slice(i, i + CHUNK)
          .map((m) => `${JSON.stringify(m)}\n`)
          .join(''),
      );
    }
    p.stdin.end();
  });
}

/**
 * librdkafka's default partitioner `consistent_random` for a non-null key: CRC32 of the key bytes modulo
 * the partition count (rdkafka_msg.c, rd_kafka_msg_partitioner_consistent). Used to plan which machines
 * share a partition; the partition actually used is always the one the broker acknowledged.
 */
export function librdkafkaConsistentPartition(key: string, partitions: number): number {
  return crc32(Buffer.from(key, 'utf8')) % partitions;
}

/**
 * For a test file that produces with produce.py: creates the venv (PyPI: confluent-kafka, fastavro) before
 * its tests, within the hook's timeout, rather than inside the first test.
 */
export function usePythonProducer(): void {
  beforeAll(() => {
    pythonWithConfluentKafka(process.env['PDM_CACHE_DIR'] ?? '.cache');
  });
}
