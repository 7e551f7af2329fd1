/**
 * What shadow scoring (PDM_SHADOW_MODEL_DIR, issue 13 item 4) costs the live path, on the running local
 * stack (`npm run stack -- up`). Prints one JSON document.
 *
 *   npx tsx bench/shadow.ts [--machines 1000] [--days 30] [--repeat 2]
 *
 * One fleet is published once; then the engine (in this process, as `pdm-stream run` builds it) consumes
 * the whole backlog several times from the same topics, each time with its own consumer group and
 * database, in rotation so that a drift of the machine's load spreads over all variants:
 * - `none`: the committed package live, no shadow (the baseline);
 * - `smallAlone`: test/fixtures/models/pdm-shadow-1 (a different, smaller forest) live, no shadow;
 * - `small`: the committed package live, the small one as shadow;
 * - `same`: the committed package live, a copy of it under another version as shadow.
 *
 * For each run: backlog seconds and events/s from the start of the engine (which opens the shadow's session
 * too) until every closable bucket is written, and the live model's ONNX seconds (`pdm_inference_seconds`
 * sum). The shadow's own cost: the ONNX seconds of its model scoring the backlog alone (`smallAlone` for
 * `small`, `none` for `same`) plus the seconds of its own inserts (shadow_predictions) in the shadow run.
 * `pdm_shadow_inference_seconds` (wall time of the shadow's calls, which run while the live model runs) is
 * printed but not used. The claim to check: backlog seconds with a shadow − without ≤ the shadow's own
 * cost. A first run without a shadow is not counted (JIT and module loading).
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../src/config/index.js';
import { startEngine } from '../src/pipeline/index.js';
import { silentLogger } from '../src/shared/logger.js';
import { createClickHouse, quoteIdent } from '../src/sink/index.js';
import {
  benchRead,
  expectedPredictions,
  histogramTotals,
  loadAverage,
  machineInfo,
  printJson,
  publishFleet,
} from './fleet.js';

const { values: args } = parseArgs({
  options: {
    machines: { type: 'string', default: '1000' },
    days: { type: 'string', default: '30' },
    /** Runs of each variant. */
    repeat: { type: 'string', default: '2' },
  },
});
const machines = Number(args.machines);
const days = Number(args.days);
const repeat = Number(args.repeat);

const root = path.resolve(import.meta.dirname, '..');
const LIVE = path.join(root, 'models/pdm-default/1');
const SMALL = path.join(root, 'test/fixtures/models/pdm-shadow-1');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pdm-bench-shadow-'));
const SAME = path.join(tmp, 'same');
cpSync(LIVE, SAME, { recursive: true });
const metaFile = path.join(SAME, 'model.json');
const meta = JSON.parse(readFileSync(metaFile, 'utf8')) as Record<string, unknown>;
writeFileSync(metaFile, JSON.stringify({ ...meta, version: '1-bench-shadow-copy' }));

/** The live package (PDM_MODEL_DIR) and the shadow (PDM_SHADOW_MODEL_DIR) of each variant. */
const VARIANTS = {
  none: { live: LIVE, shadow: undefined },
  smallAlone: { live: SMALL, shadow: undefined },
  small: { live: LIVE, shadow: SMALL },
  same: { live: LIVE, shadow: SAME },
} as const;
type Variant = keyof typeof VARIANTS;

const loadBefore = loadAverage();
const fleet = await publishFleet({ machines, days });
const { records, startMs, endMs } = fleet;
const expected = expectedPredictions(fleet.config, { machines, startMs, endMs });

interface Run {
  readonly variant: Variant;
  readonly backlogSeconds: number;
  readonly eventsPerSecond: number;
  readonly liveOnnxSeconds: number;
  readonly shadowOnnxSeconds: number;
  readonly shadowInsertSeconds: number;
  readonly shadowRows: number;
  readonly loadAverage: number[];
}

/** Sum of a histogram's `_sum` samples (all label sets, or one `table`). */
async function histogramSum(running: Awaited<ReturnType<typeof startEngine>>, name: string, table?: string) {
  return (await histogramTotals(running.metrics.registry, name, table)).sum;
}

