/**
 * `pdm-stream dlq`: the dead-letter lifecycle for ops. `depth` (for cron and probes), `top`, `show`,
 * `replay`, `dismiss`. Reads and writes ClickHouse (views and table of migration 5) and, for `replay`,
 * produces to Kafka. Progress goes to stderr, results to stdout.
 *
 * Exit codes: 0 done; 1 `depth` above `--threshold`, or any other command failed (ClickHouse, Kafka or
 * registry error, printed); 2 usage error; 3 `depth` could not read the depth (ClickHouse unreachable or
 * database not migrated), or `replay` refused some records (loop guard or unknown key; the others were
 * replayed).
 */
import type { Command } from 'commander';
import { loadConfig, type Config } from '../config/index.js';
import { createSchemaRegistryClient } from '../decode/index.js';
import {
  cachedLookup,
  createDeadLetterStore,
  createKafkaRepublisher,
  DEFAULT_MAX_REPLAYS,
  dismissals,
  executeReplay,
  FilterSyntaxError,
  formatDepth,
  formatShown,
  formatTop,
  inspectPayload,
  isEmptyFilter,
  isMissingTable,
  MAX_LIMIT,
  parseDurationMs,
  parseInstantMs,
  parseNameList,
  parseRecordIds,
  planReplay,
  recordCoordinates,
  type DeadLetterFilter,
  type DeadLetterStore,
  type RecordId,
  type ResolutionRow,
} from '../dlq/index.js';
import { DEAD_LETTER_REASONS, PdmError, errorMessage } from '../shared/errors.js';
import { createClickHouse, type ClickHouseConnection } from '../sink/index.js';
import { integerOption, usageError, USAGE_EXIT_CODE } from './options.js';

export const DLQ_EXIT_CODES = {
  ok: 0,
  /** `depth`: above `--threshold`. Other commands: failed (main.ts prints the error). */
  aboveThresholdOrFailed: 1,
  usage: USAGE_EXIT_CODE,
  /** `depth`: depth unknown (could not read). `replay`: some records refused. */
  unknownOrRefused: 3,
} as const;

/** Commander parser adapter: a {@link FilterSyntaxError} is a usage error (exit 2, one line). */
function parsed<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      if (err instanceof FilterSyntaxError) throw usageError(err.message);
      throw err;
    }
  };
}

export const durationOption = parsed(parseDurationMs);
export const idsOption = parsed(parseRecordIds);
export const topicsOption = parsed((v) => parseNameList(v, 'topic'));
export const instantOption = parsed((v) => parseInstantMs(v, Date.now()));

/** Dead-letter reason codes, checked against the closed list so that a typo is not an empty match. */
export const reasonCodesOption = parsed((v) => {
  const codes = parseNameList(v, 'reason code');
  const known: readonly string[] = DEAD_LETTER_REASONS;
  const bad = codes.filter((c) => !known.includes(c));
  if (bad.length > 0)
    throw new FilterSyntaxError(`unknown reason ${bad.join(', ')}; one of ${known.join(', ')}`);
  return codes;
});

/** A whole number ≥ 0 (`--threshold 0`: any unresolved dead letter is too many). */
export const nonNegativeIntOption = integerOption(0, undefined, 'must be an integer ≥ 0');

export const limitOption = integerOption(1, MAX_LIMIT);

export const maxReplaysOption = integerOption(1, 9999);

export interface FilterOptions {
  readonly reason?: string[] | undefined;
  readonly deadLetterReason?: string[] | undefined;
  readonly topic?: string[] | undefined;
  readonly from?: number | undefined;
  readonly to?: number | undefined;
  readonly ids?: RecordId[] | undefined;
}

export function filterOf(o: FilterOptions): DeadLetterFilter {
  return {
    reasons: o.deadLetterReason ?? o.reason,
    topics: o.topic,
    fromMs: o.from,
    toMs: o.to,
    ids: o.ids,
  };
}

