/**
 * CPU-queue activities (task queue `mewm-cpu`) that record what the planner did: one JSON audit
 * artifact per beam step, PNG previews of the chosen protocol, one JSON Lines artifact per cohort
 * page. Artifacts are content-addressed, so a retried write is a no-op with the same ref.
 * The Temporal event history stays the source of truth; these are its readable copies.
 */
import type { ArtifactRef, ArtifactStore } from '../src/artifacts/store';
import { getCtVolume, getLabelVolume, putJson, putPng } from '../src/artifacts/volumes';
import { MewmError } from '../src/core/errors';
import { largestTumourSlice } from '../src/core/volume/roi';
import { encodePng, montage, renderAxialSlice, type RgbaImage } from '../src/io/png';
import type { BeamStepAudit, CohortCaseOutcome, RoiArtifacts } from '../workflows/types';
import { withTypedFailures } from './failures';
import type { ActivityLogger, ArtifactResolver } from './deps';

export interface PreviewInput {
  readonly caseId: string;
  readonly roi: RoiArtifacts;
  /** Simulated post-treatment CTs and their masks of the chosen protocol. */
  readonly posts: readonly { readonly ct: ArtifactRef; readonly labels: ArtifactRef }[];
}

export interface AuditDependencies {
  readonly store: ArtifactStore;
  readonly artifacts: ArtifactResolver;
  readonly log: ActivityLogger;
}

export function createAuditActivities(deps: AuditDependencies) {
  const { store, artifacts, log } = deps;

  async function writeAuditRecord(record: BeamStepAudit): Promise<ArtifactRef> {
    if (record.schema !== 'mewm.beam-step/1') throw new MewmError('InvalidInput', `unknown audit schema ${String(record.schema)}`);
    const ref = await putJson(store, record);
    log.debug({ caseId: record.caseId, phase: record.phase, step: record.step, uri: ref.uri }, 'audit record written');
    return ref;
  }

  /** One PNG: the pre-treatment ROI slice then each simulated post-treatment slice, with mask outlines. */
  async function renderPreviews(input: PreviewInput): Promise<ArtifactRef[]> {
    const [preCt, preLabels] = await Promise.all([
      getCtVolume(artifacts.storeFor(input.roi.ct.uri), input.roi.ct),
      getLabelVolume(artifacts.storeFor(input.roi.labels.uri), input.roi.labels),
    ]);
    const z = largestTumourSlice(preLabels);
    const tiles: RgbaImage[] = [renderAxialSlice(preCt, z, { labels: preLabels })];
    for (const post of input.posts) {
      const [ct, labels] = await Promise.all([
        getCtVolume(artifacts.storeFor(post.ct.uri), post.ct),
        getLabelVolume(artifacts.storeFor(post.labels.uri), post.labels),
      ]);
      tiles.push(renderAxialSlice(ct, z, { labels }));
    }
    const image = montage(tiles, tiles.length);
    return [await putPng(store, encodePng(image.rgba, image.width, image.height))];
  }

  async function writeCohortPage(input: { cohortId: string; offset: number; outcomes: readonly CohortCaseOutcome[] }): Promise<ArtifactRef> {
    const lines = input.outcomes.map((o) => JSON.stringify({ cohortId: input.cohortId, ...o })).join('\n');
    return store.put(new TextEncoder().encode(`${lines}\n`), { mediaType: 'application/x-ndjson', extension: '.jsonl' });
  }

  return withTypedFailures({ writeAuditRecord, renderPreviews, writeCohortPage });
}

export type AuditActivities = ReturnType<typeof createAuditActivities>;
