/**
 * Controls for the fidelity evaluation: a dynamics model that ignores the action (every request
 * is simulated as one fixed protocol). A world model wrapped this way must fail the fidelity
 * checks — the negative control that keeps the checks honest (test/evaluation/fidelity.test.ts,
 * and `mewm fidelity --control ignore-action` to see its numbers).
 */
import { canonicalProtocol, protocolKey, type Protocol } from '../../core/vocabulary';
import type { DynamicsModel, WorldModel } from '../../models/world-model';

export function ignoringAction(dynamics: DynamicsModel, fixed: Protocol): DynamicsModel {
  const protocol = canonicalProtocol(fixed);
  return {
    identity: { ...dynamics.identity, name: `${dynamics.identity.name} (control: always ${protocolKey(protocol)})` },
    simulate: (requests) => dynamics.simulate(requests.map((r) => ({ ...r, protocol }))),
    ...(dynamics.reconstruct ? { reconstruct: dynamics.reconstruct.bind(dynamics) } : {}),
    ...(dynamics.expectedResponse ? { expectedResponse: (requests) => dynamics.expectedResponse!(requests.map((r) => ({ ...r, protocol }))) } : {}),
  };
}

/** `world` with its dynamics replaced (assistant, heuristic and close kept). */
export function withDynamics(world: WorldModel, dynamics: DynamicsModel): WorldModel {
  return { dynamics, assistant: world.assistant, heuristic: world.heuristic, close: () => world.close() };
}
