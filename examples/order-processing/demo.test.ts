/**
 * `pnpm demo` runs the order-processing mesh as real processes and exits 0 only when every
 * scenario behaved as designed. This test runs it as CI would (against the built packages that
 * `pnpm test` builds first), checks the lines that show each behaviour, and checks that no
 * function process outlives the demo — after a normal run and after Ctrl-C with `--keep`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const demo = join(import.meta.dirname, 'demo.ts');

interface Run {
  child: ChildProcess;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function runDemo(args: string[] = []): Run {
  const child = spawn(process.execPath, [demo, ...args], {
    env: { PATH: process.env.PATH, TZ: 'UTC' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => text, exited };
}

function functionPids(output: string): number[] {
  const line = /^Function processes: (.*)$/m.exec(output)?.[1] ?? '';
  return [...line.matchAll(/pid (\d+)/g)].map((match) => Number(match[1]));
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Splits a printed curl line into its words (the demo quotes with single quotes only). */
function words(line: string): string[] {
  return [...line.matchAll(/'([^']*)'|(\S+)/g)].map((match) => match[1] ?? match[2]!);
}

/**
 * Sends the request a printed `curl` line describes (the flags the demo prints: -X, -H, -d,
 * --cacert, --cert, --key) with Node, so the check needs no curl binary; resolves the status.
 */
