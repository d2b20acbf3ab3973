// One summary of timings for every bench client, so that a p99 means the same in every table.

export interface LatencyStats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Count, p50, p90, p99 and max of `values` (nearest rank), each rounded to `decimals` places; all 0 for none. */
export function latencyStats(values: readonly number[], decimals: number): LatencyStats {
  const sorted = [...values].sort((a, b) => a - b);
  const scale = 10 ** decimals;
  const round = (n: number) => Math.round(n * scale) / scale;
  const at = (q: number) => round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0);
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: round(sorted.at(-1) ?? 0) };
}
