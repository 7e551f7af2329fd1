/**
 * The telemetry arrival record (src/pipeline/log-arrival.ts) dates a batch by the earliest high watermark
 * seen past it. Its answers may be later than the truth (safe: a checkpoint waits longer) but never
 * earlier, which could close buckets before side events produced with the batch were read.
 */
import { describe, expect, it } from 'vitest';
import { createLogArrival, sighting } from '../../../src/pipeline/log-arrival.js';
import { mulberry32 } from '../prng.js';

describe('log arrival', () => {
  it('without a sighting past the batch, the batch is dated by its own fetch', () => {
    const a = createLogArrival();
    expect(a.inLogBy(0, 5n, 1_000)).toBe(1_000);
    a.observe(0, '6', 500);
    // A high watermark is exclusive: offset 6 was not in the log when end 6 was seen.
    expect(a.inLogBy(0, 6n, 2_000)).toBe(2_000);
    // Another partition's sighting says nothing about this one.
    a.observe(1, '100', 100);
    expect(a.inLogBy(0, 7n, 3_000)).toBe(3_000);
  });

  it('a batch below an earlier sighting is dated by the first sighting past it', () => {
    const a = createLogArrival();
    a.observe(0, '10', 100);
    a.observe(0, '20', 200);
    a.observe(0, '30', 300);
    expect(a.inLogBy(0, 9n, 1_000)).toBe(100);
    expect(a.inLogBy(0, 10n, 1_000)).toBe(200);
    expect(a.inLogBy(0, 25n, 1_000)).toBe(300);
    // Its own fetch when that is earlier than any sighting past it.
    expect(a.inLogBy(0, 29n, 250)).toBe(250);
    expect(a.inLogBy(0, 30n, 1_000)).toBe(1_000);
  });

  it('ignores what is not an offset, sightings that add nothing, and forgets on reset', () => {
    const a = createLogArrival();
    for (const bad of ['', '-1', 'abc', '1e3', ' 5', '12345678901234567890']) a.observe(0, bad, 10);
    expect(a.inLogBy(0, 0n, 1_000)).toBe(1_000);
    a.observe(0, '50', 100);
    a.observe(0, '40', 50); // smaller end: adds nothing
    a.observe(0, '60', 90); // earlier than the newest sighting: ignored (never dates anything earlier)
    expect(a.inLogBy(0, 45n, 1_000)).toBe(100);
    expect(a.inLogBy(0, 55n, 1_000)).toBe(1_000);
    a.observe(0, '70', 200);
    a.reset();
    expect(a.inLogBy(0, 65n, 1_000)).toBe(1_000);
  });

  it('past its limit of sightings it dates the newest ones later, never earlier', () => {
    const a = createLogArrival();
    for (let i = 1; i <= 100; i++) a.observe(0, String(i), i * 10);
    expect(a.inLogBy(0, 0n, 10_000)).toBe(10);
    expect(a.inLogBy(0, 50n, 10_000)).toBe(510);
    // Ends 64..100 share the last kept sighting: dated by the newest of them (end 100, at 1000).
    const got = a.inLogBy(0, 80n, 10_000);
    expect(got).toBeGreaterThanOrEqual(810);
    expect(got).toBeLessThanOrEqual(1_000);
  });

  it('never dates a batch earlier than the truth, and exactly while few sightings wait', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rand = mulberry32(seed);
      const a = createLogArrival();
      const all: { end: bigint; atMs: number }[] = [];
      let end = 0n;
      let now = 1_000;
      let next = 0n;
      let exact = true;
      for (let step = 0; step < 400; step++) {
        now += Math.floor(rand() * 20);
        if (rand() < 0.6) {
          // A fetch or an end-offset read: the log grew (or not) and its end was seen now.
          end += BigInt(Math.floor(rand() * 50));
          a.observe(0, String(end), now);
          all.push({ end, atMs: now });
          // Many sightings waiting at once (batches held back): the record may keep fewer.
          if (all.filter((s) => s.end > next).length > 64) exact = false;
        } else if (next < end) {
          // A batch taken: its last offset, in increasing order, fetched at some instant up to now.
          const last = next + BigInt(Math.floor(rand() * Number(end - next)));
          const fetchedAtMs = now - Math.floor(rand() * 30);
          const truth = Math.min(fetchedAtMs, ...all.filter((s) => s.end > last).map((s) => s.atMs));
          const got = a.inLogBy(0, last, fetchedAtMs);
          expect(got).toBeGreaterThanOrEqual(truth);
          if (exact) expect(got).toBe(truth);
          next = last + 1n;
        }
      }
    }
  });
});

describe('sighting of an end-offset read', () => {
  it('is timed when the answer arrived, not when the read was asked for', async () => {
    const ends = new Map([[0, '42']]);
    const askedAt = Date.now();
    const seen = await sighting(
      new Promise((resolve) => {
        setTimeout(() => {
          resolve(ends);
        }, 30);
      }),
    );
    expect(seen?.ends).toBe(ends);
    expect(seen?.atMs).toBeGreaterThanOrEqual(askedAt + 29);
  });

  it('a failed read is no sighting', async () => {
    expect(await sighting(Promise.reject(new Error('broker gone (fake)')))).toBeUndefined();
  });
});