function replayCurl(line: string): Promise<number> {
  const args = words(line.replace(/ {3}#.*$/, ''));
  let method = 'GET';
  let url = '';
  let body: string | undefined;
  const headers: Record<string, string> = {};
  const tls: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (let index = 1; index < args.length; index++) {
    const arg = args[index]!;
    const value = () => args[++index]!;
    if (arg === '-s') continue;
    else if (arg === '-X') method = value();
    else if (arg === '-d') body = value();
    else if (arg === '--cacert') tls.ca = readFileSync(value());
    else if (arg === '--cert') tls.cert = readFileSync(value());
    else if (arg === '--key') tls.key = readFileSync(value());
    else if (arg === '-H') {
      const [name, ...rest] = value().split(':');
      headers[name!.trim()] = rest.join(':').trim();
    } else if (arg.startsWith('http')) url = arg;
    else throw new Error(`unexpected curl argument ${arg}`);
  }
  if (body !== undefined) {
    method = method === 'GET' ? 'POST' : method;
    headers['content-type'] ??= 'application/x-www-form-urlencoded'; // what curl -d sends
  }
  return new Promise((resolve, reject) => {
    const send = url.startsWith('https:') ? httpsRequest : httpRequest;
    const request = send(url, { method, headers, ...tls, agent: false }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('error', reject);
    request.end(body);
  });
}

describe('pnpm demo (examples/order-processing)', () => {
  it('runs every scenario as designed, prints the trace and metrics, and stops every process', async () => {
    const run = runDemo();
    const { code } = await run.exited;
    const output = run.output();
    expect(code, output).toBe(0);
    expect(output).toMatch(/demo OK: every scenario behaved as designed in \d+\.\d+s/);
    expect(output.match(/✓ as designed/g)).toHaveLength(16);
    // Traffic: the canary's split, the mirror whose errors never surface, the fault drill.
    expect(output).toMatch(
      /── 12\. Payments canary[^\n]*\n {3}← 1,000 calls: \{"v1":\d+,"v2":\d+\}; 200 with x-canary: always: \{"v2":200\}/,
    );
    expect(output).toMatch(/callers got \{"v1":100\}; the new version received 100 copies/);
    expect(output).toMatch(/── 14\. Fault drill[^\n]*\n {3}← 200 calls: \{[^}]*"v1":\d+/);
    // One per-user limit for both orders instances: 20 through in total, the other 6 refused.
    expect(output).toMatch(
      /── 15\. A client in a retry loop[^\n]*\n {3}← 26 requests as bob, 13 and 13 to each instance: 20 × 400, 6 × 429; Retry-After 3 s/,
    );
    // The behaviours, one line each.
    // The policy is deploy/mesh-policy.yaml's, loaded by each function; no token: its ALLOW rule fails.
    expect(output).toMatch(/deploy\/mesh-policy\.yaml mounted as a ConfigMap volume/);
    expect(output).toMatch(/── 1\.[^\n]*\n {3}← 403 .*SCL_ERR_FORBIDDEN/);
    for (const name of ['orders', 'orders-2', 'inventory', 'payments'])
      expect(output).toMatch(new RegExp(`^ +${name} +info +Istio configuration loaded`, 'm'));
    // The ConfigMap changes under the running functions: both orders instances follow it, and back.
    expect(output).toMatch(
      /── 16\. live policy change[^\n]*\n {3}← before: 201, 201; tightened: every instance 403 after \d+ ms; restored: every instance 201 after \d+ ms/,
    );
    expect(output).toMatch(/^ +orders-2 +info +Istio configuration reloaded/m);
    expect(output).toMatch(
      /inventory +info +stock checked .*caller=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/orders/,
    );
    expect(output).toMatch(/← 201 .*"paymentAttempts":3/);
    expect(output).toMatch(/← 503 .*SCL_ERR_CIRCUIT_OPEN/);
    expect(output).toMatch(/payments +warn +charge abandoned at the caller's deadline/);
    // orders → payments over mTLS: payments' principals rule admits orders' certificate…
    expect(output).toMatch(
      /payments +info +card charged .*caller=spiffe:\/\/cluster\.local\/ns\/shop\/sa\/orders/,
    );
    // …and refuses inventory's, a valid mesh certificate that is not orders'.
    const denied =
      /── 8\. mTLS policy[^\n]*\n {3}← 403 [^\n]*SCL_ERR_FORBIDDEN[^\n]*\n(?: {5}[^\n]*\n)*? {5}payments +warn +request denied +reason=policy_denied status=403 peer=cluster\.local\/ns\/shop\/sa\/inventory /;
    expect(output).toMatch(denied);
    // The watchdog's plain-HTTP path carries no certificate: refused, never served in plaintext.
    expect(output).toMatch(
      /── 9\.[^\n]*\n {3}← 403 [^\n]*\n {5}payments +warn +request denied +reason=mtls_required/,
    );
    expect(output).toMatch(
      /warehouse's certificate: 200; payments' certificate: 403; no certificate: handshake refused/,
    );
    // The stock event: sold out, the CloudEvent is accepted, the next order goes through.
    expect(output).toMatch(/← before: 409 "out of stock"; event: 202; after: 201/);
    expect(output).toMatch(/inventory +info +stock adjusted +sku=poster-1/);
    // Metrics scraped from the functions, and the waterfall of one order.
    expect(output).toMatch(/^ +orders +\d+ +\d+ +\d+ +[4-9]\d* +closed$/m);
    expect(output).toMatch(/── The trace of alice's order \([0-9a-f]{32}\): \d+ spans/);
    for (const service of ['orders', 'inventory', 'payments']) {
      expect(output).toMatch(
        new RegExp(`^ +${service} +.*\\((server|client)\\) +[\\d.]+ms +[\\d.]+ms +(UNSET|OK) `, 'm'),
      );
    }
    const pids = functionPids(output);
    // Five processes: orders runs as two instances.
    expect(pids).toHaveLength(5);
    expect(pids.filter(isRunning)).toEqual([]);
  }, 90_000);

  it('with --keep prints curl lines, keeps the functions running, and stops them all on Ctrl-C', async () => {
    const run = runDemo(['--keep']);
    const deadline = Date.now() + 60_000;
    while (!run.output().includes('Press Ctrl-C to stop them') && Date.now() < deadline) {
      if (run.child.exitCode !== null) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const output = run.output();
    expect(output, output).toContain('Press Ctrl-C to stop them');
    expect(output).toMatch(/curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/orders -H 'authorization: Bearer ey/);
    const pids = functionPids(output);
    expect(pids).toHaveLength(5);
    expect(pids.filter(isRunning)).toHaveLength(5);
    // The functions still answer while the demo waits.
    const front = /curl -s -X POST (http:\/\/127\.0\.0\.1:\d+)\/orders -d/.exec(output)?.[1];
    expect((await fetch(`${front}/orders`, { method: 'POST', body: '{}' })).status).toBe(403);
    // Every curl line that states its answer gets it: the mTLS pair, the gateway path, the
    // warehouse's read and its stock event.
    const stated = [...output.matchAll(/^ +(curl -s .*) {3}# [^\n]*: (\d{3})$/gm)];
    expect(stated.map((match) => match[2])).toEqual(['403', '201', '403', '403', '200', '202']);
    for (const [, line, status] of stated) expect(await replayCurl(line!), line).toBe(Number(status));

    run.child.kill('SIGINT');
    const { code } = await run.exited;
    expect(code).toBe(130);
    expect(pids.filter(isRunning)).toEqual([]);
  }, 90_000);
});
