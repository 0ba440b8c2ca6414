/**
 * A GPU worker in its own process, for tests that SIGKILL it. Config and address come from the
 * environment (MEWM_TEST_CONFIG as JSON, MEWM_TEST_ADDRESS); MEWM_TEST_DELAY_MS slows each
 * simulated replica. Prints "ready" on stdout once polling.
 */
import { createWorldModel } from '../../src/backends/world-model';
import type { MewmConfig } from '../../src/config/config';
import { createLogger } from '../../src/logging/logger';
import { runWorkerProcess } from '../../workers/run';
import { slowWorldModel } from './slow-world-model';

const config = JSON.parse(process.env.MEWM_TEST_CONFIG ?? '{}') as MewmConfig;
const world = slowWorldModel(await createWorldModel(config.worldModel), Number(process.env.MEWM_TEST_DELAY_MS ?? 0));
await runWorkerProcess({
  config,
  address: process.env.MEWM_TEST_ADDRESS!,
  roles: ['gpu'],
  log: createLogger(config.log, 'gpu-worker-process'),
  overrides: { world },
  identity: `gpu-process-${process.pid}`,
  onReady: () => process.stdout.write('ready\n'),
});
