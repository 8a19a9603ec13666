/**
 * The shared store on Redis: one connection per instance, kept across warm invocations; every
 * call bounded by the time budget and behind a breaker, so Redis down or slow costs an
 * invocation at most the budget — and, once the breaker opens, nothing.
 */
import type { BucketGrant, Logger, SharedStore, TokenBucketSpec } from '@sidecarless/core';
import { SidecarlessError } from '@sidecarless/core';
import type { Redis } from 'ioredis';
import type { NormalizedRedis } from './options.js';

/**
 * A token bucket taken in one atomic step, on Redis's clock (instances' clocks differ; Redis's
 * is the one they share). The bucket is a hash `{ t: tokens, at: ms }` that expires once it
 * would be full again, so idle keys cost no memory. Takes up to `lease` whole tokens.
 */
export const takeScript = `
local max = tonumber(ARGV[1])
local rate = tonumber(ARGV[2]) / tonumber(ARGV[3])
local lease = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = max
  at = now
end
if now > at then tokens = math.min(max, tokens + (now - at) * rate) end
local granted = math.floor(math.min(lease, tokens))
if granted < 0 then granted = 0 end
tokens = tokens - granted
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((max - tokens) / rate) + 1000)
local wait = 0
if tokens < 1 then wait = math.ceil((1 - tokens) * tonumber(ARGV[3]) / tonumber(ARGV[2]) - 1e-9) end
return { granted, math.floor(tokens), wait }
`;

type TakingRedis = Redis & {
  sidecarlessTake(
    key: string,
    max: number,
    perFill: number,
    intervalMs: number,
    lease: number,
  ): Promise<[number, number, number]>;
};

/** A call the store could not answer: down, slow, breaker open. */
export class StoreUnavailableError extends SidecarlessError {
  constructor(reason: string, cause?: unknown) {
    super('SCL_ERR_SHARED_STORE_UNAVAILABLE', `the shared store (Redis) did not answer: ${reason}`, {
      status: 503,
      expose: false,
      cause,
    });
  }
}

/** {@link SharedStore} on Redis, through ioredis (imported when the store connects, not before). */
export class RedisStore implements SharedStore {
  readonly #config: NormalizedRedis;
  #log: Logger | undefined;
  #client: TakingRedis | undefined;
  #connecting: Promise<void> | undefined;
  #failures = 0;
  #openUntil = 0;
  #closed = false;

  constructor(config: NormalizedRedis) {
    this.#config = config;
  }

  get available(): boolean {
    return Date.now() >= this.#openUntil;
  }

  /**
   * Loads ioredis and connects (at `createMesh`: Lambda's init phase). Resolves within the connect
   * timeout whatever happens: a Redis that is down at init leaves the breaker to decide, and
   * ioredis reconnects in the background.
   */
  connect(log: Logger): Promise<void> {
    this.#log = log;
    this.#connecting ??= this.#open();
    return this.#connecting;
  }

  async #open(): Promise<void> {
    const config = this.#config;
    // ~40 ms to import bundled (bench/rate-limits.bench.ts): paid only by meshes with a shared scope.
    const { Redis } = await import('ioredis');
    if (this.#closed) return;
    const client = new Redis({
      host: config.host,
      port: config.port,
      db: config.db,
      ...(config.username === undefined ? {} : { username: config.username }),
      ...(config.password === undefined ? {} : { password: config.password }),
      ...(config.tls
        ? {
            tls: {
              ...(config.ca === undefined ? {} : { ca: [...config.ca] }),
              ...(config.servername === undefined ? {} : { servername: config.servername }),
            },
          }
        : {}),
      lazyConnect: true,
      // Fail at once while disconnected instead of queueing: the breaker and the failure mode
      // decide, never a queue an invocation waits in.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: config.timeoutMs,
      connectTimeout: config.connectTimeoutMs,
      // Reconnect in the background: 50 ms, 100 ms … at most 2 s apart.
      retryStrategy: (times: number) => Math.min(times * 50, 2_000),
    }) as TakingRedis;
    client.defineCommand('sidecarlessTake', { numberOfKeys: 1, lua: takeScript });
    // Without a listener ioredis prints every connection error; the breaker logs what matters.
    client.on('error', () => {});
    this.#client = client;
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, config.connectTimeoutMs);
    });
    await Promise.race([
      client
        .connect()
        // Loaded now, the script's first EVALSHA finds it: no NOSCRIPT and EVAL round trip on
        // the first invocation's check.
        .then(() => client.script('LOAD', takeScript))
        .catch((error: unknown) => {
          this.#log?.warn(
            { err: safeError(error), redis: config.shownUrl },
            'could not connect to Redis at init; shared state uses its failure mode until it answers',
          );
        }),
      waited,
    ]);
    clearTimeout(timer);
  }

  async take(key: string, bucket: TokenBucketSpec, lease: number): Promise<BucketGrant> {
    const [granted, remaining, retryAfterMs] = await this.#run((client) =>
      client.sidecarlessTake(
        this.#config.keyPrefix + key,
        bucket.maxTokens,
        bucket.tokensPerFill,
        bucket.fillIntervalMs,
        lease,
      ),
    );
    return { granted, remaining, retryAfterMs };
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.#run((client) => client.get(this.#config.keyPrefix + key));
    return value ?? undefined;
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.#run((client) =>
      client.set(this.#config.keyPrefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs))),
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (client.status === 'ready') await client.quit().catch(() => client.disconnect());
    else client.disconnect();
  }

  async #run<T>(operation: (client: TakingRedis) => Promise<T>): Promise<T> {
    if (Date.now() < this.#openUntil) throw new StoreUnavailableError('breaker open');
    const client = this.#client;
    if (client?.status !== 'ready') {
      const reason = client ? `not connected (${client.status})` : 'not connected';
      this.#failed(reason);
      throw new StoreUnavailableError(reason);
    }
    let result: T;
    try {
      result = await operation(client);
    } catch (error) {
      const reason = safeError(error).message;
      this.#failed(reason);
      throw new StoreUnavailableError(reason, error);
    }
    if (this.#failures >= this.#config.consecutiveFailures)
      this.#log?.info({ redis: this.#config.shownUrl }, 'Redis answers again; shared state is back');
    this.#failures = 0;
    return result;
  }

  #failed(reason: string): void {
    this.#failures++;
    if (this.#failures < this.#config.consecutiveFailures) return;
    const wasOpen = this.#failures > this.#config.consecutiveFailures;
    this.#openUntil = Date.now() + this.#config.openForMs;
    // One line when the breaker opens, not one per refused call (a flood helps no one).
    if (!wasOpen)
      this.#log?.warn(
        { redis: this.#config.shownUrl, reason, openForMs: this.#config.openForMs },
        'Redis is not answering; its breaker is open and shared state uses its failure mode',
      );
  }
}

/** An error with nothing secret in it: ioredis messages carry no password, but be sure. */
function safeError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new Error(message.replace(/:\/\/[^@/\s]*@/g, '://***@'));
}
