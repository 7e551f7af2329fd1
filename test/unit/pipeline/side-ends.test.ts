/**
 * The side end-offsets reader answers a telemetry batch's checkpoint request only with offsets read at or
 * after the request's `notBefore` (the fetch time plus the grace period): an earlier read could miss side
 * events already in the log when the batch was fetched, and close buckets without them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import {
  createSideEndsReader,
  type SideEndOffsets,
  type SideEndsReader,
} from '../../../src/pipeline/side-ends.js';
import { SIDE_KINDS, type SideKind } from '../../../src/pipeline/side-progress.js';
import { capturingLogger } from '../ingest/fake-kafka.js';
import { drain, track } from './settle.js';

interface Read {
  readonly kind: SideKind;
  readonly atMs: number;
}

/** A reader over a fake topic whose end offset is the number of reads so far; `failNext(n)` fails reads. */
function setup() {
  const reads: Read[] = [];
  let failures = 0;
  let n = 0;
  const { log, lines } = capturingLogger();
  const reader: SideEndsReader = createSideEndsReader({
    log,
    read: (kind) => {
      reads.push({ kind, atMs: Date.now() });
      if (failures > 0) {
        failures--;
        return Promise.reject(new Error('broker gone (fake)'));
      }
      n++;
      return Promise.resolve(new Map([[0, String(n)]]));
    },
  });
  return {
    reader,
    reads,
    lines,
    failNext: (times: number) => (failures = times),
  };
}

