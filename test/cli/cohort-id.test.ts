import { describe, expect, it } from 'vitest';
import { cohortWorkflowId, defaultCohortId } from '../../src/app/cohort-run';

describe('mewm cohort: the default cohort id', () => {
  it('is opaque: nothing of the folder name reaches the id or the workflow id', () => {
    const id = defaultCohortId('/data/St-Elsewhere-Doe_John/manifest.jsonl', undefined);
    expect(id).toMatch(/^[0-9a-f]{12}$/);
    expect(cohortWorkflowId(id)).not.toMatch(/Elsewhere|Doe|John/i);
  });

  it('is stable for one manifest and split (a re-run resumes), distinct across manifests and splits', () => {
    const manifest = '/data/cohort-a/manifest.jsonl';
    expect(defaultCohortId(manifest, 'test')).toBe(defaultCohortId('/data/cohort-a/../cohort-a/manifest.jsonl', 'test'));
    expect(defaultCohortId(manifest, 'test')).not.toBe(defaultCohortId(manifest, 'train'));
    expect(defaultCohortId(manifest, undefined)).not.toBe(defaultCohortId('/data/cohort-b/manifest.jsonl', undefined));
  });
});
