/**
 * Small helpers shared by the benchmarks: timing loops, medians over rounds, and table
 * printing. Benchmarks print tables; they are not timed tests and never fail on a number.
 * These machines are noisy: always compare within one run, interleave the candidates, and quote
 * medians and ratios.
 */
import type { BuildOptions } from 'esbuild';

/**
 * esbuild options for the one minified file users deploy (SAM's esbuild build), for Node 22. An
 * ES module bundle gets a real `require()`: CommonJS dependencies inside it (pino, Powertools,
 * undici) call it for Node's built-ins, as SAM's esbuild template provides.
 */
export function deployedBundle(format: 'cjs' | 'esm'): BuildOptions {
  return {
    bundle: true,
    minify: true,
    platform: 'node',
    target: 'node22',
    format,
    logLevel: 'error',
    ...(format === 'esm'
      ? {
          banner: {
            js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
          },
        }
      : {}),
  };
}

export interface Candidate {
  name: string;
  /** One operation. May return a promise. */
  run: () => unknown;
}

export interface Result {
  name: string;
  /** Median nanoseconds per operation across rounds. */
  nsPerOp: number;
  /** Every round's ns/op, for the spread. */
  rounds: number[];
}

async function timeOnce(run: () => unknown, iterations: number): Promise<number> {
  const started = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) {
    const result = run();
    if (result instanceof Promise) await result;
  }
  return Number(process.hrtime.bigint() - started) / iterations;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/**
 * Runs every candidate for `rounds` rounds of `iterations` operations, interleaved (a, b, c,
 * a, b, c…) so drift in machine load hits all of them alike; warms each up first.
 */
export async function compare(
  candidates: readonly Candidate[],
  { rounds = 7, iterations = 20_000, warmup = 5_000 } = {},
): Promise<Result[]> {
  for (const candidate of candidates) await timeOnce(candidate.run, warmup);
  const perRound = candidates.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (const [index, candidate] of candidates.entries())
      perRound[index]!.push(await timeOnce(candidate.run, iterations));
  }
  return candidates.map((candidate, index) => ({
    name: candidate.name,
    nsPerOp: median(perRound[index]!),
    rounds: perRound[index]!,
  }));
}

/** Prints rows as an aligned Markdown table. */
export function printTable(
  title: string,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n### ${title}\n`);
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of rows) console.log(line(row));
}

/** Formats nanoseconds as µs with two decimals. */
export const us = (ns: number): string => `${(ns / 1000).toFixed(2)} µs`;
/** Formats a ratio like `1.23×`. */
export const times = (ratio: number): string => `${ratio.toFixed(2)}×`;

/** Prints a comparison table with each candidate's ratio to the first (the baseline). */
export function printComparison(title: string, results: readonly Result[]): void {
  const baseline = results[0]!.nsPerOp;
  printTable(
    title,
    ['candidate', 'median per op', 'vs baseline', 'spread (min–max)'],
    results.map((r) => [
      r.name,
      us(r.nsPerOp),
      times(r.nsPerOp / baseline),
      `${us(Math.min(...r.rounds))} – ${us(Math.max(...r.rounds))}`,
    ]),
  );
}

/**
 * What Powertools needs to believe it runs inside Lambda (its Tracer only sets itself up there;
 * X-Ray segments then go over UDP to 127.0.0.1:2000, as to the daemon on Lambda).
 */
export const lambdaEnvironment: Readonly<Record<string, string>> = {
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
  LAMBDA_TASK_ROOT: '/var/task',
  AWS_REGION: 'eu-west-1',
  _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  POWERTOOLS_SERVICE_NAME: 'bench',
  POWERTOOLS_METRICS_NAMESPACE: 'Bench',
};
