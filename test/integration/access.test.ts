/**
 * Least privilege on the ClickHouse the local stack runs (18.16, issue 11): deploy/clickhouse/users-18.16.xml
 * loaded by a private server (test/support/clickhouse-server.ts; never the shared :8123, whose `default`
 * user everyone's tests use), pointed at a unique database. The product's own code runs as each user:
 * `migrate` as the migrator applies everything; as the engine it only checks; the engine writes its rows
 * and cannot DROP, ALTER or CREATE; ops can read and cannot INSERT or DROP; `dlq` writes resolutions.
 * The engine's password is a canary: it appears in no error the product raises.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createDeadLetterStore } from '../../src/dlq/index.js';
import { projectRoot } from '../../src/stack/index.js';
import { accessUsersEnv, accessUsersXml } from '../../src/stack/clickhouse.js';
import {
  createClickHouse,
  migrate,
  MIGRATIONS,
  quoteIdent,
  type ClickHouseConnection,
} from '../../src/sink/index.js';
import { startPrivateClickHouse, type PrivateClickHouse } from '../support/clickhouse-server.js';

const token = randomBytes(4).toString('hex');
const DB = `pdm_access_${token}`;
const d = quoteIdent(DB);
const CANARY = `canary-ch-secret-${token}`;
const PASSWORDS = { migrator: `m-${token}`, engine: CANARY, dlq: `d-${token}`, ops: `o-${token}` };

let server: PrivateClickHouse;
const open: ClickHouseConnection[] = [];
/** Every error message the product raised in this file: none may hold the canary. */
const messages: string[] = [];

function connect(user: keyof typeof PASSWORDS): ClickHouseConnection {
  const config = loadConfig({
    CLICKHOUSE_URL: server.url,
    CLICKHOUSE_USER: `pdm_${user}`,
    CLICKHOUSE_PASSWORD: PASSWORDS[user],
    CLICKHOUSE_DATABASE: DB,
  });
  const ch = createClickHouse(config.clickhouse);
  open.push(ch);
  return ch;
}

/** The ClickHouse error code of a refused statement (the product's error code `CLICKHOUSE_<n>`). */
async function refused(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { code?: string };
    messages.push(`${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`);
    return e.code ?? 'no code';
  }
  return 'ALLOWED';
}

/** 392: DDL prohibited (allow_ddl=0); 164: readonly; 291: database not allowed for the user. */
const DENIED = ['CLICKHOUSE_392', 'CLICKHOUSE_164', 'CLICKHOUSE_291'];

beforeAll(async () => {
  server = await startPrivateClickHouse({
    usersD: { 'pdm.xml': accessUsersXml(projectRoot(), DB) },
    env: accessUsersEnv(PASSWORDS),
  });
}, 120_000);

afterAll(async () => {
  for (const ch of open) await ch.close();
  await server.close();
});

