/**
 * The demo's rate-limit scenario: a client stuck in a retry loop hammers orders, and its
 * per-user limit — 20 requests a minute, kept in Redis — holds across both instances of orders:
 * each instance sees only half of the requests, yet the user gets exactly 20 through in total.
 */

type Scenario = (
  title: string,
  run: () => Promise<undefined>,
  check: () => string | undefined,
) => Promise<unknown>;

/** Runs the rate-limit scenario through `scenario` (the demo's runner). */
export async function rateLimitScenario(
  scenario: Scenario,
  number: number,
  instances: readonly string[],
  token: string,
  limit: number,
): Promise<void> {
  const requests = limit + 6;
  const byStatus: Record<string, number> = {};
  const perInstance = instances.map(() => 0);
  let retryAfter: string | null = null;
  await scenario(
    `${number}. A client in a retry loop: ${limit} requests a minute per user, shared by both orders instances`,
    async () => {
      for (let i = 0; i < requests; i++) {
        const which = i % instances.length;
        perInstance[which]!++;
        // A broken client: the same empty order again and again (400 while the limit lets it through).
        const response = await fetch(`${instances[which]}/orders`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
        });
        await response.arrayBuffer();
        byStatus[response.status] = (byStatus[response.status] ?? 0) + 1;
        if (response.status === 429) retryAfter ??= response.headers.get('retry-after');
      }
      const shown = Object.keys(byStatus)
        .sort()
        .map((status) => `${byStatus[status]} × ${status}`)
        .join(', ');
      console.log(
        `   ← ${requests} requests as bob, ${perInstance.join(' and ')} to each instance: ${shown}; Retry-After ${retryAfter} s`,
      );
      return undefined;
    },
    () => {
      const refused = byStatus[429] ?? 0;
      if (refused !== requests - limit)
        return `expected ${requests - limit} × 429 (the limit holds for the fleet), got ${refused}`;
      if ((byStatus[400] ?? 0) !== limit)
        return `expected ${limit} requests let through, got ${byStatus[400] ?? 0}`;
      if (retryAfter !== String(Math.ceil(60 / limit)))
        return `expected Retry-After ${60 / limit}, got ${retryAfter}`;
      return undefined;
    },
  );
}
