import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import {
  APICURIO_ARTIFACT,
  APICURIO_CCOMPAT_PATH,
  apicurioJavaArgs,
  apicurioPaths,
  apicurioUrl,
  mavenUnpackArgs,
} from '../../../src/stack/apicurio.js';
import { javaFeatureRelease } from '../../../src/stack/java.js';
import { stackPaths } from '../../../src/stack/paths.js';
import { localServices } from '../../../src/stack/stack.js';

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const config = loadConfig({ PDM_STACK_REGISTRY_PORT: '18081', PDM_CACHE_DIR: '/var/tmp/pdm' });
const paths = stackPaths(config.stack, '/repo');
const p = apicurioPaths(paths);

describe('registry URL', () => {
  it('defaults to the ccompat base of the stack registry port', () => {
    expect(loadConfig({}).registry.url).toBe('http://127.0.0.1:8081/apis/ccompat/v7');
    expect(config.registry.url).toBe('http://127.0.0.1:18081/apis/ccompat/v7');
    expect(apicurioUrl(config)).toBe(config.registry.url);
  });

  it('keeps an explicit SCHEMA_REGISTRY_URL', () => {
    expect(loadConfig({ SCHEMA_REGISTRY_URL: 'http://reg:8080/x' }).registry.url).toBe('http://reg:8080/x');
  });

  it('takes the java for Apicurio from PDM_STACK_APICURIO_JAVA when set', () => {
    expect(config.stack.apicurioJava).toBeUndefined();
    expect(loadConfig({ PDM_STACK_APICURIO_JAVA: '/opt/jdk/bin/java' }).stack.apicurioJava).toBe(
      '/opt/jdk/bin/java',
    );
  });
});

describe('apicurio service files and command line', () => {
  it('keeps the distribution, data and pid file under the cache dir', () => {
    expect(p.distDir).toBe('/var/tmp/pdm/apicurio-3.3.3');
    expect(p.runnerJar).toBe('/var/tmp/pdm/apicurio-3.3.3/quarkus-run.jar');
    expect(p.database).toBe('/var/tmp/pdm/apicurio/db-3/registry');
    expect(p.pidFile).toBe('/var/tmp/pdm/run/apicurio.pid');
    expect(p.settings).toBe('/repo/deploy/stack/apicurio/settings.xml');
  });

  it('unpacks the release distribution from Central into the given directory, without a project', () => {
    const args = mavenUnpackArgs(p, '/var/tmp/pdm/apicurio-3.3.3.partial');
    expect(args.slice(args.indexOf('-s'), args.indexOf('-s') + 2)).toEqual(['-s', p.settings]);
    expect(args).toContain(`-Dartifact=${APICURIO_ARTIFACT}`);
    expect(APICURIO_ARTIFACT).toBe('io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all');
    expect(args).toContain('-DoutputDirectory=/var/tmp/pdm/apicurio-3.3.3.partial');
    expect(args).not.toContain('-f');
  });

  it('runs on loopback with a small heap, H2 file storage and no listener on a fixed extra port', () => {
    const args = apicurioJavaArgs(config, p);
    expect(args).toContain('-Xmx256m');
    expect(args).toContain('-Dquarkus.http.host=127.0.0.1');
    expect(args).toContain('-Dquarkus.http.port=18081');
    // Apicurio's management interface defaults to 0.0.0.0:9000, ClickHouse's TCP port.
    expect(args).toContain('-Dquarkus.management.host=127.0.0.1');
    expect(args).toContain('-Dquarkus.management.port=0');
    expect(args).toContain('-Dapicurio.datasource.url=jdbc:h2:file:/var/tmp/pdm/apicurio/db-3/registry');
    expect(args).toContain('-Dapicurio.rest.deletion.artifact-version.enabled=true');
    expect(args.slice(-2)).toEqual(['-jar', p.runnerJar]);
  });

  it('is the schema-registry service, addressed by its ccompat URL', () => {
    const registry = localServices(config, silent).find((s) => s.name === 'schema-registry');
    expect(registry?.address()).toBe(`http://127.0.0.1:18081${APICURIO_CCOMPAT_PATH}`);
  });
});

describe('javaFeatureRelease', () => {
  it.each([
    ['openjdk version "17.0.15" 2025-04-15', 17],
    ['openjdk version "25.0.3" 2026-04-21 LTS', 25],
    ['openjdk version "21" 2023-09-19', 21],
    ['java version "1.8.0_392"', 8],
    ['no version here', undefined],
  ])('%s → %s', (output, release) => {
    expect(javaFeatureRelease(output)).toBe(release);
  });
});