describe('ClickHouse access on 18.16 through users.xml profiles (issue 11)', () => {
  it('the engine cannot migrate an empty database: a clear error, nothing created', async () => {
    const engine = connect('engine');
    try {
      await migrate(engine, DB);
      expect.unreachable('migrate as the engine user must fail on an empty database');
    } catch (err) {
      const e = err as Error & { code?: string };
      messages.push(e.message);
      expect(e.code).toBe('MIGRATION_NOT_PERMITTED');
      expect(e.message).toMatch(/run `pdm-stream migrate` as the migrator/);
    }
    const admin = connect('migrator');
    expect(
      await admin.query(`SELECT name FROM system.databases WHERE name = {db:String}`, { db: DB }),
    ).toEqual([]);
  });

  it('the migrator applies every migration; 18.16 has no GRANTs to emit (and says so)', async () => {
    const report = await migrate(connect('migrator'), DB);
    expect(report.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(report.access.granted).toBe(false);
    if (!report.access.granted) expect(report.access.reason).toMatch(/no SQL access control/);
  });

  it('the engine: migrate at start runs no DDL; it reads and writes its tables', async () => {
    const engine = connect('engine');
    const again = await migrate(engine, DB);
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toBe(MIGRATIONS.length);
    await engine.insert(`${d}.predictions`, [
      {
        machine_id: 1,
        bucket_ts: '2026-01-01 00:00:00',
        model_version: 'v',
        spec_hash: 'h',
        scored_at: '2026-01-01 00:00:00',
      },
    ]);
    const rows = await engine.query<{ n: string }>(`SELECT count() AS n FROM ${d}.predictions`);
    expect(Number(rows[0]?.n)).toBe(1);
  });

  it('the engine cannot DROP, ALTER, TRUNCATE or CREATE, nor reach another database', async () => {
    const engine = connect('engine');
    // Thunks: each statement runs only when its turn comes (an unawaited rejection would fail the run).
    const attempts: Record<string, () => Promise<unknown>> = {
      dropTable: () => engine.exec(`DROP TABLE ${d}.predictions`),
      dropDatabase: () => engine.exec(`DROP DATABASE ${d}`),
      truncate: () => engine.exec(`TRUNCATE TABLE ${d}.dead_letters`),
      alterAdd: () => engine.exec(`ALTER TABLE ${d}.predictions ADD COLUMN x UInt8`),
      alterDelete: () => engine.exec(`ALTER TABLE ${d}.predictions DELETE WHERE 1`),
      alterDropPartition: () => engine.exec(`ALTER TABLE ${d}.predictions DROP PARTITION 202601`),
      createTable: () => engine.exec(`CREATE TABLE ${d}.extra (a UInt8) ENGINE = Memory`),
      createView: () => engine.exec(`CREATE VIEW ${d}.extra_view AS SELECT 1`),
      createDatabase: () => engine.exec(`CREATE DATABASE IF NOT EXISTS other_${token}`),
      optimize: () => engine.exec(`OPTIMIZE TABLE ${d}.predictions FINAL`),
      setAllowDdl: () => engine.exec('SET allow_ddl = 1'),
      otherDatabase: () => engine.query('SELECT count() FROM default.nonexistent'),
    };
    const codes: Record<string, string> = {};
    for (const [name, run] of Object.entries(attempts)) codes[name] = await refused(run());
    for (const [name, code] of Object.entries(codes)) expect(DENIED, `${name}: ${code}`).toContain(code);
    const tables = await engine.query<{ name: string }>(
      `SELECT name FROM system.tables WHERE database = {db:String} AND name IN ('extra', 'extra_view')`,
      { db: DB },
    );
    expect(tables).toEqual([]);
  });

  it('ops can read (dlq depth) and cannot INSERT, DROP or lift readonly', async () => {
    const ops = connect('ops');
    const caps = await ops.capabilities();
    expect(await createDeadLetterStore(ops, DB, caps).depth()).toEqual([]);
    expect(await refused(ops.insert(`${d}.dead_letter_resolutions`, [{ topic: 't' }]))).toBe(
      'CLICKHOUSE_164',
    );
    expect(await refused(ops.insert(`${d}.predictions`, [{ machine_id: 2 }]))).toBe('CLICKHOUSE_164');
    expect(await refused(ops.exec(`DROP TABLE ${d}.predictions`))).toBe('CLICKHOUSE_164');
    expect(await refused(ops.exec(`CREATE TABLE ${d}.x (a UInt8) ENGINE = Memory`))).toBe('CLICKHOUSE_164');
    expect(await refused(ops.exec('SET readonly = 0'))).toBe('CLICKHOUSE_164');
    // A setting sent with the query (not SET) is refused too: readonly=1 allows no setting at all.
    const res = await fetch(
      `${server.url}/?user=pdm_ops&password=${PASSWORDS.ops}&readonly=0&query=${encodeURIComponent(`INSERT INTO ${DB}.predictions (machine_id) VALUES (3)`)}`,
      { method: 'POST' },
    );
    expect(res.status).not.toBe(200);
    expect(await res.text()).toMatch(/Code: 164/);
  });

  it('dlq replay/dismiss writes resolutions and cannot DROP', async () => {
    const dlq = connect('dlq');
    const store = createDeadLetterStore(dlq, DB, await dlq.capabilities());
    await store.resolve([
      {
        topic: 'pdm.telemetry',
        partition: 0,
        offset: '1',
        reason: 'SCHEMA_NOT_FOUND',
        action: 'dismissed',
        note: 'access test',
        replayCount: 0,
        replayedToPartition: -1,
        replayedToOffset: '-1',
      },
    ]);
    expect(DENIED).toContain(await refused(dlq.exec(`DROP TABLE ${d}.dead_letter_resolutions`)));
    expect(DENIED).toContain(await refused(dlq.exec(`ALTER TABLE ${d}.dead_letters DELETE WHERE 1`)));
  });

  it('18.16 limitation (documented in deploy/clickhouse/users-18.16.xml): allow_ddl=0 yields to a per-query setting', async () => {
    const admin = connect('migrator');
    await admin.exec(`CREATE TABLE ${d}.scratch (a UInt8) ENGINE = Memory`);
    const res = await fetch(
      `${server.url}/?user=pdm_engine&password=${encodeURIComponent(CANARY)}&allow_ddl=1&query=${encodeURIComponent(`DROP TABLE ${DB}.scratch`)}`,
      { method: 'POST' },
    );
    const caps = await admin.capabilities();
    // On 18.x the guard keeps the product's own code from DDL, not a holder of the password. A server that
    // refuses here enforces allow_ddl (constraints, 19.14+): the note in users-18.16.xml can go then.
    if (caps.major < 19) expect(res.status).toBe(200);
    else expect(res.status).not.toBe(200);
  });

  it('the engine password (a canary) is in no error message the product raised', () => {
    expect(messages.length).toBeGreaterThan(10);
    expect(messages.filter((m) => m.includes(CANARY))).toEqual([]);
  });
});
