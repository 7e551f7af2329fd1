import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { createSchemaRegistryClient, loadProjectSchemas, valueSubject } from '../decode/index.js';
import { createTopicAdmin, projectTopicSpecs } from '../ingest/index.js';
import { RECORD_KINDS, type RecordKind } from '../shared/records.js';

export interface RegistrationReport {
  readonly subjects: { readonly kind: RecordKind; readonly subject: string; readonly id: number }[];
  readonly createdTopics: readonly string[];
  readonly partitionCounts: ReadonlyMap<string, number>;
}

/** Registers the project schemas (BACKWARD) and creates the topics; idempotent. */
export async function registerSchemasAndTopics(config: Config): Promise<RegistrationReport> {
  const registry = createSchemaRegistryClient(config.registry);
  const schemas = loadProjectSchemas();
  const subjects: { kind: RecordKind; subject: string; id: number }[] = [];
  for (const kind of RECORD_KINDS) {
    const subject = valueSubject(config.kafka.topics[kind]);
    subjects.push({ kind, subject, id: await registry.register(subject, schemas[kind], 'BACKWARD') });
  }
  const admin = createTopicAdmin(config.kafka);
  try {
    const specs = projectTopicSpecs(config.kafka);
    const createdTopics = await admin.ensureTopics(specs);
    const partitionCounts = await admin.partitionCounts(specs.map((s) => s.topic));
    return { subjects, createdTopics, partitionCounts };
  } finally {
    await admin.close();
  }
}

export function registerSchemasCommand(program: Command): void {
  const schemas = program.command('schemas').description('Avro schemas in the schema registry');
  schemas
    .command('register')
    .description('register schemas/*.avsc under <topic>-value (BACKWARD) and create the topics')
    .action(async () => {
      const config = loadConfig();
      const report = await registerSchemasAndTopics(config);
      for (const s of report.subjects) console.log(`schema   ${s.subject.padEnd(28)} id ${s.id}`);
      for (const [topic, n] of report.partitionCounts) {
        const created = report.createdTopics.includes(topic) ? 'created' : 'exists ';
        console.log(`topic    ${topic.padEnd(28)} ${created} ${n} partitions`);
      }
      const counts = new Set(
        RECORD_KINDS.filter((k) => k !== 'machines').map((k) =>
          report.partitionCounts.get(config.kafka.topics[k]),
        ),
      );
      if (counts.size > 1) {
        console.warn(
          'warning: telemetry/errors/maintenance/failures have different partition counts; the engine needs them equal',
        );
      }
    });
}