/** The selection options every subcommand shares; `reasonFlag` is `--dead-letter-reason` for dismiss. */
function addFilters(cmd: Command, reasonFlag: '--reason' | '--dead-letter-reason'): Command {
  return cmd
    .option(
      `${reasonFlag} <codes>`,
      'dead-letter reasons, comma-separated (UNKNOWN_SCHEMA,INVALID_VALUE,…)',
      reasonCodesOption,
    )
    .option('--topic <names>', 'original topics, comma-separated', topicsOption)
    .option(
      '--from <time>',
      'dead-lettered at or after (2026-11-30T10:00:00Z, "2026-11-30 10:00:00" UTC, or 2h = 2 h ago)',
      instantOption,
    )
    .option('--to <time>', 'dead-lettered before (same forms as --from)', instantOption)
    .option('--ids <ids>', 'records as topic:partition:offset, comma-separated', idsOption);
}

async function withClickHouse<T>(
  config: Config,
  work: (ch: ClickHouseConnection, store: DeadLetterStore) => Promise<T>,
): Promise<T> {
  const ch = createClickHouse(config.clickhouse);
  try {
    const caps = await ch.capabilities();
    return await work(ch, createDeadLetterStore(ch, config.clickhouse.database, caps));
  } catch (err) {
    if (isMissingTable(err)) {
      throw new PdmError(
        `database ${config.clickhouse.database} has no dead-letter lifecycle tables (${errorMessage(err).slice(0, 200)}); run \`pdm-stream migrate\` first`,
        { code: 'DLQ_NOT_MIGRATED', stage: 'dlq', cause: err },
      );
    }
    throw err;
  } finally {
    await ch.close();
  }
}

function requireSelection(cmd: Command, filter: DeadLetterFilter, all: boolean | undefined): void {
  if (isEmptyFilter(filter) && all !== true) {
    cmd.error(
      'error: select dead letters with --reason/--dead-letter-reason, --topic, --from/--to or --ids, or pass --all',
      {
        exitCode: USAGE_EXIT_CODE,
        code: 'dlq.noSelection',
      },
    );
  }
}

