/**
 * Least-privilege access to the pdm database on servers with SQL access control (ClickHouse ≥ 20.8:
 * roles, GRANT and partial REVOKE). `migrate` emits these after the DDL when the connected user may
 * create roles, so the roles follow the tables that the migrations create. Users are not created here
 * (their passwords are the operator's): deploy/clickhouse/access.sql creates them once with these roles
 * as their default roles. On 18.16, which has no SQL access control, deploy/clickhouse/users-18.16.xml
 * does the same with profiles (`readonly`, `allow_ddl`) and per-user database filters.
 */
import { quoteIdent } from './bind.js';
import type { ClickHouseConnection, ServerCapabilities } from './clickhouse.js';

/** What each role may do, by who uses it. Role names carry the database so that databases do not share them. */
export const ACCESS_ROLES = {
  /** `run`: reads what it restores and checks, inserts its rows; no DDL, no ALTER … DELETE, no DROP. */
  engine: 'engine_role',
  /** Dashboards, `report`, `dlq depth|top|show`: SELECT only. */
  ops: 'ops_role',
  /** `dlq replay|dismiss`: reads, and inserts resolutions (nothing else). */
  dlq: 'dlq_role',
} as const;

export type AccessRole = keyof typeof ACCESS_ROLES;

export function roleName(db: string, role: AccessRole): string {
  return `${db}_${ACCESS_ROLES[role]}`;
}

/**
 * Tables only the migrator writes (schema_migrations) or only `dlq replay|dismiss` writes
 * (dead_letter_resolutions): the engine role gets INSERT on the database minus these, so that a table
 * added by a later migration is writable by the engine without a change here.
 */
const NOT_WRITTEN_BY_ENGINE = ['schema_migrations', 'dead_letter_resolutions'] as const;

/** CREATE ROLE, GRANT and REVOKE statements for `db`; each is idempotent. */
export function accessStatements(db: string): readonly string[] {
  const d = quoteIdent(db);
  const engine = quoteIdent(roleName(db, 'engine'));
  const ops = quoteIdent(roleName(db, 'ops'));
  const dlq = quoteIdent(roleName(db, 'dlq'));
  return [
    `CREATE ROLE IF NOT EXISTS ${engine}`,
    `CREATE ROLE IF NOT EXISTS ${ops}`,
    `CREATE ROLE IF NOT EXISTS ${dlq}`,
    `GRANT SELECT, INSERT ON ${d}.* TO ${engine}`,
    ...NOT_WRITTEN_BY_ENGINE.map((t) => `REVOKE INSERT ON ${d}.${quoteIdent(t)} FROM ${engine}`),
    `GRANT SELECT ON ${d}.* TO ${ops}`,
    `GRANT SELECT ON ${d}.* TO ${dlq}`,
    `GRANT INSERT ON ${d}.${quoteIdent('dead_letter_resolutions')} TO ${dlq}`,
  ];
}

export type AccessReport =
  | { readonly granted: true; readonly roles: readonly string[] }
  | { readonly granted: false; readonly reason: string };

/** SQL access control with partial revokes (20.5) in a release we can name: 20.8 LTS. */
export function supportsAccessControl(caps: ServerCapabilities): boolean {
  return caps.major > 20 || (caps.major === 20 && caps.minor >= 8);
}

/**
 * Whether the connected user may create roles, from its own grants (SHOW GRANTS needs no privilege). The
 * engine's and ops' users may not: their `migrate` at start emits nothing. Role membership lines
 * (`GRANT role TO user`) do not count: give the migrator CREATE ROLE directly.
 */
async function mayCreateRoles(ch: ClickHouseConnection): Promise<boolean> {
  const rows = await ch.query<Record<string, string>>('SHOW GRANTS');
  return rows.some((r) =>
    Object.values(r).some((g) => /^GRANT\b.*\b(ALL|ACCESS MANAGEMENT|CREATE ROLE)\b.* ON \*\.\*/.test(g)),
  );
}

/** Runs {@link accessStatements} (no capability check; see {@link grantAccess}). */
export async function applyAccess(ch: ClickHouseConnection, db: string): Promise<readonly string[]> {
  for (const sql of accessStatements(db)) await ch.exec(sql);
  return (Object.keys(ACCESS_ROLES) as AccessRole[]).map((r) => roleName(db, r));
}

/**
 * Grants the roles of `db` when the server has SQL access control and the user may create roles; else
 * says why not (a value, not an error: the engine runs `migrate` at start as a user without that right).
 */
export async function grantAccess(
  ch: ClickHouseConnection,
  db: string,
  caps: ServerCapabilities,
): Promise<AccessReport> {
  if (!supportsAccessControl(caps)) {
    return {
      granted: false,
      reason: `ClickHouse ${caps.version} has no SQL access control: use deploy/clickhouse/users-18.16.xml`,
    };
  }
  if (!(await mayCreateRoles(ch))) {
    return { granted: false, reason: 'the connected user may not create roles (no CREATE ROLE on *.*)' };
  }
  return { granted: true, roles: await applyAccess(ch, db) };
}
