import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import {
  createResolvingCodec,
  createSchemaRegistryClient,
  loadProjectSchemas,
  valueSubject,
} from '../decode/index.js';
import { createTopicAdmin, projectTopicSpecs } from '../ingest/index.js';
import { createAlertEncoder, ENGINE_INPUTS } from '../pipeline/index.js';
import { errorMessage } from '../shared/errors.js';
import { RECORD_KINDS, type RecordKind, type TopicNames } from '../shared/records.js';

/** A registered version of a subject that the engine's reader schema cannot read. */
export interface UnreadableVersion {
  readonly subject: string;
  readonly version: number;
  readonly id: number;
  readonly reason: string;
}

export interface RegistrationReport {
  readonly subjects: {
    readonly kind: RecordKind | 'alerts';
    readonly subject: string;
    readonly id: number;
  }[];
  /** The level set on every subject. */
  readonly compatibility: string;
  /**
   * Versions registered before the subject had the project's level (e.g. under BACKWARD) that the engine
   * cannot read: their records are dead-lettered `INCOMPATIBLE_SCHEMA`.
   */
  readonly unreadable: readonly UnreadableVersion[];
  readonly createdTopics: readonly string[];
  readonly partitionCounts: ReadonlyMap<string, number>;
}

/**
 * Sets every subject to the project's compatibility level (FULL_TRANSITIVE, see schemas/README.md),
 * registers the project schemas and creates the topics; idempotent.
 */
export async function registerSchemasAndTopics(config: Config): Promise<RegistrationReport> {
  const registry = createSchemaRegistryClient(config.registry);
  const schemas = loadProjectSchemas();
  const subjects: { kind: RecordKind | 'alerts'; subject: string; id: number }[] = [];
  const unreadable: UnreadableVersion[] = [];
  for (const kind of RECORD_KINDS) {
    const subject = valueSubject(config.kafka.topics[kind]);
    const id = await registry.register(subject, schemas[kind]);
    subjects.push({ kind, subject, id });
    for (const v of await registry.versions(subject)) {
      if (v.id === id) continue;
      try {
        // The engine's own check (src/decode): the project schema as reader, the version as writer.
        createResolvingCodec(schemas[kind], v.schema);
      } catch (err) {
        // Expected outcome for an old incompatible version: reported as a value, not thrown.
        unreadable.push({ subject, version: v.version, id: v.id, reason: errorMessage(err) });
      }
    }
  }
  // The engine's own output: failure-risk alerts (schemas/alerts.avsc), same level and strategy.
  const alerts = await createAlertEncoder(registry, config.alerts.topic);
  subjects.push({ kind: 'alerts', subject: valueSubject(config.alerts.topic), id: alerts.schemaId });
  const admin = createTopicAdmin(config.kafka);
  try {
    const specs = [
      ...projectTopicSpecs(config.kafka),
      { topic: config.alerts.topic, partitions: config.kafka.partitions, compacted: false },
    ];
    const createdTopics = await admin.ensureTopics(specs);
    const partitionCounts = await admin.partitionCounts(specs.map((s) => s.topic));
    return {
      subjects,
      compatibility: registry.defaultCompatibility,
      unreadable,
      createdTopics,
      partitionCounts,
    };
  } finally {
    await admin.close();
  }
}

/**
 * The warning to print when the engine's input topics (telemetry, errors, maintenance, machines) do not all
 * have the same partition count, or undefined. Failures are labels for training only: the engine does not
 * read them, so their count does not matter.
 */
export function partitionCountWarning(
  counts: ReadonlyMap<string, number>,
  topics: TopicNames,
): string | undefined {
  const inputs = ENGINE_INPUTS.map((k) => ({ topic: topics[k], n: counts.get(topics[k]) }));
  if (new Set(inputs.map((i) => i.n)).size <= 1) return undefined;
  const list = inputs.map((i) => `${i.topic}=${i.n ?? 'missing'}`).join(', ');
  return `warning: the engine's input topics have different partition counts (${list}); the engine needs them equal and refuses to start (TOPICS_NOT_COPARTITIONED)`;
}

export function registerSchemasCommand(program: Command): void {
  const schemas = program.command('schemas').description('Avro schemas in the schema registry');
  schemas
    .command('register')
    .description(
      'set <topic>-value to FULL_TRANSITIVE compatibility, register schemas/*.avsc under it and create the topics',
    )
    .action(async () => {
      const config = loadConfig();
      const report = await registerSchemasAndTopics(config);
      for (const s of report.subjects) {
        console.log(`schema   ${s.subject.padEnd(28)} id ${s.id} (${report.compatibility})`);
      }
      for (const u of report.unreadable) {
        console.warn(
          `warning: ${u.subject} version ${u.version} (id ${u.id}) cannot be read by the engine (its records are dead-lettered INCOMPATIBLE_SCHEMA): ${u.reason}`,
        );
      }
      for (const [topic, n] of report.partitionCounts) {
        const created = report.createdTopics.includes(topic) ? 'created' : 'exists ';
        console.log(`topic    ${topic.padEnd(28)} ${created} ${n} partitions`);
      }
      const warning = partitionCountWarning(report.partitionCounts, config.kafka.topics);
      if (warning !== undefined) console.warn(warning);
    });
}
