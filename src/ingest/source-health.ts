/** What the Kafka source is doing, as readiness and `pdm_paused{cause="kafka"}` see it. */
export type SourceHealth =
  | { readonly state: 'starting' }
  | { readonly state: 'running' }
  | {
      readonly state: 'unavailable';
      readonly sinceMs: number;
      readonly attempt: number;
      readonly reason: string;
    }
  | { readonly state: 'stopped' }
  | { readonly state: 'failed'; readonly reason: string };

/** Why the source is not consuming, for /readyz; undefined while it consumes. */
export function healthProblem(h: SourceHealth, nowMs = Date.now()): string | undefined {
  switch (h.state) {
    case 'running':
      return undefined;
    case 'starting':
      return 'Kafka: joining the consumer group';
    case 'unavailable':
      return `Kafka unavailable for ${Math.round((nowMs - h.sinceMs) / 1000)} s (attempt ${h.attempt}): ${h.reason}`;
    case 'stopped':
      return 'Kafka consumer stopped';
    case 'failed':
      return `Kafka consumer failed: ${h.reason}`;
  }
}
