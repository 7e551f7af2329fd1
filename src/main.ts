/**
 * Entry point: parse the command line, load settings once, run one command. Each command lives in
 * src/cli/<name>.ts; the long-running engine wires its stages in src/pipeline/.
 */
import { exitCodeFor, runOrBoundExit } from './cli/exit.js';
import { buildProgram } from './cli/index.js';
import { ConfigError, PdmError, errorMessage } from './shared/errors.js';

/** The linger warning of a failed command: no logger of its own exists at this level. */
const stderrLog = {
  warn: (obj: object, msg: string) => {
    console.error(`pdm-stream: ${msg} ${JSON.stringify(obj)}`);
  },
  flush: () => undefined,
};

try {
  // A command that failed ends the process within about 2 s even when a client it opened still retries.
  await runOrBoundExit(() => buildProgram().parseAsync(process.argv), stderrLog);
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
