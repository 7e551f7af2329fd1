/**
 * Entry point: parse the command line, load settings once, run one command. Each command lives in
 * src/cli/<name>.ts; the long-running engine wires its stages in src/pipeline/.
 */
import { buildProgram } from './cli/index.js';
import { ConfigError, PdmError, errorMessage, exitCodeFor } from './shared/errors.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`pdm-stream: ${err.message}`);
  } else if (err instanceof PdmError) {
    console.error(`pdm-stream: [${err.stage}/${err.code}] ${err.message}`);
  } else {
    console.error(`pdm-stream: ${errorMessage(err)}`);
    if (err instanceof Error && err.stack !== undefined) console.error(err.stack);
  }
  process.exitCode = exitCodeFor(err);
}
