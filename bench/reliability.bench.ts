/**
 * The long versions of the reliability tests, each reported as scenario | load | survived | lost:
 * hostile HTTP against the container platforms' Node server (request smuggling shapes, oversize
 * headers, slowloris, a connection burst, forged Host headers) and memory over 50,000 Lambda
 * invocations, and SIGTERM under load with keep-alive and new connections. The bounded versions run in the test suite (tests/contract/host-header, the
 * Lambda malformed-events fuzzer, packages/lambda/test/dead-collector.test.ts).
 *
 * `survived` counts requests answered as designed (the right status, the server still serving);
 * `lost` counts resets, hangs, 500s and wrong answers. BENCH_SCALE=0.1 runs a tenth of the load.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { auth } from '@sidecarless/auth';
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
  const mesh = createMesh(
    {
      service: 'reliability',
      logging: { level: 'silent' },
      auth: {
        policies: [
          { name: 'ok-only', action: 'ALLOW', rules: [{ to: [{ operation: { paths: ['/ok'] } }] }] },
        ],
      },
    },
    [auth],
  );
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

/** One GET: the status, or the socket error's code. */
function getStatus(port: number, path: string, agent: Agent | false): Promise<number | string> {
  return new Promise((resolve) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
      res.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
    req.end();
  });
}

/**
 * SIGTERM in the middle of steady load on the shared Node server, in a real process: 16 keep-alive
 * connections and a stream of new connections, each request 20–200 ms long, grace 10 s. A request
 * sent before the drain began must be answered 200; after it, one on an open connection must be
 * answered (200, `connection: close`) and a new connection is refused by design (the client may
 * retry elsewhere). Every answered request must have its access line.
 */
async function drainUnderLoad(): Promise<void> {
  const fixture = fileURLToPath(new URL('../tests/contract/drain-server.mjs', import.meta.url));
  const rounds = n(10);
  let before = 0;
  let beforeOk = 0;
  let afterOpen = 0;
  let afterOpenOk = 0;
  let afterNew = 0;
  let afterNewOk = 0;
  let refused = 0;
  let answered = 0;
  let accessLines = 0;
  const failures = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    const exited = once(child, 'exit');
    while (!/^listening \d+$/m.test(out)) {
      // A fixture that cannot start must fail the bench, not leave it waiting.
      if (child.exitCode !== null)
        throw new Error(`${fixture} exited with ${child.exitCode} before listening`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const port = Number(/^listening (\d+)$/m.exec(out)![1]);
    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    let draining = false;
    let stop = false;
    const outcomes: Promise<void>[] = [];
    const send = (keepAlive: boolean) => {
      const sentDuringDrain = draining;
      const ms = 20 + Math.floor(Math.random() * 180);
      outcomes.push(
        getStatus(port, `/slow?ms=${ms}`, keepAlive ? agent : false).then((status) => {
          if (typeof status === 'number') answered++;
          // Refused at connect: the request never reached the server (a new connection, or one the
          // client's pool opened after the server closed a kept-alive one) — by design, retryable.
          if (status === 'ECONNREFUSED') refused++;
          else if (!sentDuringDrain) {
            before++;
            if (status === 200) beforeOk++;
            else failures.set(String(status), (failures.get(String(status)) ?? 0) + 1);
          } else if (!keepAlive) {
            // Accepted by the kernel before the listener closed: answered, or reset from the backlog.
            afterNew++;
            if (status === 200) afterNewOk++;
          } else {
            afterOpen++;
            if (status === 200) afterOpenOk++;
            else {
              const key = `${status} on a ${keepAlive ? 'kept-alive' : 'new'} connection`;
              failures.set(key, (failures.get(key) ?? 0) + 1);
            }
          }
        }),
      );
    };
    const load = setInterval(() => {
      if (stop) return;
      for (let i = 0; i < 4; i++) send(true);
      send(false);
    }, 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Anything sent from here on may reach the server after it began draining.
    draining = true;
    child.kill('SIGTERM');
    while (!out.includes('"msg":"shutdown signal: draining"'))
      await new Promise((resolve) => setTimeout(resolve, 1));
    await new Promise((resolve) => setTimeout(resolve, 200));
    stop = true;
    clearInterval(load);
    await exited;
    await Promise.all(outcomes);
    agent.destroy();
    accessLines += (out.match(/"msg":"access"/g) ?? []).length;
  }
  rows.push([
    'SIGTERM under load: sent before the drain',
    `${before} requests reaching ${rounds} processes`,
    `${beforeOk}`,
    `${before - beforeOk}`,
  ]);
  rows.push([
    'SIGTERM under load: sent during the drain on open connections',
    `${afterOpen} requests`,
    `${afterOpenOk}`,
    `${afterOpen - afterOpenOk}`,
  ]);
  rows.push([
    'SIGTERM under load: new connections the kernel accepted as the listener closed',
    `${afterNew} requests`,
    `${afterNewOk}`,
    `${afterNew - afterNewOk}`,
  ]);
  rows.push([
    'SIGTERM under load: refused at connect (never reached the server)',
    `${refused} requests`,
    `${refused} (ECONNREFUSED)`,
    '0',
  ]);
  if (failures.size > 0) console.log('drain failures by outcome:', Object.fromEntries(failures));
  rows.push([
    'SIGTERM under load: access lines',
    `${answered} answered`,
    `${accessLines}`,
    `${answered - accessLines}`,
  ]);
}

await hostileHttp();
await drainUnderLoad();
await lambdaMemory();
printTable('Reliability: load, survived, lost', ['scenario', 'load', 'survived', 'lost'], rows);
