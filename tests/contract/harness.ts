/** What the contract suite needs from each adapter under test. */
export interface RunningFunction {
  /** Sends one request the way the platform would deliver it, and returns the platform's answer. */
  send(request: Request): Promise<Response>;
  /**
   * For adapters that receive HTTP on a socket (the container platforms): where to send raw
   * bytes — what no Fetch client can send (a forged `Host`, an absolute-form target). `pathHeader`
   * names the header the path travels in when the platform routes only `/` to the function.
   */
  readonly socket?: { readonly port: number; readonly pathHeader?: string };
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

/**
 * Starts `adapter` with extra mesh options. They travel in `CONTRACT_MESH_OPTIONS` (JSON), which
 * `createContractMesh()` merges, so adapters that run the function in a child process inherit
 * them; the variable is restored once the function has started.
 */
export async function startWithMeshOptions(
  adapter: AdapterUnderTest,
  options: object,
): Promise<RunningFunction> {
  const previous = process.env.CONTRACT_MESH_OPTIONS;
  process.env.CONTRACT_MESH_OPTIONS = JSON.stringify(options);
  try {
    return await adapter.start();
  } finally {
    if (previous === undefined) delete process.env.CONTRACT_MESH_OPTIONS;
    else process.env.CONTRACT_MESH_OPTIONS = previous;
  }
}
