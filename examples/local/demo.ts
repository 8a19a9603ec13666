/**
 * `pnpm demo`: runs the order function through the local adapter with a handful of requests —
 * an accepted order, a bad one, a crash and a slow one that hits its deadline — and prints each
 * request, response and the log lines it produced. Exits non-zero if any outcome is not the
 * designed one.
 */
import { invoke } from '@sidecarless/core/local';
import { createOrdersMesh, handler } from './orders.ts';

const logLines: string[] = [];
const mesh = createOrdersMesh({ write: (line: string) => logLines.push(line) });

interface Scenario {
  title: string;
  request: Request;
  expectStatus: number;
}

const scenarios: Scenario[] = [
  {
    title: 'a valid order',
    request: new Request('http://localhost/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer demo-token-never-logged' },
      body: JSON.stringify({ sku: 'book-42', quantity: 2 }),
    }),
    expectStatus: 201,
  },
  {
    title: 'a malformed order',
    request: new Request('http://localhost/orders', { method: 'POST', body: '{"sku": 7}' }),
    expectStatus: 400,
  },
  {
    title: 'a handler that crashes',
    request: new Request('http://localhost/orders', { method: 'POST', body: '{"sku":"crash","quantity":1}' }),
    expectStatus: 500,
  },
  {
    title: 'a handler that runs past its deadline (timeout 300ms)',
    request: new Request('http://localhost/orders', { method: 'POST', body: '{"sku":"slow","quantity":1}' }),
    expectStatus: 504,
  },
];

const failures: string[] = [];
const started = performance.now();
for (const [index, scenario] of scenarios.entries()) {
  const body = await scenario.request.clone().text();
  console.log(`\n── ${index + 1}. ${scenario.title}`);
  console.log(`→ ${scenario.request.method} ${scenario.request.url} ${body}`);
  logLines.length = 0;
  const response = await invoke(mesh, handler, scenario.request, {
    timeout: scenario.expectStatus === 504 ? '300ms' : '2s',
  });
  const text = await response.text();
  console.log(`← ${response.status} ${response.headers.get('content-type') ?? ''} ${text}`);
  for (const line of logLines.join('').split('\n').filter(Boolean)) console.log(`  log ${line}`);
  if (response.status !== scenario.expectStatus) {
    failures.push(`${scenario.title}: expected ${scenario.expectStatus}, got ${response.status}`);
  }
  if (logLines.join('').includes('demo-token-never-logged'))
    failures.push(`${scenario.title}: a token reached the log`);
}

const seconds = ((performance.now() - started) / 1000).toFixed(2);
if (failures.length > 0) {
  console.error(`\ndemo FAILED:\n  - ${failures.join('\n  - ')}`);
  process.exit(1);
}
console.log(`\ndemo OK: ${scenarios.length} invocations behaved as designed in ${seconds}s`);
