/**
 * A slowed GPU worker in its own process that prints one line `simulated <n>` on stdout per
 * replica its dynamics model has returned, so a test that SIGKILLs it knows how much work died
 * with it. Config and address from MEWM_TEST_CONFIG / MEWM_TEST_ADDRESS, delay per replica from
 * MEWM_TEST_DELAY_MS; prints "ready" once polling.
 */
import { createWorldModel } from '../../src/backends/world-model';
import type { MewmConfig } from '../../src/config/config';
import type { SimulationRequest, WorldModel } from '../../src/models/world-model';
import { createLogger } from '../../src/logging/logger';
import { runWorkerProcess } from '../../workers/run';
import { slowWorldModel } from './slow-world-model';

const config = JSON.parse(process.env.MEWM_TEST_CONFIG ?? '{}') as MewmConfig;
const slow = slowWorldModel(await createWorldModel(config.worldModel), Number(process.env.MEWM_TEST_DELAY_MS ?? 0));
let simulated = 0;
const world: WorldModel = {
  ...slow,
  dynamics: {
    identity: slow.dynamics.identity,
    async simulate(requests: readonly SimulationRequest[]) {
      const out = [];
      for (const request of requests) {
        const volumes = [];
        for (const seed of request.seeds) {
          volumes.push((await slow.dynamics.simulate([{ ...request, seeds: [seed] }]))[0]![0]!);
          process.stdout.write(`simulated ${++simulated}\n`);
        }
        out.push(volumes);
      }
      return out;
    },
  },
};
await runWorkerProcess({
  config,
  address: process.env.MEWM_TEST_ADDRESS!,
  roles: ['gpu'],
  log: createLogger(config.log, 'counting-gpu-worker'),
  overrides: { world },
  identity: `counting-gpu-${process.pid}`,
  onReady: () => process.stdout.write('ready\n'),
});