async function backlog(variant: Variant, i: number): Promise<Run> {
  const { live, shadow: shadowDir } = VARIANTS[variant];
  const base = fleet.config;
  const config: Config = loadConfig({
    ...process.env,
    // The fleet's topics: benchConfig names them `<prefix>telemetry` and so on.
    PDM_TOPIC_PREFIX: base.kafka.topics.telemetry.slice(0, -'telemetry'.length),
    PDM_GROUP_ID: `${base.kafka.groupId}-${i}`,
    CLICKHOUSE_DATABASE: `${base.clickhouse.database}_${i}`,
    PDM_HTTP_PORT: '0',
    LOG_LEVEL: 'silent',
    PDM_MODEL_DIR: live,
    ...(shadowDir === undefined ? {} : { PDM_SHADOW_MODEL_DIR: shadowDir }),
  });
  const ch = createClickHouse(config.clickhouse);
  const db = quoteIdent(config.clickhouse.database);
  const count = async (table: string) =>
    Number(
      (
        await benchRead(`counting ${table}`, () =>
          ch.query<{ n: string }>(`SELECT toString(count()) AS n FROM ${db}.${table} FINAL`),
        )
      )[0]?.n ?? 0,
    );
  const load = loadAverage();
  const t0 = performance.now();
  const running = await startEngine(config, silentLogger);
  while ((await count('predictions')) < expected) await sleep(100);
  const backlogSeconds = (performance.now() - t0) / 1000;
  const run: Run = {
    variant,
    backlogSeconds: Number(backlogSeconds.toFixed(2)),
    eventsPerSecond: Math.round(records / backlogSeconds),
    liveOnnxSeconds: Number((await histogramSum(running, 'pdm_inference_seconds')).toFixed(3)),
    shadowOnnxSeconds: Number((await histogramSum(running, 'pdm_shadow_inference_seconds')).toFixed(3)),
    shadowInsertSeconds: Number(
      (await histogramSum(running, 'pdm_clickhouse_write_seconds', 'shadow_predictions')).toFixed(3),
    ),
    shadowRows: shadowDir === undefined ? 0 : await count('shadow_predictions'),
    loadAverage: load,
  };
  await running.stop();
  await ch.exec(`DROP DATABASE IF EXISTS ${db}`);
  await ch.close();
  return run;
}

// One run first that is not counted: the first engine in a process also pays for JIT and module loading.
const warmup = await backlog('none', 0);
const runs: Run[] = [];
let i = 1;
for (let r = 0; r < repeat; r++) {
  for (const variant of Object.keys(VARIANTS) as Variant[]) runs.push(await backlog(variant, i++));
}
await fleet.cleanup();
rmSync(tmp, { recursive: true, force: true });

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / Math.max(1, xs.length);
const of = (v: Variant) => runs.filter((r) => r.variant === v);
const baseline = mean(of('none').map((r) => r.backlogSeconds));
/** The variant whose live model is each shadow's model, scoring alone. */
const ALONE = { small: 'smallAlone', same: 'none' } as const;
const summary = Object.fromEntries(
  (['small', 'same'] as const).map((v) => {
    const rs = of(v);
    const slowdown = mean(rs.map((r) => r.backlogSeconds)) - baseline;
    const onnxAlone = mean(of(ALONE[v]).map((r) => r.liveOnnxSeconds));
    const inserts = mean(rs.map((r) => r.shadowInsertSeconds));
    const ownCost = onnxAlone + inserts;
    return [
      v,
      {
        meanBacklogSeconds: Number(mean(rs.map((r) => r.backlogSeconds)).toFixed(2)),
        slowdownSeconds: Number(slowdown.toFixed(2)),
        shadowOnnxAloneSeconds: Number(onnxAlone.toFixed(2)),
        shadowInsertSeconds: Number(inserts.toFixed(2)),
        shadowOwnCostSeconds: Number(ownCost.toFixed(2)),
        slowdownWithinOwnCost: slowdown <= ownCost,
        everyLiveRowShadowed: rs.every((r) => r.shadowRows === expected),
      },
    ];
  }),
);
printJson({
  bench: 'shadow',
  machine: machineInfo(),
  loadAverage: { before: loadBefore, after: loadAverage() },
  fleet: { machines, days, recordsConsumed: records, predictions: expected },
  warmupBacklogSeconds: warmup.backlogSeconds,
  baselineMeanBacklogSeconds: Number(baseline.toFixed(2)),
  summary,
  runs,
});
