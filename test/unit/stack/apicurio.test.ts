import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import {
  APICURIO_CCOMPAT_PATH,
  apicurioJavaArgs,
  apicurioPaths,
  apicurioUrl,
  mavenBuildArgs,
} from '../../../src/stack/apicurio.js';
import { stackPaths } from '../../../src/stack/paths.js';
import { localServices } from '../../../src/stack/stack.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const config = loadConfig({
  PDM_STACK_REGISTRY: 'apicurio',
  PDM_STACK_REGISTRY_PORT: '18081',
  PDM_CACHE_DIR: '/var/tmp/pdm',
});
const paths = stackPaths(config.stack, '/repo');
const p = apicurioPaths(paths);

describe('PDM_STACK_REGISTRY', () => {
  it('defaults to the stand-in and leaves the registry URL as before', () => {
    const c = loadConfig({});
    expect(c.stack.registry).toBe('standin');
    expect(c.registry.url).toBe('http://127.0.0.1:8081');
  });

  it('with apicurio and no SCHEMA_REGISTRY_URL, points clients at the ccompat base of the stack port', () => {
    expect(config.stack.registry).toBe('apicurio');
    expect(config.registry.url).toBe('http://127.0.0.1:18081/apis/ccompat/v7');
    expect(apicurioUrl(config)).toBe(config.registry.url);
  });

  it('keeps an explicit SCHEMA_REGISTRY_URL', () => {
    const c = loadConfig({ PDM_STACK_REGISTRY: 'apicurio', SCHEMA_REGISTRY_URL: 'http://reg:8080/x' });
    expect(c.registry.url).toBe('http://reg:8080/x');
  });

  it('rejects other values', () => {
    expect(() => loadConfig({ PDM_STACK_REGISTRY: 'confluent' })).toThrow(/PDM_STACK_REGISTRY/);
  });
});

describe('apicurio service files and command line', () => {
  it('keeps the build, data and pid file under the cache dir, and the recipe under deploy/', () => {
    expect(p.buildDir).toBe('/var/tmp/pdm/apicurio-2.4.2');
    expect(p.runnerJar).toBe('/var/tmp/pdm/apicurio-2.4.2/apicurio-runner-1.0-runner.jar');
    expect(p.database).toBe('/var/tmp/pdm/apicurio/db/registry');
    expect(p.pidFile).toBe('/var/tmp/pdm/run/apicurio.pid');
    expect(p.pom).toBe('/repo/deploy/stack/apicurio/pom.xml');
    expect(p.settings).toBe('/repo/deploy/stack/apicurio/settings.xml');
  });

  it('builds with the Central-only settings into the given directory, never into the repository', () => {
    const args = mavenBuildArgs(p, '/var/tmp/pdm/apicurio-2.4.2.partial');
    expect(args.slice(args.indexOf('-s'), args.indexOf('-s') + 2)).toEqual(['-s', p.settings]);
    expect(args).toContain('package');
    expect(args).toContain('-Dapicurio.build.dir=/var/tmp/pdm/apicurio-2.4.2.partial');
  });

  it('runs on loopback with a small heap, H2 file storage and no extra listener', () => {
    const args = apicurioJavaArgs(config, p);
    expect(args).toContain('-Xmx128m');
    expect(args).toContain('-Dquarkus.http.host=127.0.0.1');
    expect(args).toContain('-Dquarkus.http.port=18081');
    expect(args).toContain('-Dquarkus.datasource.jdbc.url=jdbc:h2:file:/var/tmp/pdm/apicurio/db/registry');
    expect(args).toContain(
      '-DCoreEnvironmentBean.processImplementationClassName=com.arjuna.ats.internal.arjuna.utils.UuidProcessId',
    );
    expect(args.slice(-2)).toEqual(['-jar', p.runnerJar]);
  });
});

describe('registry selection', () => {
  it('runs Apicurio as the schema-registry service, addressed by its ccompat URL', () => {
    const registry = localServices(config, silent).find((s) => s.name === 'schema-registry');
    expect(registry?.address()).toBe(`http://127.0.0.1:18081${APICURIO_CCOMPAT_PATH}`);
  });

  it('runs the stand-in by default', () => {
    const registry = localServices(loadConfig({}), silent).find((s) => s.name === 'schema-registry');
    expect(registry?.address()).toBe('http://127.0.0.1:8081');
  });
});
