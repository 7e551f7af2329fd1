import { describe, expect, it } from 'vitest';
import {
  accessStatements,
  grantAccess,
  roleName,
  supportsAccessControl,
  type ClickHouseConnection,
  type ServerCapabilities,
} from '../../../src/sink/index.js';

const caps = (version: string): ServerCapabilities => {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return { version, major, minor, queryParams: major >= 19, modernTypes: major > 20 };
};

function fakeConnection(grants: readonly string[]): ClickHouseConnection & { execs: string[] } {
  const execs: string[] = [];
  return {
    execs,
    capabilities: () => Promise.resolve(caps('24.8.1')),
    exec: (sql) => {
      execs.push(sql);
      return Promise.resolve();
    },
    query: <T>(sql: string) => {
      if (sql !== 'SHOW GRANTS') throw new Error(`unexpected query ${sql}`);
      // The column is named after the user (`GRANTS FOR x`): only the values count.
      return Promise.resolve(grants.map((g) => ({ 'GRANTS FOR pdm_migrator': g })) as T[]);
    },
    insert: () => Promise.reject(new Error('no inserts')),
    ping: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
}

describe('ClickHouse access roles (issue 11)', () => {
  it('roles per database; the engine may insert everywhere but migrations and resolutions', () => {
    expect(roleName('pdm', 'engine')).toBe('pdm_engine_role');
    const sql = accessStatements('pdm');
    expect(sql).toContain('GRANT SELECT, INSERT ON `pdm`.* TO `pdm_engine_role`');
    expect(sql).toContain('REVOKE INSERT ON `pdm`.`schema_migrations` FROM `pdm_engine_role`');
    expect(sql).toContain('REVOKE INSERT ON `pdm`.`dead_letter_resolutions` FROM `pdm_engine_role`');
    expect(sql).toContain('GRANT SELECT ON `pdm`.* TO `pdm_ops_role`');
    expect(sql).toContain('GRANT INSERT ON `pdm`.`dead_letter_resolutions` TO `pdm_dlq_role`');
    // Nothing but SELECT and INSERT is ever granted; roles are created before they are granted to.
    expect(
      sql
        .filter((s) => s.startsWith('GRANT'))
        .every((s) => /^GRANT (SELECT|INSERT|SELECT, INSERT) ON/.test(s)),
    ).toBe(true);
    expect(sql.findIndex((s) => s.startsWith('GRANT'))).toBeGreaterThan(
      sql.findLastIndex((s) => s.startsWith('CREATE ROLE')),
    );
    expect(() => accessStatements('pdm; DROP')).toThrow(TypeError);
  });

  it('SQL access control from 20.8 on', () => {
    expect(supportsAccessControl(caps('18.16.1'))).toBe(false);
    expect(supportsAccessControl(caps('20.3.5'))).toBe(false);
    expect(supportsAccessControl(caps('20.8.1'))).toBe(true);
    expect(supportsAccessControl(caps('26.9.2'))).toBe(true);
  });

  it('18.16: nothing is sent, the report says why', async () => {
    const ch = fakeConnection(['GRANT ALL ON *.* TO default WITH GRANT OPTION']);
    const r = await grantAccess(ch, 'pdm', caps('18.16.1'));
    expect(r).toEqual({ granted: false, reason: expect.stringMatching(/users-18\.16\.xml/) as unknown });
    expect(ch.execs).toEqual([]);
  });

  it('a user without CREATE ROLE (the engine at start): no statement, a reason', async () => {
    const ch = fakeConnection(['GRANT pdm_engine_role TO pdm_engine', 'GRANT SELECT ON pdm.* TO pdm_engine']);
    const r = await grantAccess(ch, 'pdm', caps('24.8.1'));
    expect(r.granted).toBe(false);
    expect(ch.execs).toEqual([]);
  });

  it.each([
    'GRANT ALL ON *.* TO default WITH GRANT OPTION',
    'GRANT CREATE ROLE ON *.* TO pdm_migrator',
    'GRANT ACCESS MANAGEMENT ON *.* TO admin',
  ])('the migrator (%s) grants every role', async (grant) => {
    const ch = fakeConnection(['GRANT ALL ON pdm.* TO pdm_migrator WITH GRANT OPTION', grant]);
    const r = await grantAccess(ch, 'pdm', caps('24.8.1'));
    expect(r).toEqual({ granted: true, roles: ['pdm_engine_role', 'pdm_ops_role', 'pdm_dlq_role'] });
    expect(ch.execs).toEqual([...accessStatements('pdm')]);
  });
});
