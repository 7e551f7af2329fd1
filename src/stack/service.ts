/** The contract every local service of the stack (Kafka, Apicurio Registry, ClickHouse) implements. */

export const SERVICE_NAMES = ['kafka', 'schema-registry', 'clickhouse'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/**
 * - `running`: our process (pid file + matching command line) and it answers its readiness probe.
 * - `unhealthy`: our process is alive but does not answer (starting, or stuck).
 * - `stopped`: no process of ours.
 * - `port-taken`: not ours, yet something else listens on our port; `up` refuses to start.
 * - `external`: the stack is configured to use services it did not start (KAFKA_BROKERS, … all set).
 */
export const SERVICE_STATES = ['running', 'unhealthy', 'stopped', 'port-taken', 'external'] as const;
export type ServiceState = (typeof SERVICE_STATES)[number];

export interface ServiceStatus {
  readonly name: ServiceName;
  readonly state: ServiceState;
  /** Where clients connect: `host:port` for Kafka, a URL for HTTP services. */
  readonly address: string;
  /** What runs there, e.g. "Apache Kafka 3.9.1 (KRaft)". */
  readonly description: string;
  readonly pid?: number;
  /** Why the state is not `running`, or extra facts (other ports). */
  readonly detail?: string;
  readonly logFile?: string;
}

export type StartOutcome = 'started' | 'already-running';
export type StopOutcome = 'stopped' | 'killed' | 'not-running';

export interface LocalService {
  readonly name: ServiceName;
  address(): string;
  /** Starts the service unless ours is already running, then waits until it answers (bounded). */
  start(): Promise<StartOutcome>;
  /** Stops our process only (pid file + command-line check): SIGTERM, then SIGKILL after a bound. */
  stop(): Promise<StopOutcome>;
  status(): Promise<ServiceStatus>;
}

/** What the stack reports while it works; pino loggers fit, and so does the CLI's console printer. */
export interface StackLog {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}
