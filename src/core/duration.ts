import { InvalidInputError, preview } from './task-id.ts';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/**
 * Parses a duration such as `250ms`, `30s`, `5m`, `1h30m` or `2d` into milliseconds.
 * A bare number is taken as seconds, as `sleep` does. Throws InvalidInputError on anything else.
 */
export function parseDuration(input: string): number {
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return checkFinite(Number(text) * 1_000, input);
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match; match = PART.exec(text)) {
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    consumed = PART.lastIndex;
  }
  if (consumed === 0 || consumed !== text.length) {
    throw new InvalidInputError(`not a duration: ${preview(input)} (use e.g. 500ms, 30s, 5m, 2h, 1h30m)`);
  }
  return checkFinite(Math.round(total), input);
}

function checkFinite(ms: number, input: string): number {
  if (!Number.isFinite(ms) || ms > Number.MAX_SAFE_INTEGER) throw new InvalidInputError(`duration too long: ${preview(input)}`);
  return ms;
}

/** Formats milliseconds compactly for people: `850ms`, `12s`, `4m05s`, `2h`, `2h10m`, `1d`, `3d4h`. */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.max(0, Math.round(ms))}ms`;
  const s = Math.floor(ms / 1_000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return withRest(m, 'm', s % 60, 's');
  const h = Math.floor(m / 60);
  if (h < 24) return withRest(h, 'h', m % 60, 'm');
  return withRest(Math.floor(h / 24), 'd', h % 24, 'h');
}

function withRest(whole: number, unit: string, rest: number, restUnit: string): string {
  return rest === 0 ? `${whole}${unit}` : `${whole}${unit}${String(rest).padStart(2, '0')}${restUnit}`;
}
