import type { TumourObservation } from '../../src/policy/policy';

export function observation(overrides: Partial<TumourObservation> = {}): TumourObservation {
  return {
    tumourCount: 1,
    largestDiameterMm: 42,
    totalTumourMl: 35,
    liverMl: 1500,
    tumourBurden: 35 / 1500,
    enhancementHu: 28,
    heterogeneity: 0.12,
    location: 'right-lobe',
    summary: 'A single hyper-enhancing lesion of 42 mm in the right lobe.',
    ...overrides,
  };
}

export const GOAL = 'What TACE treatment protocols are recommended for a patient diagnosed with hepatocellular carcinoma (HCC) given the pre-treatment CT?';
