/** What the contract suite needs from each adapter under test. */
export interface RunningFunction {
  /** Sends one request the way the platform would deliver it, and returns the platform's answer. */
  send(request: Request): Promise<Response>;
  /** Stops whatever `start` started. */
  stop(): Promise<void>;
}

export interface AdapterUnderTest {
  /** Shown in test names. */
  readonly name: string;
  /** The `ctx.platform` the handler should see. */
  readonly platform: string;
  /** Starts the contract function (see function.ts) on this adapter. */
  start(): Promise<RunningFunction>;
}
