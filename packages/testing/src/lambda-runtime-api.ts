/**
 * A Lambda Runtime API (2018-06-01) server on 127.0.0.1, for running handlers inside AWS's
 * own runtime interface client (`aws-lambda-ric`) the way Lambda does: the client long-polls
 * `/runtime/invocation/next`, and posts to `/response` (buffered or streamed), `/error` or
 * `/init/error`. Tests queue invocations with `invoke()` and assert what the server received.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to send with one invocation. */
export interface RuntimeInvocation {
  /** Becomes the JSON body of `/next`. */
  readonly event: unknown;
  readonly requestId?: string;
  /** Milliseconds from now to the deadline. Default 3000. */
  readonly timeoutMs?: number;
  readonly traceId?: string;
  readonly functionArn?: string;
}

/** One chunk of a streamed response, with when it arrived. */
export interface ReceivedChunk {
  readonly at: number;
  readonly bytes: Buffer;
}

/** What the runtime client posted for an invocation. */
export type RuntimeOutcome =
  | {
      readonly kind: 'response';
      readonly requestId: string;
      readonly headers: IncomingMessage['headers'];
      readonly body: Buffer;
      /** True when the client used the streaming response mode. */
      readonly streamed: boolean;
      readonly chunks: readonly ReceivedChunk[];
      /** HTTP trailers (a streamed response reports a mid-stream error in them). */
      readonly trailers: Record<string, string | undefined>;
      /** When `/next` handed the invocation out, and when the response ended (epoch ms). */
      readonly startedAt: number;
      readonly endedAt: number;
    }
  | {
      readonly kind: 'error';
      readonly requestId: string;
      readonly errorType: string | undefined;
      readonly body: { errorType?: string; errorMessage?: string; trace?: string[] };
      readonly startedAt: number;
      readonly endedAt: number;
    };

/** An init error the client reported. */
export interface InitErrorReport {
  readonly errorType: string | undefined;
  readonly body: { errorType?: string; errorMessage?: string };
}

/** A running Runtime API server. */
export interface RuntimeApiServer {
  /** `host:port`, the value for `AWS_LAMBDA_RUNTIME_API`. */
  readonly address: string;
  /** Queues an invocation; resolves with what the client posted back. */
  invoke(invocation: RuntimeInvocation): Promise<RuntimeOutcome>;
  /** Resolves when the client reports an init error. */
  readonly initError: Promise<InitErrorReport>;
  /** How many times the client asked for the next invocation. */
  readonly polls: number;
  close(): Promise<void>;
}

interface Pending {
  readonly invocation: RuntimeInvocation;
  readonly requestId: string;
  readonly resolve: (outcome: RuntimeOutcome) => void;
  startedAt: number;
}

function readAll(request: IncomingMessage, chunks: ReceivedChunk[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    request.on('data', (chunk: Buffer) => chunks.push({ at: Date.now(), bytes: chunk }));
    request.on('end', () => resolve(Buffer.concat(chunks.map((chunk) => chunk.bytes))));
    request.on('error', reject);
  });
}

function parseJson<T>(buffer: Buffer): T {
  try {
    return JSON.parse(buffer.toString('utf8')) as T;
  } catch {
    return {} as T;
  }
}

/**
 * Starts a Runtime API server on 127.0.0.1.
 *
 * @example
 * ```ts
 * import { startRuntimeApi } from '@sidecarless/testing';
 *
 * const api = await startRuntimeApi();
 * // spawn aws-lambda-ric with AWS_LAMBDA_RUNTIME_API=api.address, then:
 * const outcome = await api.invoke({ event: { hello: 'world' } });
 * await api.close();
 * ```
 */
export async function startRuntimeApi(): Promise<RuntimeApiServer> {
  const queue: Pending[] = [];
  const inFlight = new Map<string, Pending>();
  const waiting: ServerResponse[] = [];
  let polls = 0;
  let reportInitError: (report: InitErrorReport) => void = () => {};
  const initError = new Promise<InitErrorReport>((resolve) => {
    reportInitError = resolve;
  });

  const handOut = (response: ServerResponse, pending: Pending) => {
    const { invocation, requestId } = pending;
    pending.startedAt = Date.now();
    inFlight.set(requestId, pending);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'lambda-runtime-aws-request-id': requestId,
      'lambda-runtime-deadline-ms': String(Date.now() + (invocation.timeoutMs ?? 3_000)),
      'lambda-runtime-invoked-function-arn':
        invocation.functionArn ?? 'arn:aws:lambda:us-east-1:123456789012:function:sidecarless-test',
    };
    if (invocation.traceId !== undefined) headers['lambda-runtime-trace-id'] = invocation.traceId;
    response.writeHead(200, headers);
    response.end(JSON.stringify(invocation.event));
  };

  const server = createServer(async (request, response) => {
    const url = request.url ?? '';
    const method = request.method ?? 'GET';
    if (method === 'GET' && url === '/2018-06-01/runtime/invocation/next') {
      polls++;
      const next = queue.shift();
      if (next) handOut(response, next);
      else waiting.push(response);
      return;
    }
    const chunks: ReceivedChunk[] = [];
    const body = await readAll(request, chunks);
    if (method === 'POST' && url === '/2018-06-01/runtime/init/error') {
      reportInitError({
        errorType: request.headers['lambda-runtime-function-error-type'] as string | undefined,
        body: parseJson(body),
      });
      response.writeHead(202).end('{"status":"OK"}');
      return;
    }
    const match = /^\/2018-06-01\/runtime\/invocation\/([^/]+)\/(response|error)$/.exec(url);
    const pending = match ? inFlight.get(decodeURIComponent(match[1]!)) : undefined;
    if (!match || !pending) {
      response.writeHead(404).end('{"errorMessage":"unknown path or request id"}');
      return;
    }
    inFlight.delete(pending.requestId);
    const endedAt = Date.now();
    if (match[2] === 'error') {
      pending.resolve({
        kind: 'error',
        requestId: pending.requestId,
        errorType: request.headers['lambda-runtime-function-error-type'] as string | undefined,
        body: parseJson(body),
        startedAt: pending.startedAt,
        endedAt,
      });
    } else {
      pending.resolve({
        kind: 'response',
        requestId: pending.requestId,
        headers: request.headers,
        body,
        streamed: request.headers['lambda-runtime-function-response-mode'] === 'streaming',
        chunks,
        trailers: { ...request.trailers },
        startedAt: pending.startedAt,
        endedAt,
      });
    }
    response.writeHead(202).end('{"status":"OK"}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    address: `127.0.0.1:${port}`,
    initError,
    get polls() {
      return polls;
    },
    invoke(invocation) {
      return new Promise<RuntimeOutcome>((resolve) => {
        const pending: Pending = {
          invocation,
          requestId: invocation.requestId ?? randomUUID(),
          resolve,
          startedAt: 0,
        };
        const poller = waiting.shift();
        if (poller) handOut(poller, pending);
        else queue.push(pending);
      });
    },
    async close() {
      for (const poller of waiting.splice(0)) poller.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
