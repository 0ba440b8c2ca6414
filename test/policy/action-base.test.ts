import { describe, expect, it } from 'vitest';
import { ActionBasePolicy } from '../../src/policy/action-base';
import { policyConfigFromEnv } from '../../src/policy/config';
import { createPolicy, describePolicy } from '../../src/policy/index';
import { isMewmError } from '../../src/core/errors';
import { DRUGS, EMBOLICS } from '../../src/core/vocabulary';
import { GOAL, observation } from './fixtures';

describe('ActionBasePolicy (MEWM_POLICY=action-base)', () => {
  it('proposes every vocabulary agent for D = 12, E = 6, including agents the rules forbid together', async () => {
    const proposal = await new ActionBasePolicy().propose({ caseId: 'case-1', observation: observation(), goal: GOAL, drugCount: 12, embolicCount: 6 });
    expect(proposal.drugs).toEqual([...DRUGS]);
    expect(proposal.embolics).toEqual([...EMBOLICS]);
    expect(proposal.drugs).toContain('cisplatin');
    expect(proposal.drugs).toContain('oxaliplatin');
    expect(proposal.removals).toEqual([]);
    expect(proposal.policy).toEqual({ name: 'action-base', version: 'action-base-2026.1' });
  });

  it('takes the first D and E in vocabulary order, whatever the case, and refuses non-positive counts', async () => {
    const small = await new ActionBasePolicy().propose({
      caseId: 'case-1',
      observation: observation({ largestDiameterMm: 120 }),
      goal: GOAL,
      drugCount: 2,
      embolicCount: 1,
    });
    expect(small.drugs).toEqual(DRUGS.slice(0, 2));
    expect(small.embolics).toEqual(EMBOLICS.slice(0, 1));
    const error = await new ActionBasePolicy()
      .propose({ caseId: 'case-1', observation: observation(), goal: GOAL, drugCount: 0, embolicCount: 1 })
      .catch((e: unknown) => e);
    expect(isMewmError(error, 'InvalidInput')).toBe(true);
  });

  it('is chosen by MEWM_POLICY=action-base, even with an LLM endpoint configured, and labelled as no clinical policy', () => {
    const policy = createPolicy(policyConfigFromEnv({ MEWM_POLICY: 'action-base', OPENAI_API_KEY: 'sk' }));
    expect(policy.identity.name).toBe('action-base');
    expect(describePolicy(policy.identity)).toContain('not a clinical policy');
    expect(() => policyConfigFromEnv({ MEWM_POLICY: 'everything' })).toThrow(/action-base/);
  });
});
