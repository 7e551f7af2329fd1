/**
 * Reads back the feature vectors the engine logged (`feature_vectors`), for rescoring a range with another
 * (or the same) model package and for exporting a training set (`training-set`). Deduplicated like `feature_vectors_latest` (FINAL: one row per machine,
 * bucket and spec hash), in keyset pages on the table's sort key `(machine_id, bucket_ts)`, so that memory
 * stays bounded by a page whatever the range and no row is skipped or read twice between pages. Every
 * user value goes through `{name:Type}` placeholders.
 */
import type { ClickHouseConnection } from './clickhouse.js';
import { quoteIdent, type QueryParams } from './bind.js';
import { TABLES } from './tables.js';

/** Machine ids `from..to`, both included. */
export interface MachineIdRange {
  readonly from: number;
  readonly to: number;
}

export interface FeatureVectorSelection {
  /** First bucket instant included, epoch ms. */
  readonly fromMs: number;
  /** First bucket instant excluded, epoch ms. */
  readonly toMs: number;
  /** Only these machines; undefined or empty: every machine. */
  readonly machines?: readonly MachineIdRange[] | undefined;
}

/** What the range holds per spec hash (deduplicated rows). */
export interface SpecHashCensus {
  readonly specHash: string;
  readonly featureSet: string;
  readonly rows: number;
  readonly machines: number;
  /** Rows whose vector length differs from the length asked for. */
  readonly wrongLength: number;
}

/** Position after which the next page starts (the last row of the previous page). */
export interface VectorKey {
  readonly machineId: number;
  readonly bucketMs: number;
}

export interface LoggedVector {
  readonly machineId: number;
  /** Bucket instant, epoch ms UTC. */
  readonly bucketMs: number;
  readonly values: readonly number[];
  /** The model version the engine scored the vector with when it logged it. */
  readonly modelVersion: string;
}

/**
 * How many physical rows of a spec hash stand behind its deduplicated ones in the selection (before the
 * ReplacingMergeTree merged them; merges make `copies` shrink towards `keys` over time).
 */
export interface DuplicateCensus {
  /** Distinct (machine, bucket): the rows a FINAL read returns. */
  readonly keys: number;
  /** Physical rows not merged yet (≥ keys). */
  readonly copies: number;
  /** Buckets logged by more than one model version (scored by several, or re-scored after a swap). */
  readonly multiVersionKeys: number;
  /** Buckets whose copies hold different vectors (the read keeps the latest logged one). */
  readonly conflictingKeys: number;
}

/** Where the engine's prediction of a logged vector came from (its `source_partition` / `source_offset`). */
export interface PredictionSource {
  readonly partition: number;
  readonly offset: string;
}

export interface FeatureVectorReader {
  /** Rows per spec hash in the selection, with how many have a length other than `expectedLength`. */
  census(expectedLength: number): Promise<SpecHashCensus[]>;
  /** First and last bucket logged for `specHash` in the whole table (any machine, any time), if any. */
  span(specHash: string): Promise<{ readonly firstMs: number; readonly lastMs: number } | undefined>;
  /** Copies behind the deduplicated rows of `specHash` in the selection. */
  duplicates(specHash: string): Promise<DuplicateCensus>;
  /** Latest logged bucket of any spec hash and machine in the whole table: how far the engine has got. */
  lastBucketMs(): Promise<number | undefined>;
  /** The `feature_sets` row of `specHash` (the meaning of each index of its vectors), if registered. */
  featureSet(
    specHash: string,
  ): Promise<{ readonly featureSet: string; readonly featureNames: readonly string[] } | undefined>;
  /** Up to `limit` vectors of `specHash` after `after` (from the start when undefined), in key order. */
  page(specHash: string, after: VectorKey | undefined, limit: number): Promise<LoggedVector[]>;
  /**
   * The source coordinates of the engine's predictions for `vectors` (the model version that logged each),
   * keyed by {@link sourceKey}. Vectors without a prediction are absent from the map.
   */
  predictionSources(vectors: readonly LoggedVector[]): Promise<Map<string, PredictionSource>>;
}

