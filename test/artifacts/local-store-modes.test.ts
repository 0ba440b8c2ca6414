/**
 * Patient data at rest (issue 11): local artifacts — CTs, masks and case sources, which hold input
 * paths — are owner-only (files 0600, folders 0700) whatever the umask, or what the config says.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { writeCaseSource } from '../../activities/case-source';
import { ArtifactStores, LocalArtifactStore, parseArtifactLocation } from '../../src/artifacts';
import { resolveConfig } from '../../src/config/config';
import { isMewmError } from '../../src/core/errors';

const root = mkdtempSync(join(tmpdir(), 'mewm-modes-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const mode = (path: string) => statSync(path).mode & 0o777;

describe('local artifact permissions', () => {
  it('writes files 0600 and folders 0700 by default, even under a permissive umask', async () => {
    const previous = process.umask(0o000);
    try {
      const store = new LocalArtifactStore(join(root, 'default'));
      const ref = await store.put(new TextEncoder().encode('{"caseId":"case-1"}'), { mediaType: 'application/json', extension: '.json' });
      const path = fileURLToPath(ref.uri);
      expect(mode(path).toString(8)).toBe('600');
      expect(mode(dirname(path)).toString(8)).toBe('700');
      expect(mode(join(root, 'default')).toString(8)).toBe('700');
    } finally {
      process.umask(previous);
    }
  });

  it('a case source (which holds the input path) is owner-only', async () => {
    const store = new LocalArtifactStore(join(root, 'sources'));
    const ref = await writeCaseSource(store, { caseId: 'case-1', ct: join(root, 'DOE^JOHN', 'ct.nii.gz') });
    expect(mode(fileURLToPath(ref.source.uri)).toString(8)).toBe('600');
  });

  it('the config sets other modes (MEWM_ARTIFACT_FILE_MODE / _DIR_MODE), through the stores the workers and CLI use', async () => {
    const config = resolveConfig({ cwd: root, env: { MEWM_ARTIFACTS: join(root, 'shared'), MEWM_ARTIFACT_FILE_MODE: '640', MEWM_ARTIFACT_DIR_MODE: '750' } });
    expect([config.artifacts.fileMode, config.artifacts.dirMode]).toEqual([0o640, 0o750]);
    const stores = new ArtifactStores(config.artifacts.s3, {}, config.artifacts);
    const ref = await stores
      .forConfig(parseArtifactLocation(config.artifacts.location))
      .put(new Uint8Array([1, 2, 3]), { mediaType: 'application/octet-stream', extension: '.bin' });
    expect(mode(fileURLToPath(ref.uri)).toString(8)).toBe('640');
    expect(mode(dirname(fileURLToPath(ref.uri))).toString(8)).toBe('750');
  });

  it('refuses modes that lock the owner out or are not octal', () => {
    for (const [variable, value] of [
      ['MEWM_ARTIFACT_FILE_MODE', '400'],
      ['MEWM_ARTIFACT_DIR_MODE', '600'],
      ['MEWM_ARTIFACT_FILE_MODE', 'rw-------'],
    ] as const) {
      const error = (() => {
        try {
          resolveConfig({ cwd: root, env: { [variable]: value } });
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(isMewmError(error, 'InvalidConfig'), `${variable}=${value}`).toBe(true);
      expect((error as Error).message).toContain(variable);
    }
  });
});
