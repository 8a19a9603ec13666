/**
 * The three parts of undici the outbound client uses — `Agent`, `Pool` and `buildConnector` —
 * loaded from their own modules rather than from the package's index.
 *
 * The index loads everything undici has: its Fetch, WebSocket, EventSource, cache and mock
 * implementations. Loading it from node_modules measured ~170 ms on the development machine
 * against ~64 ms for these three modules (and what they require); bundled, it is 523 KB of
 * JavaScript to parse against 279 KB. undici publishes no `exports` map, so the paths resolve
 * under Node and every bundler; the classes are the same ones the index exports. The version is
 * pinned in package.json, and the outbound suite exercises all three.
 */
import type { Agent as AgentType, buildConnector as BuildConnectorType, Pool as PoolType } from 'undici';
import connectModule from 'undici/lib/core/connect.js';
import AgentModule from 'undici/lib/dispatcher/agent.js';
import PoolModule from 'undici/lib/dispatcher/pool.js';

export const Agent: typeof AgentType = AgentModule;
export const Pool: typeof PoolType = PoolModule;
export const buildConnector: typeof BuildConnectorType = connectModule;
