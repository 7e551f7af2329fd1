import { Command } from 'commander';
import { ENGINE_VERSION } from '../shared/version.js';
import { registerDlqCommand } from './dlq.js';
import { registerFeaturesCommand } from './features.js';
import { registerMigrateCommand } from './migrate.js';
import { registerReportCommand } from './report.js';
import { registerRescoreCommand } from './rescore.js';
import { registerRunCommand } from './run.js';
import { registerSchemasCommand } from './schemas.js';
import { registerScoreCommand } from './score.js';
import { registerSimulateCommand } from './simulate.js';
import { registerImportCsvCommand } from './import-csv.js';
import { registerStackCommand } from './stack.js';
import { registerTrainingSetCommand } from './training-set.js';

/** One file per command; each registers itself on the program. */
export function buildProgram(): Command {
  const program = new Command('pdm-stream')
    .description('Streaming predictive-maintenance scoring: Kafka → features → ONNX → ClickHouse')
    .version(ENGINE_VERSION)
    .showHelpAfterError();
  registerDlqCommand(program);
  registerFeaturesCommand(program);
  registerMigrateCommand(program);
  registerReportCommand(program);
  registerRescoreCommand(program);
  registerRunCommand(program);
  registerSchemasCommand(program);
  registerScoreCommand(program);
  registerSimulateCommand(program);
  registerImportCsvCommand(program);
  registerStackCommand(program);
  registerTrainingSetCommand(program);
  return program;
}