/** Key of {@link FeatureVectorReader.predictionSources}' map. */
export function sourceKey(machineId: number, bucketMs: number, modelVersion: string): string {
  return `${machineId}/${bucketMs}/${modelVersion}`;
}

/** Largest value of a ClickHouse DateTime (seconds). */
const MAX_DATETIME_S = 0xffff_ffff;

const clampSeconds = (s: number): number => Math.min(MAX_DATETIME_S, Math.max(0, s));

/** `WHERE` clauses and parameters of a selection, on columns `machine_id` and `bucket_ts`. */
function selectionSql(sel: FeatureVectorSelection): { clauses: string[]; params: QueryParams } {
  // Whole seconds (bucket_ts is a DateTime): bucket ≥ fromMs ⇔ s ≥ ⌈fromMs/1000⌉, < toMs ⇔ s < ⌈toMs/1000⌉.
  const params: Record<string, QueryParams[string]> = {
    from: clampSeconds(Math.ceil(sel.fromMs / 1000)),
    to: clampSeconds(Math.ceil(sel.toMs / 1000)),
  };
  const clauses = ['bucket_ts >= {from:DateTime}', 'bucket_ts < {to:DateTime}'];
  const ranges = sel.machines ?? [];
  if (ranges.length > 0) {
    const any = ranges.map((r, i) => {
      params[`m${i}_from`] = r.from;
      params[`m${i}_to`] = r.to;
      return r.from === r.to
        ? `machine_id = {m${i}_from:UInt32}`
        : `(machine_id >= {m${i}_from:UInt32} AND machine_id <= {m${i}_to:UInt32})`;
    });
    clauses.push(`(${any.join(' OR ')})`);
  }
  return { clauses, params };
}

interface CensusRow {
  spec_hash: string;
  feature_set: string;
  rows: string;
  machines: string;
  wrong_length: string;
}

// UInt32 arrives as a JSON number; typed wider, like restore.ts, in case a server quotes it.
interface PageRow {
  machine_id: number | string;
  bucket_s: number | string;
  features: number[];
  model_version: string;
}

interface SourceRow {
  machine_id: number | string;
  bucket_s: number | string;
  model_version: string;
  source_partition: number | string;
  source_offset: string;
}