export function registerDlqCommand(program: Command): void {
  const dlq = program
    .command('dlq')
    .description('dead letters: depth, top, show, replay, dismiss (exit codes: see README "Dead letters")');

  dlq
    .command('depth')
    .description('unresolved dead letters by reason and topic; exits 1 above --threshold, 3 when unreadable')
    .option(
      '--since <duration>',
      'only dead letters dead-lettered in this window (90s, 15m, 2h, 7d)',
      durationOption,
    )
    .option('--threshold <n>', 'exit 1 when the total depth is above n', nonNegativeIntOption)
    .option('--json', 'one JSON object')
    .action(async (opts: { since?: number; threshold?: number; json?: boolean }) => {
      const config = loadConfig();
      let rows;
      try {
        rows = await withClickHouse(config, (_ch, store) =>
          store.depth(opts.since === undefined ? undefined : Date.now() - opts.since),
        );
      } catch (err) {
        // A probe must tell "too many" (1) from "cannot tell" (3).
        console.error(`pdm-stream: ${errorMessage(err)}`);
        process.exitCode = DLQ_EXIT_CODES.unknownOrRefused;
        return;
      }
      const total = rows.reduce((s, r) => s + r.depth, 0);
      const above = opts.threshold !== undefined && total > opts.threshold;
      if (opts.json === true) {
        console.log(
          JSON.stringify({
            total,
            threshold: opts.threshold ?? null,
            aboveThreshold: above,
            sinceMs: opts.since ?? null,
            byReasonTopic: rows,
          }),
        );
      } else {
        const sinceLabel = opts.since === undefined ? undefined : `${Math.round(opts.since / 1000)} s`;
        for (const line of formatDepth(rows, total, sinceLabel)) console.log(line);
        if (opts.threshold !== undefined) {
          console.log(above ? `ABOVE threshold ${opts.threshold}` : `within threshold ${opts.threshold}`);
        }
      }
      if (above) process.exitCode = DLQ_EXIT_CODES.aboveThresholdOrFailed;
    });

  addFilters(dlq.command('top'), '--reason')
    .description('dead-letter counts by reason, topic and schema id (unresolved unless --include-resolved)')
    .option('--limit <n>', 'groups to print', limitOption, 20)
    .option('--include-resolved', 'count replayed and dismissed dead letters too')
    .option('--json', 'one JSON object per line')
    .action(async (opts: FilterOptions & { limit: number; includeResolved?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const rows = await withClickHouse(config, (_ch, store) =>
        store.top(filterOf(opts), opts.limit, opts.includeResolved === true),
      );
      if (opts.json === true) for (const r of rows) console.log(JSON.stringify(r));
      else for (const line of formatTop(rows)) console.log(line);
    });

  addFilters(dlq.command('show'), '--reason')
    .description(
      'dead letters, oldest first, with the payload decoded as far as possible (frame, schema id, Avro)',
    )
    .option('--limit <n>', 'rows to print', limitOption, 20)
    .option('--include-resolved', 'show replayed and dismissed dead letters too, with their resolution')
    .option('--json', 'one JSON object per line')
    .action(async (opts: FilterOptions & { limit: number; includeResolved?: boolean; json?: boolean }) => {
      const config = loadConfig();
      const registry = createSchemaRegistryClient(config.registry);
      const lookup = cachedLookup((id) => registry.schemaById(id));
      await withClickHouse(config, async (_ch, store) => {
        const rows = await store.list(filterOf(opts), opts.limit, opts.includeResolved === true);
        const resolved =
          opts.includeResolved === true
            ? new Map((await store.resolutions(rows)).map((r) => [`${recordCoordinates(r)}/${r.reason}`, r]))
            : new Map<string, ResolutionRow>();
        if (rows.length === 0 && opts.json !== true) console.log('no dead letters match');
        for (const row of rows) {
          const inspection = await inspectPayload(Buffer.from(row.payloadBase64, 'base64'), lookup);
          const resolution = resolved.get(`${recordCoordinates(row)}/${row.reason}`);
          if (opts.json === true) {
            console.log(
              JSON.stringify(
                {
                  ...row,
                  payload: { ...inspection, decoded: undefined },
                  decoded: inspection.decoded,
                  resolution,
                },
                (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
              ),
            );
          } else {
            for (const line of formatShown(row, inspection, resolution)) console.log(line);
          }
        }
      });
    });

  addFilters(dlq.command('replay'), '--reason')
    .description(
      're-publish dead letters (original bytes, key, timestamp, partition) with replay headers, and mark them replayed',
    )
    .option('--all', 'every unresolved dead letter (when no filter is given)')
    .option('--limit <n>', 'dead letters to take at most, oldest first', limitOption, 10_000)
    .option(
      '--max-replays <n>',
      'refuse records already replayed this many times (loop guard)',
      maxReplaysOption,
      DEFAULT_MAX_REPLAYS,
    )
    .option('--note <text>', 'recorded with each resolution', 'replayed with pdm-stream dlq replay')
    .option('--dry-run', 'print what would be replayed and refused; publish and write nothing')
    .action(
      async (
        opts: FilterOptions & {
          all?: boolean;
          limit: number;
          maxReplays: number;
          note: string;
          dryRun?: boolean;
        },
        cmd: Command,
      ) => {
        const filter = filterOf(opts);
        requireSelection(cmd, filter, opts.all);
        const config = loadConfig();
        await withClickHouse(config, async (_ch, store) => {
          const rows = await store.list(filter, opts.limit);
          const plan = planReplay(rows, { maxReplays: opts.maxReplays, nowMs: Date.now() });
          console.error(
            `${rows.length} unresolved dead letters match (${plan.replay.length + plan.refused.length} Kafka records)${rows.length === opts.limit ? `; --limit ${opts.limit} reached, run again for more` : ''}`,
          );
          for (const r of plan.refused)
            console.log(`refused   ${r.id}  ${r.rows.map((x) => x.reason).join(',')}: ${r.why}`);
          if (opts.dryRun === true) {
            for (const p of plan.replay) {
              console.log(
                `would replay  ${p.id}  ${p.rows.map((x) => x.reason).join(',')}  as replay ${p.nextCount} of at most ${opts.maxReplays}`,
              );
            }
            console.log(
              `dry run: ${plan.replay.length} records would be replayed, ${plan.refused.length} refused; nothing was published or written`,
            );
          } else if (plan.replay.length > 0) {
            const publisher = await createKafkaRepublisher(config.kafka);
            try {
              const outcome = await executeReplay(
                plan,
                { publisher, store },
                {
                  note: opts.note,
                  onProgress: (p) => {
                    console.error(`replayed ${p.replayed}/${p.total}`);
                  },
                },
              );
              for (const p of outcome.replayed) {
                console.log(
                  `replayed  ${p.id} -> ${p.message.topic}:${p.landed.partition}:${p.landed.offset}  (replay ${p.nextCount})`,
                );
              }
              console.log(
                `replayed ${outcome.replayed.length} records (${outcome.resolutions} dead letters resolved), refused ${plan.refused.length}`,
              );
            } finally {
              await publisher.close();
            }
          } else {
            console.log(`replayed 0 records, refused ${plan.refused.length}`);
          }
          if (plan.refused.length > 0) process.exitCode = DLQ_EXIT_CODES.unknownOrRefused;
        });
      },
    );

  addFilters(dlq.command('dismiss'), '--dead-letter-reason')
    .description('mark dead letters that will never be replayed as dismissed (they leave the depth)')
    .option('--reason <text>', 'required: why they are dismissed (recorded with each)')
    .option('--all', 'every unresolved dead letter (when no filter is given)')
    .option('--limit <n>', 'dead letters to take at most, oldest first', limitOption, 10_000)
    .option('--dry-run', 'print what would be dismissed; write nothing')
    .action(
      async (
        opts: FilterOptions & { reason?: string; all?: boolean; limit: number; dryRun?: boolean },
        cmd: Command,
      ) => {
        // `--reason` is the explanation here; the reason-code filter is --dead-letter-reason.
        const filter = filterOf({ ...opts, reason: undefined });
        requireSelection(cmd, filter, opts.all);
        const note = opts.reason?.trim() ?? '';
        if (note === '') {
          cmd.error('error: --reason <text> is required: say why these dead letters are dismissed', {
            exitCode: USAGE_EXIT_CODE,
            code: 'dlq.noReason',
          });
        }
        const config = loadConfig();
        await withClickHouse(config, async (_ch, store) => {
          const rows = await store.list(filter, opts.limit);
          console.error(
            `${rows.length} unresolved dead letters match${rows.length === opts.limit ? `; --limit ${opts.limit} reached, run again for more` : ''}`,
          );
          if (opts.dryRun === true) {
            for (const r of rows) console.log(`would dismiss  ${recordCoordinates(r)}  ${r.reason}`);
            console.log(`dry run: ${rows.length} dead letters would be dismissed; nothing was written`);
            return;
          }
          const resolutions = dismissals(rows, note.slice(0, 2_000));
          for (let i = 0; i < resolutions.length; i += 5_000) {
            await store.resolve(resolutions.slice(i, i + 5_000));
            if (resolutions.length > 5_000)
              console.error(`dismissed ${Math.min(i + 5_000, resolutions.length)}/${resolutions.length}`);
          }
          console.log(`dismissed ${resolutions.length} dead letters`);
        });
      },
    );
}
