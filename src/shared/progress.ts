/**
 * Progress of a long command on stderr: a redrawn bar on a terminal, plain periodic lines otherwise (CI
 * logs, pipes), so that output stays readable in both. stdout is left to the command's result.
 */
export interface ProgressStream {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Shown in front of every line, e.g. `simulate`. */
  readonly label: string;
  /** Where to draw. @default process.stderr */
  readonly stream?: ProgressStream;
  /** Draw a redrawn bar rather than lines. @default stream.isTTY === true */
  readonly tty?: boolean;
  /** Least time between two draws. @default 100 on a terminal, 5000 for plain lines */
  readonly intervalMs?: number;
  /** Clock, for tests. @default Date.now */
  readonly now?: () => number;
  /** Name of what is counted. @default 'records' */
  readonly unit?: string;
}

export interface ProgressUpdate {
  /** Items done so far (records sent, rows read). */
  readonly done: number;
  /** Share done in [0, 1], when known. */
  readonly fraction?: number;
  /** Free text after the figures, e.g. the event time reached. */
  readonly detail?: string;
}

export interface ProgressReporter {
  /** Draws if the interval has passed since the last draw; cheap to call often. */
  update(u: ProgressUpdate): void;
  /** Draws the final state once (always), ending the bar's line. */
  finish(u: ProgressUpdate): void;
}

const BAR_WIDTH = 24;

/** `1234567` → `1,234,567`, independent of the machine's locale so logs compare across machines. */
export function groupDigits(n: number): string {
  const s = String(Math.round(n));
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(sec).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${m}:${ss}`;
}

export function createProgress(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const tty = options.tty ?? stream.isTTY === true;
  const intervalMs = options.intervalMs ?? (tty ? 100 : 5000);
  const now = options.now ?? Date.now;
  const unit = options.unit ?? 'records';
  const startedAt = now();
  let lastDrawAt = Number.NEGATIVE_INFINITY;
  let finished = false;

  function text(u: ProgressUpdate, at: number): string {
    const elapsedMs = at - startedAt;
    const rate = elapsedMs > 0 ? (u.done * 1000) / elapsedMs : 0;
    const parts: string[] = [];
    if (u.fraction !== undefined) {
      const f = Math.min(1, Math.max(0, u.fraction));
      if (tty) {
        const full = Math.round(f * BAR_WIDTH);
        parts.push(`[${'#'.repeat(full)}${'-'.repeat(BAR_WIDTH - full)}]`);
      }
      parts.push(`${(f * 100).toFixed(1).padStart(5)}%`);
    }
    parts.push(`${groupDigits(u.done)} ${unit}`, `${groupDigits(rate)}/s`, formatDuration(elapsedMs));
    if (u.fraction !== undefined && u.fraction > 0 && u.fraction < 1) {
      parts.push(`eta ${formatDuration((elapsedMs * (1 - u.fraction)) / u.fraction)}`);
    }
    if (u.detail !== undefined && u.detail !== '') parts.push(u.detail);
    return `${options.label}: ${parts.join('  ')}`;
  }

  function draw(u: ProgressUpdate, at: number, final: boolean): void {
    lastDrawAt = at;
    const line = text(u, at);
    if (tty) {
      const width = stream.columns ?? 0;
      const fitted = width > 1 && line.length >= width ? line.slice(0, width - 1) : line;
      // \r + erase-to-end-of-line redraws in place without leaving the previous, longer text behind.
      stream.write(`\r${fitted}\x1b[K${final ? '\n' : ''}`);
    } else {
      stream.write(`${line}\n`);
    }
  }

  return {
    update(u) {
      if (finished) return;
      const at = now();
      if (at - lastDrawAt >= intervalMs) draw(u, at, false);
    },
    finish(u) {
      if (finished) return;
      finished = true;
      draw(u, now(), true);
    },
  };
}