describe('side end offsets reader', () => {
  it('answers with end offsets of every side topic read at or after notBefore', async () => {
    const { reader, reads } = setup();
    const notBefore = Date.now() + 30;
    const ends = await reader.request(notBefore);
    expect(reads.map((r) => r.kind).sort()).toEqual([...SIDE_KINDS].sort());
    for (const r of reads) expect(r.atMs).toBeGreaterThanOrEqual(notBefore);
    for (const k of SIDE_KINDS) expect(ends?.[k].get(0)).toMatch(/^\d+$/);
    reader.close();
  });

  it('one read answers every request it satisfies', async () => {
    const { reader, reads } = setup();
    const now = Date.now();
    const answers = await Promise.all([
      reader.request(now - 10),
      reader.request(now),
      reader.request(now - 5),
    ]);
    expect(reads).toHaveLength(SIDE_KINDS.length);
    expect(answers[1]).toBe(answers[0]);
    expect(answers[2]).toBe(answers[0]);
    // A request the latest read already satisfies is answered from it, without a read.
    expect(await reader.request(now - 1)).toBe(answers[0]);
    expect(reads).toHaveLength(SIDE_KINDS.length);
    reader.close();
  });

  it('a request the latest read does not satisfy waits for a read started at or after its notBefore', async () => {
    const { reader, reads } = setup();
    const now = Date.now();
    const early = track(reader.request(now));
    const late = track(reader.request(now + 40));
    await early.promise;
    expect(late.state()).toBe('pending');
    const second = await late.promise;
    expect(reads).toHaveLength(2 * SIDE_KINDS.length);
    for (const r of reads.slice(SIDE_KINDS.length)) expect(r.atMs).toBeGreaterThanOrEqual(now + 40);
    expect(second).not.toBe(early.value());
    expect(second?.errors.get(0)).not.toBe(early.value()?.errors.get(0));
    reader.close();
  });

  it('cancelAll() answers every waiting request with undefined; later requests are answered again', async () => {
    const { reader } = setup();
    const a = track(reader.request(Date.now() + 30));
    const b = track(reader.request(Date.now() + 30));
    await drain();
    reader.cancelAll();
    await drain();
    expect(a.state()).toBe('resolved');
    expect(a.value()).toBeUndefined();
    expect(b.value()).toBeUndefined();
    expect(b.state()).toBe('resolved');
    const c = await reader.request(Date.now());
    expect(c?.machines.get(0)).toBeDefined();
    reader.close();
  });

  // The loop sleeps until the earliest notBefore it saw when it started waiting; a request that arrives
  // meanwhile with an earlier notBefore (or after cancelAll emptied the queue) must not wait for that.
  it('a request due now is not held behind the wait for a later one', async () => {
    const { reader } = setup();
    const later = track(reader.request(Date.now() + 3_000));
    await drain();
    const now = track(reader.request(Date.now()));
    await drain(300);
    expect(now.state()).toBe('resolved');
    expect(later.state()).toBe('pending');
    reader.close();
  });

  it('a request after cancelAll() is not held behind the wait for a cancelled one', async () => {
    const { reader } = setup();
    const cancelled = track(reader.request(Date.now() + 3_000));
    await drain();
    reader.cancelAll();
    const next = track(reader.request(Date.now()));
    await drain(300);
    expect(cancelled.value()).toBeUndefined();
    expect(next.state()).toBe('resolved');
    expect(next.value()?.errors.get(0)).toBeDefined();
    reader.close();
  });

  it('close() answers waiting requests with undefined, every later one at once, and reads no more', async () => {
    const { reader, reads } = setup();
    const a = track(reader.request(Date.now() + 60_000));
    await drain();
    reader.close();
    await drain();
    expect(a.state()).toBe('resolved');
    expect(a.value()).toBeUndefined();
    expect(await reader.request(Date.now() - 1_000)).toBeUndefined();
    await drain(20);
    expect(reads).toEqual([]);
  });

  it('retries a failed read after a backoff with a warn line, then answers with the successful read', async () => {
    const { reader, reads, lines, failNext } = setup();
    failNext(1);
    const started = Date.now();
    const ends = await reader.request(started);
    // The first attempt failed on one topic; the retry reads all of them again.
    expect(reads.length).toBe(2 * SIDE_KINDS.length);
    const retryAt = Math.min(...reads.slice(SIDE_KINDS.length).map((r) => r.atMs));
    expect(retryAt - started).toBeGreaterThanOrEqual(90);
    for (const k of SIDE_KINDS) expect(ends?.[k].get(0)).toBeDefined();
    const warn = lines().find((l) => l.level === 40);
    expect(warn?.msg).toContain('read failed, retrying');
    expect(warn).toMatchObject({ attempt: 1, err: 'broker gone (fake)' });
    reader.close();
  });

  it('close() during the backoff of a failing read answers undefined and stops retrying', async () => {
    const { reader, reads, lines, failNext } = setup();
    failNext(1_000);
    const a = track(reader.request(Date.now()));
    await drain(20);
    expect(reads.length).toBeGreaterThan(0);
    reader.close();
    await drain();
    expect(a.state()).toBe('resolved');
    expect(a.value()).toBeUndefined();
    const count = reads.length;
    await drain(300);
    expect(reads).toHaveLength(count);
    // The abort of the backoff is not reported as a failure of the reader.
    expect(lines().filter((l) => l.level >= 50)).toEqual([]);
  });

  it('end offsets offered from elsewhere answer the requests they satisfy, and only those', async () => {
    const { reader, reads } = setup();
    const now = Date.now();
    const offered: SideEndOffsets = {
      errors: new Map([[0, '7']]),
      maintenance: new Map([[0, '7']]),
      machines: new Map([[0, '7']]),
    };
    const waiting = track(reader.request(now + 20));
    const later = track(reader.request(now + 60));
    reader.offer(now + 30, offered);
    expect(await waiting.promise).toBe(offered);
    // Answered from the offer without a read; an older offer does not replace it.
    expect(await reader.request(now + 25)).toBe(offered);
    reader.offer(now + 29, { ...offered });
    expect(await reader.request(now + 30)).toBe(offered);
    // A request past the offer still waits for a read of its own.
    expect(later.state()).toBe('pending');
    const own = await later.promise;
    expect(own).not.toBe(offered);
    expect(reads).toHaveLength(SIDE_KINDS.length);
    for (const r of reads) expect(r.atMs).toBeGreaterThanOrEqual(now + 60);
    reader.close();
  });

  it('a read that completes after a newer offer does not replace it', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const { log } = capturingLogger();
    const reader = createSideEndsReader({
      log,
      read: async () => {
        await held;
        return new Map([[0, 'old']]);
      },
    });
    const now = Date.now();
    const first = reader.request(now);
    const offered: SideEndOffsets = {
      errors: new Map([[0, 'new']]),
      maintenance: new Map([[0, 'new']]),
      machines: new Map([[0, 'new']]),
    };
    // The read above started at or after `now`; the offer was read later.
    const offeredAt = Date.now() + 5;
    reader.offer(offeredAt, offered);
    expect(await first).toBe(offered);
    release();
    await sleep(10);
    // Still the latest read: a request it satisfies is answered from it, not from the older read.
    expect(await reader.request(offeredAt)).toBe(offered);
    reader.close();
  });
});
