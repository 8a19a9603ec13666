/**
 * One attempt on an undici pool, through the dispatcher API, handing back a standard `Response`.
 * Global `fetch` costs 3.4k req/s against 17k for `undici.request` at 16 in flight (PERF-NOTES);
 * most of the difference is fetch's spec machinery, not the `Response` object, so we build the
 * `Response` ourselves over a byte stream fed straight from undici's handler callbacks.
 *
 * A response the retry policy will retry is drained (not aborted) so the connection stays pooled.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';

/**
 * How an attempt ended when it got a response, in the policy chain's terms (AttemptOutcome in
 * ../upstream.ts): the response, or a retry named by the status that asked for it.
 */
export type AttemptResult =
  | { readonly value: Response; readonly status: number; readonly retry?: undefined }
  | { readonly retry: string; readonly status: number };

/** The dispatch options an attempt sends. */
export interface AttemptRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | AsyncIterable<Uint8Array> | null;
  /** Close the connection after this request (`maxRequestsPerConnection: 1`). */
  readonly reset: boolean;
}

// Statuses whose responses carry no body; `new Response(stream, { status: 204 })` throws.
const nullBodyStatuses = new Set([101, 103, 204, 205, 304]);

/**
 * The handler of one attempt. `decide(status, headers)` says, when the headers arrive, whether
 * this response will be retried; `settled(error)` runs once the body is finished (or failed), to
 * clear the attempt's timer and release the endpoint.
 */
class AttemptHandler implements Dispatcher.DispatchHandler {
  readonly #resolve: (result: AttemptResult) => void;
  readonly #reject: (error: Error) => void;
  readonly #decide: (status: number, headers: IncomingHttpHeaders) => boolean;
  readonly #settled: (error: Error | undefined, status: number | undefined) => void;
  readonly #isHead: boolean;
  #controller: Dispatcher.DispatchController | undefined;
  #pendingAbort: Error | undefined;
  #stream: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The status of a response being drained because it will be retried. */
  #draining: number | undefined;
  #status: number | undefined;
  #done = false;

  constructor(
    resolve: (result: AttemptResult) => void,
    reject: (error: Error) => void,
    decide: (status: number, headers: IncomingHttpHeaders) => boolean,
    settled: (error: Error | undefined, status: number | undefined) => void,
    isHead: boolean,
  ) {
    this.#resolve = resolve;
    this.#reject = reject;
    this.#decide = decide;
    this.#settled = settled;
    this.#isHead = isHead;
  }

  /** Aborts the attempt (timeout, deadline, caller's signal). */
  abort(reason: Error): void {
    if (this.#done) return;
    if (this.#controller) this.#controller.abort(reason);
    else this.#pendingAbort = reason;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#pendingAbort) controller.abort(this.#pendingAbort);
  }

  onResponseStart(
    controller: Dispatcher.DispatchController,
    status: number,
    headers: IncomingHttpHeaders,
    statusMessage?: string,
  ): void {
    this.#status = status;
    if (this.#decide(status, headers)) {
      this.#draining = status;
      return;
    }
    const pairs: [string, string][] = [];
    for (const name in headers) {
      const value = headers[name];
      if (typeof value === 'string') pairs.push([name, value]);
      else if (Array.isArray(value)) for (const item of value) pairs.push([name, item]);
    }
    let body: ReadableStream<Uint8Array> | null = null;
    if (!nullBodyStatuses.has(status) && !this.#isHead) {
      body = new ReadableStream<Uint8Array>(
        {
          start: (stream) => {
            this.#stream = stream;
          },
          // Backpressure: undici pauses the socket while the reader is behind.
          pull: () => {
            if (controller.paused) controller.resume();
          },
          cancel: (reason) => {
            this.abort(reason instanceof Error ? reason : new Error('the response body was cancelled'));
          },
        },
        { highWaterMark: 65_536, size: (chunk) => chunk.byteLength },
      );
    }
    const response = new Response(body, { status, statusText: statusMessage ?? '', headers: pairs });
    this.#resolve({ value: response, status });
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const stream = this.#stream;
    if (!stream) return; // draining a response we retry, or a body-less one
    stream.enqueue(chunk);
    if ((stream.desiredSize ?? 1) <= 0) controller.pause();
  }

  onResponseEnd(): void {
    this.#done = true;
    if (this.#draining !== undefined) {
      this.#settled(undefined, this.#status);
      this.#resolve({ retry: String(this.#draining), status: this.#draining });
      return;
    }
    this.#stream?.close();
    this.#settled(undefined, this.#status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#settled(error, this.#status);
    if (this.#stream) this.#stream.error(error);
    else this.#reject(error);
  }
}

/** Parses `Retry-After` (seconds or an HTTP date) into milliseconds. */
export function retryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\d+$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** A started attempt: its result, and how to abort it. */
export interface Attempt {
  readonly result: Promise<AttemptResult>;
  abort(reason: Error): void;
}

/** Starts one attempt on `dispatcher`. */
export function dispatchAttempt(
  dispatcher: Dispatcher,
  origin: string | undefined,
  request: AttemptRequest,
  decide: (status: number, headers: IncomingHttpHeaders) => boolean,
  settled: (error: Error | undefined, status: number | undefined) => void,
): Attempt {
  let handler!: AttemptHandler;
  const result = new Promise<AttemptResult>((resolve, reject) => {
    handler = new AttemptHandler(resolve, reject, decide, settled, request.method === 'HEAD');
  });
  dispatcher.dispatch(
    {
      ...(origin === undefined ? {} : { origin }),
      method: request.method as Dispatcher.HttpMethod,
      path: request.path,
      headers: request.headers,
      body: request.body as NonNullable<Dispatcher.DispatchOptions['body']>,
      reset: request.reset,
    },
    handler,
  );
  return { result, abort: (reason) => handler.abort(reason) };
}
