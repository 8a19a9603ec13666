/**
 * The long versions of the reliability tests, each reported as scenario | load | survived | lost:
 * hostile HTTP against the container platforms' Node server (request smuggling shapes, oversize
 * headers, slowloris, a connection burst, forged Host headers) and memory over 50,000 Lambda
 * invocations. The bounded versions run in the test suite (tests/contract/host-header, the
 * Lambda malformed-events fuzzer, packages/lambda/test/dead-collector.test.ts).
 *
 * `survived` counts requests answered as designed (the right status, the server still serving);
 * `lost` counts resets, hangs, 500s and wrong answers. BENCH_SCALE=0.1 runs a tenth of the load.
 */
import { connect } from 'node:net';
import { createMesh } from '@sidecarless/core';
import { knative } from '@sidecarless/knative';
import { lambda } from '@sidecarless/lambda';
import { printTable } from './lib.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const n = (count: number) => Math.max(1, Math.round(count * scale));
const rows: string[][] = [];

/** Writes raw bytes, resolves with the status line's code (0 when the socket closed without one). */
function rawRequest(port: number, bytes: string, timeoutMs = 5_000): Promise<number> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
    });
    socket.on('error', () => {});
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.write(bytes);
  });
}

const get = (host = 'bench.test') => `GET /ok HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`;

async function hostileHttp(): Promise<void> {
  const mesh = createMesh({
    service: 'reliability',
    logging: { level: 'silent' },
    auth: {
      policies: [{ name: 'ok-only', action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/ok'] } }] }] }],
    },
  });
  const server = knative(mesh, async () => new Response('ok'), { port: 0 });
  const { port } = await server.listen();

  const smuggling = [
    'POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    'POST /ok HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde',
    'GET /ok HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n b\r\n\r\n',
    'GET /ok HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n',
    'GET /ok HTTP/1.1\nHost: h\n\n',
  ];
  {
    const rounds = n(200);
    let survived = 0;
    for (let i = 0; i < rounds; i++) {
      const status = await rawRequest(port, smuggling[i % smuggling.length]!);
      // Refused (4xx), or the parser closed the socket; then the server must still answer.
      if ((status >= 400 && status < 500) || status === 0) {
        if ((await rawRequest(port, get())) === 200) survived++;
      }
    }
    rows.push([
      'request smuggling shapes (CL+TE, two CL, obs-fold, bare LF)',
      `${rounds} requests`,
      `${survived}`,
      `${rounds - survived}`,
    ]);
  }
  {
    const rounds = n(100);
    let survived = 0;
    for (let i = 0; i < rounds; i++) {
      const status = await rawRequest(
        port,
        `GET /ok HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      );
      if (status === 431 || status === 0) survived++;
    }
    rows.push(['oversize headers (64 KiB)', `${rounds} requests`, `${survived}`, `${rounds - survived}`]);
  }
  {
    const hosts = ['h/x?', 'h#', 'u:p@h', 'h:99999', '[::1', 'h\\x', '', 'h h'];
    const rounds = n(2_000);
    let survived = 0;
    for (let i = 0; i < rounds; i++) {
      const status = await rawRequest(port, get(hosts[i % hosts.length]));
      if (status === 400) survived++;
    }
    rows.push(['forged Host headers', `${rounds} requests`, `${survived} (400)`, `${rounds - survived}`]);
  }
  {
    // Slowloris: connections that send their headers a byte at a time, while real clients come.
    const slow = n(200);
    const sockets = Array.from({ length: slow }, () => {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write('GET /ok HTTP/1.1\r\nHost: h\r\n');
      return socket;
    });
    const drip = setInterval(() => {
      for (const socket of sockets) if (!socket.destroyed) socket.write('X');
    }, 100);
    const clients = n(200);
    const statuses = await Promise.all(Array.from({ length: clients }, () => rawRequest(port, get())));
    clearInterval(drip);
    for (const socket of sockets) socket.destroy();
    const ok = statuses.filter((status) => status === 200).length;
    rows.push([
      `slowloris (${slow} dripping connections)`,
      `${clients} requests`,
      `${ok}`,
      `${clients - ok}`,
    ]);
  }
  {
    const burst = n(2_000);
    const statuses = await Promise.all(Array.from({ length: burst }, () => rawRequest(port, get(), 20_000)));
    const ok = statuses.filter((status) => status === 200).length;
    rows.push(['connection burst', `${burst} connections at once`, `${ok}`, `${burst - ok}`]);
  }
  await server.close();
}

async function lambdaMemory(): Promise<void> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (pnpm bench does)');
  const mesh = createMesh({ service: 'memory', logging: { level: 'silent' } });
  const handler = lambda(mesh, async (request) => Response.json({ path: new URL(request.url).pathname }));
  // An HTTP API (payload 2.0) GET, as API Gateway sends it.
  const event = {
    version: '2.0',
    routeKey: 'GET /orders',
    rawPath: '/orders',
    rawQueryString: 'page=2',
    headers: { accept: 'application/json', host: 'abc123.execute-api.us-east-1.amazonaws.com' },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      http: {
        method: 'GET',
        path: '/orders',
        protocol: 'HTTP/1.1',
        sourceIp: '203.0.113.7',
        userAgent: 'bench',
      },
      requestId: 'req',
      stage: '$default',
      time: '03/Dec/2026:07:00:00 +0000',
      timeEpoch: 1_796_281_200_000,
    },
    isBase64Encoded: false,
  };
  let requestCounter = 0;
  const lambdaContext = () => {
    const deadline = Date.now() + 3_000;
    return {
      awsRequestId: `memory-${++requestCounter}`,
      functionName: 'memory',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:memory',
      memoryLimitInMB: '128',
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
  };
  const total = n(50_000);
  const warmUp = Math.min(5_000, Math.floor(total / 10));
  let failed = 0;
  let heapAfterWarmUp = 0;
  for (let i = 0; i < total; i++) {
    const result = (await handler(event as never, lambdaContext() as never)) as { statusCode: number };
    if (result.statusCode !== 200) failed++;
    if (i === warmUp) {
      gc();
      heapAfterWarmUp = process.memoryUsage().heapUsed;
    }
  }
  gc();
  const growth = process.memoryUsage().heapUsed - heapAfterWarmUp;
  rows.push([
    'Lambda invocations, memory',
    `${total} invocations`,
    `${total - failed}; heap ${(heapAfterWarmUp / 1_048_576).toFixed(1)} → ${((heapAfterWarmUp + growth) / 1_048_576).toFixed(1)} MB after ${warmUp}`,
    `${failed}`,
  ]);
}

await hostileHttp();
await lambdaMemory();
printTable('Reliability: load, survived, lost', ['scenario', 'load', 'survived', 'lost'], rows);
