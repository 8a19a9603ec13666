/**
 * The namespace's mesh policy — deploy/mesh-policy.yaml, the Istio resources a sidecar would read
 * — mounted for the functions the way the kubelet mounts a ConfigMap (`..data` swapped atomically),
 * and the demo's live-reload scenario: the platform team tightens a policy and every orders
 * instance enforces it on its next request, with no restart; then it is put back.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ConfigMapVolume, configMapVolume } from '@sidecarless/testing';

const deployed = {
  issuer: 'https://id.shop.example.com',
  jwksUri: 'https://id.shop.example.com/.well-known/jwks.json',
  scope: 'values: [orders:write]',
};

/** Replaces `find` in `text`, which must hold it exactly once: a changed file fails loudly. */
function replaceOnce(text: string, find: string, by: string): string {
  const parts = text.split(find);
  if (parts.length !== 2) throw new Error(`deploy/mesh-policy.yaml should hold "${find}" once`);
  return parts.join(by);
}

export interface MeshPolicyMount {
  /** What functions get as `MESH_POLICY_DIR`. */
  readonly dir: string;
  /** Publishes the policy with shoppers-place-orders requiring `scope` instead of orders:write. */
  requireScope(scope: string): void;
  /** Publishes the policy as deployed. */
  restore(): void;
  remove(): void;
}

/**
 * Mounts deploy/mesh-policy.yaml with the demo identity provider's issuer and keys in place of
 * the deployed one's — as a deploy tool's overlay (kustomize, Helm values) would.
 */
export function mountMeshPolicy(
  root: string,
  identity: { issuer: string; jwksUri: string },
): MeshPolicyMount {
  const source = readFileSync(join(root, 'deploy', 'mesh-policy.yaml'), 'utf8');
  const local = replaceOnce(
    replaceOnce(source, deployed.jwksUri, identity.jwksUri),
    `issuer: ${deployed.issuer}`,
    `issuer: ${identity.issuer}`,
  );
  const volume: ConfigMapVolume = configMapVolume({ 'mesh-policy.yaml': local });
  return {
    dir: volume.dir,
    requireScope: (scope) =>
      volume.update({ 'mesh-policy.yaml': replaceOnce(local, deployed.scope, `values: [${scope}]`) }),
    restore: () => volume.update({ 'mesh-policy.yaml': local }),
    remove: () => volume.remove(),
  };
}

type Scenario = (
  title: string,
  run: () => Promise<undefined>,
  check: () => string | undefined,
) => Promise<unknown>;

/** Places one order at `instance` as the token's user; the status. */
async function orderStatus(instance: string, token: string): Promise<number> {
  const response = await fetch(`${instance}/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ sku: 'book-42', quantity: 1, card: 'visa' }),
  });
  await response.arrayBuffer();
  return response.status;
}

/** Orders at every instance until each answers `status`; how long that took, or undefined. */
async function untilEvery(
  instances: readonly string[],
  token: string,
  status: number,
  timeoutMs: number,
): Promise<number | undefined> {
  const started = performance.now();
  const pending = new Set(instances);
  while (pending.size > 0 && performance.now() - started < timeoutMs) {
    for (const instance of [...pending])
      if ((await orderStatus(instance, token)) === status) pending.delete(instance);
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return pending.size === 0 ? Math.round(performance.now() - started) : undefined;
}

/** Runs the live-reload scenario through `scenario` (the demo's runner). */
export async function meshPolicyReloadScenario(
  scenario: Scenario,
  number: number,
  instances: readonly string[],
  token: string,
  policy: MeshPolicyMount,
): Promise<void> {
  const seen: { before?: number[]; tightened?: number | undefined; restored?: number | undefined } = {};
  await scenario(
    `${number}. live policy change: the platform team edits the mesh-policy ConfigMap (shoppers-place-orders now needs scope orders:admin) — both orders instances answer 403 within moments, no restart; put back, 201 again`,
    async () => {
      seen.before = [];
      for (const instance of instances) seen.before.push(await orderStatus(instance, token));
      policy.requireScope('orders:admin');
      seen.tightened = await untilEvery(instances, token, 403, 5_000);
      policy.restore();
      seen.restored = await untilEvery(instances, token, 201, 5_000);
      console.log(
        `   ← before: ${seen.before.join(', ')}; tightened: every instance 403 after ${seen.tightened ?? '—'} ms; restored: every instance 201 after ${seen.restored ?? '—'} ms`,
      );
      return undefined;
    },
    () => {
      if (seen.before?.some((status) => status !== 201))
        return `expected 201 before the change, got ${seen.before}`;
      if (seen.tightened === undefined)
        return 'an orders instance still admitted the order 5 s after the change';
      if (seen.restored === undefined)
        return 'an orders instance still refused the order 5 s after the restore';
      return undefined;
    },
  );
}
