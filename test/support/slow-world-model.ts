/**
 * The oracle world model behind a slow "GPU": each replica's simulation waits `delayMs` on a
 * timer first, so a test can kill the worker while a simulate activity is half done. Results are
 * the oracle's own, one replica at a time (the oracle is per-seed deterministic).
 */
import type { SimulationRequest, WorldModel } from '../../src/models/world-model';

export function slowWorldModel(inner: WorldModel, delayMs: number): WorldModel {
  return {
    ...inner,
    dynamics: {
      identity: inner.dynamics.identity,
      async simulate(requests: readonly SimulationRequest[]) {
        const out = [];
        for (const request of requests) {
          const volumes = [];
          for (const seed of request.seeds) {
            await new Promise((r) => setTimeout(r, delayMs));
            volumes.push((await inner.dynamics.simulate([{ ...request, seeds: [seed] }]))[0]![0]!);
          }
          out.push(volumes);
        }
        return out;
      },
    },
  };
}