export function createFeatureVectorReader(
  ch: ClickHouseConnection,
  database: string,
  selection: FeatureVectorSelection,
): FeatureVectorReader {
  const db = quoteIdent(database);
  const vectors = `${db}.${TABLES.featureVectors}`;
  const { clauses, params } = selectionSql(selection);
  const where = clauses.join('\n  AND ');

  return {
    async census(expectedLength) {
      const rows = await ch.query<CensusRow>(
        `SELECT spec_hash, any(feature_set) AS feature_set, toString(count()) AS rows,
  toString(uniqExact(machine_id)) AS machines,
  toString(countIf(length(features) != {n:UInt32})) AS wrong_length
FROM ${vectors} FINAL
WHERE ${where}
GROUP BY spec_hash
ORDER BY spec_hash`,
        { ...params, n: expectedLength },
      );
      return rows.map((r) => ({
        specHash: r.spec_hash,
        featureSet: r.feature_set,
        rows: Number(r.rows),
        machines: Number(r.machines),
        wrongLength: Number(r.wrong_length),
      }));
    },

    async span(specHash) {
      const [r] = await ch.query<{ n: string; first: number | string; last: number | string }>(
        `SELECT toString(count()) AS n, toUInt32(min(bucket_ts)) AS first, toUInt32(max(bucket_ts)) AS last
FROM ${vectors}
WHERE spec_hash = {spec:String}`,
        { spec: specHash },
      );
      if (r === undefined || Number(r.n) === 0) return undefined;
      return { firstMs: Number(r.first) * 1000, lastMs: Number(r.last) * 1000 };
    },

    async duplicates(specHash) {
      // Without FINAL on purpose: the copies are what FINAL would collapse.
      const [r] = await ch.query<{ keys: string; copies: string; multi: string; conflicting: string }>(
        `SELECT toString(count()) AS keys, toString(sum(n)) AS copies,
  toString(countIf(versions > 1)) AS multi, toString(countIf(variants > 1)) AS conflicting
FROM (
  SELECT machine_id, bucket_ts, count() AS n, uniqExact(model_version) AS versions,
    uniqExact(features) AS variants
  FROM ${vectors}
  WHERE spec_hash = {spec:String}
    AND ${where}
  GROUP BY machine_id, bucket_ts
)`,
        { ...params, spec: specHash },
      );
      return {
        keys: Number(r?.keys ?? 0),
        copies: Number(r?.copies ?? 0),
        multiVersionKeys: Number(r?.multi ?? 0),
        conflictingKeys: Number(r?.conflicting ?? 0),
      };
    },

    async lastBucketMs() {
      const [r] = await ch.query<{ n: string; last: number | string }>(
        `SELECT toString(count()) AS n, toUInt32(max(bucket_ts)) AS last FROM ${vectors}`,
      );
      return r === undefined || Number(r.n) === 0 ? undefined : Number(r.last) * 1000;
    },

    async featureSet(specHash) {
      const [r] = await ch.query<{ feature_set: string; feature_names: string[] }>(
        `SELECT feature_set, feature_names FROM ${db}.${TABLES.featureSets} FINAL
WHERE spec_hash = {spec:String}
LIMIT 1`,
        { spec: specHash },
      );
      return r === undefined ? undefined : { featureSet: r.feature_set, featureNames: r.feature_names };
    },

    async page(specHash, after, limit) {
      // Keyset condition spelled out (no tuple comparison): 18.16 has no row-value comparison, and the
      // leading machine_id bound still narrows the primary-key scan.
      const keyset =
        after === undefined
          ? ''
          : '\n  AND (machine_id > {after_m:UInt32} OR (machine_id = {after_m:UInt32} AND bucket_ts > {after_b:DateTime}))';
      const rows = await ch.query<PageRow>(
        `SELECT machine_id, toUInt32(bucket_ts) AS bucket_s, features, model_version
FROM ${vectors} FINAL
WHERE spec_hash = {spec:String}
  AND ${where}${keyset}
ORDER BY machine_id, bucket_ts
LIMIT {limit:UInt32}`,
        {
          ...params,
          spec: specHash,
          limit,
          ...(after === undefined
            ? {}
            : { after_m: after.machineId, after_b: Math.floor(after.bucketMs / 1000) }),
        },
      );
      return rows.map((r) => ({
        machineId: Number(r.machine_id),
        bucketMs: Number(r.bucket_s) * 1000,
        values: r.features,
        modelVersion: r.model_version,
      }));
    },

    async predictionSources(page) {
      const out = new Map<string, PredictionSource>();
      const first = page[0];
      const last = page[page.length - 1];
      if (first === undefined || last === undefined) return out;
      // A page is sorted by (machine, bucket): the box machines × buckets of the page holds every key of
      // it, and little else (only the first and last machine may have rows outside the page).
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      const versions = new Set<string>();
      for (const v of page) {
        if (v.bucketMs < lo) lo = v.bucketMs;
        if (v.bucketMs > hi) hi = v.bucketMs;
        versions.add(v.modelVersion);
      }
      const rows = await ch.query<SourceRow>(
        `SELECT machine_id, toUInt32(bucket_ts) AS bucket_s, model_version, source_partition,
  toString(source_offset) AS source_offset
FROM ${db}.${TABLES.predictions} FINAL
WHERE machine_id >= {m_lo:UInt32} AND machine_id <= {m_hi:UInt32}
  AND bucket_ts >= {b_lo:DateTime} AND bucket_ts <= {b_hi:DateTime}
  AND has({versions:Array(String)}, model_version)`,
        {
          m_lo: first.machineId,
          m_hi: last.machineId,
          b_lo: Math.floor(lo / 1000),
          b_hi: Math.floor(hi / 1000),
          versions: [...versions],
        },
      );
      for (const r of rows) {
        out.set(sourceKey(Number(r.machine_id), Number(r.bucket_s) * 1000, r.model_version), {
          partition: Number(r.source_partition),
          offset: r.source_offset,
        });
      }
      return out;
    },
  };
}
