import { mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMewmError, type MewmError } from '../../src/core/errors';
import { reorientToRas } from '../../src/core/volume/orientation';
import { type Affine, type Volume } from '../../src/core/volume/volume';
import { listDicomSeries, readDicomSeries } from '../../src/io/dicom';
import { opaqueKey } from '../../src/io/input-label';
import { encodeNifti } from '../../src/io/nifti';
import { pythonAvailable, pythonSkipReason, runOracle } from '../oracles/python-oracle';
import { maxAbsDifference, maxAffineDifference, syntheticCt } from '../oracles/volume-oracle';

const workDir = mkdtempSync(join(tmpdir(), 'mewm-dicom-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const fakePatient = ['Doe', 'Jane', 'SECRET-PATIENT-123'];

/** Writes `volume` (HU) as a DICOM series with the pydicom oracle; returns the folder. */
function writeSeries(volume: Volume, folder: string, options: Record<string, unknown> = {}): string {
  const dir = join(workDir, folder);
  mkdirSync(dir, { recursive: true });
  const source = join(workDir, `${folder.replaceAll('/', '-')}-source.nii`);
  writeFileSync(source, encodeNifti(volume));
  runOracle('dicom_oracle.py', ['write', source, dir, JSON.stringify(options)]);
  return dir;
}

async function expectError(promise: Promise<unknown>, code: 'InvalidVolume' | 'InvalidInput', pattern: RegExp): Promise<MewmError> {
  try {
    await promise;
  } catch (error) {
    expect(isMewmError(error, code), String(error)).toBe(true);
    const message = (error as MewmError).message;
    expect(message).toMatch(pattern);
    for (const identifier of fakePatient) expect(message).not.toContain(identifier);
    expect(JSON.stringify((error as MewmError).details)).not.toContain(fakePatient[2]);
    return error as MewmError;
  }
  throw new Error(`expected ${code}`);
}

const rotation = (degrees: number) => {
  const a = (degrees * Math.PI) / 180;
  return [Math.cos(a), Math.sin(a)] as const;
};

const [c10, s10] = rotation(10);
const geometries: Array<{ name: string; affine: Affine }> = [
  // the common scanner layout: rows run patient right→left, columns anterior→posterior, slices upwards
  { name: 'axial LPS, slices ascending', affine: [-0.7, 0, 0, 120, 0, -0.8, 0, 100, 0, 0, 2.5, -50, 0, 0, 0, 1] },
  { name: 'axial LPS, slices stored descending', affine: [-0.7, 0, 0, 120, 0, -0.8, 0, 100, 0, 0, -2.5, 50, 0, 0, 0, 1] },
  // a coronal, slightly oblique acquisition: rows along R (rotated 10° towards A), columns downwards (I)
  { name: 'oblique coronal', affine: [0.75 * c10, 0, -2 * s10, -90, 0.75 * s10, 0, 2 * c10, 30, 0, -0.9, 0, 80, 0, 0, 0, 1] },
  // gantry tilt: slices step along z and also along y, so the k axis is not normal to the slices
  { name: 'axial with gantry tilt (sheared)', affine: [-0.7, 0, 0, 120, 0, -0.8, 0.45, 100, 0, 0, 2.5, -50, 0, 0, 0, 1] },
];

describe.skipIf(!pythonAvailable)(`readDicomSeries against pydicom-written series${pythonSkipReason}`, () => {
  const known = geometries.map(({ affine }, i) => syntheticCt([9, 7, 6], affine, 30 + i));

  it.each(geometries.map((g, i) => ({ ...g, index: i })))('$name: shuffled files, per-slice rescale → the known volume in world space', async ({ index }) => {
    const source = known[index]!;
    const dir = writeSeries(source, `geometry-${index}`);
    const volume = await readDicomSeries(dir);
    expect(volume.data).toBeInstanceOf(Float32Array);
    const ours = reorientToRas(volume);
    const expected = reorientToRas(source);
    expect(ours.shape).toEqual(expected.shape);
    // positions and directions travel as DS strings with 6 decimals
    expect(maxAffineDifference(ours.affine, expected.affine)).toBeLessThan(1e-5);
    expect(maxAbsDifference(ours, expected)).toBe(0);
  });

  it.each(['implicit', 'big-endian', 'deflated'])('%s transfer syntax', async (transferSyntax) => {
    const dir = writeSeries(known[0]!, `syntax-${transferSyntax}`, { transfer_syntax: transferSyntax });
    const volume = await readDicomSeries(dir);
    expect(maxAbsDifference(volume, known[0]!)).toBe(0);
    expect(maxAffineDifference(volume.affine, known[0]!.affine)).toBeLessThan(1e-5);
  });

  it('regression: a deflated series whose compressed bytes look like a broken sequence after the meta header', async () => {
    // With this seed, dicom-parser alone fails on two files ("item tag (FFFE,E000) not found"):
    // it peeks at the element after the meta header before inflating. mewm inflates first.
    const dir = writeSeries(known[0]!, 'deflated-peek', { transfer_syntax: 'deflated', seed: 3 });
    expect(maxAbsDifference(await readDicomSeries(dir), known[0]!)).toBe(0);
  });

  it('unsigned 12-bit stored values with junk in the unused high bits are masked to BitsStored', async () => {
    const dir = writeSeries(known[0]!, 'unsigned12', { unsigned12: true });
    expect(maxAbsDifference(await readDicomSeries(dir), known[0]!)).toBe(0);
  });

  it('several series in one folder: asks to choose by opaque key (no UIDs in the error), and reads the chosen one', async () => {
    const dir = writeSeries(known[0]!, 'two-series', { series_uid: '1.2.3.4.1', series_number: 3, prefix: 'a' });
    writeSeries(known[1]!, 'two-series', { series_uid: '1.2.3.4.2', series_number: 4, prefix: 'b' });
    const [first, second] = [opaqueKey('1.2.3.4.1'), opaqueKey('1.2.3.4.2')];
    const error = await expectError(
      readDicomSeries(dir),
      'InvalidInput',
      new RegExp(
        `^DICOM folder: holds 2 DICOM series; choose one with seriesInstanceUid \\(its UID or the key shown\\): .*${first} \\(series 3, CT, 6 files\\).*${second} \\(series 4, CT, 6 files\\)`,
      ),
    );
    expect(error.details['series']).toEqual(
      expect.arrayContaining([
        { key: first, seriesNumber: 3, modality: 'CT', files: 6 },
        { key: second, seriesNumber: 4, modality: 'CT', files: 6 },
      ]),
    );
    for (const text of [error.message, JSON.stringify(error.details)]) expect(text).not.toContain('1.2.3.4');
    const listed = await listDicomSeries(dir);
    expect(listed.map((s) => [s.seriesInstanceUid, s.key]).sort()).toEqual([
      ['1.2.3.4.1', first],
      ['1.2.3.4.2', second],
    ]);
    const chosen = await readDicomSeries(dir, { seriesInstanceUid: '1.2.3.4.2' });
    expect(maxAbsDifference(reorientToRas(chosen), reorientToRas(known[1]!))).toBe(0);
    const byKey = await readDicomSeries(dir, { seriesInstanceUid: second });
    expect(maxAbsDifference(reorientToRas(byKey), reorientToRas(known[1]!))).toBe(0);
    const missing = await expectError(
      readDicomSeries(dir, { seriesInstanceUid: '9.9.9.9' }),
      'InvalidInput',
      /^DICOM folder: no series matches the requested seriesInstanceUid; found /,
    );
    expect(missing.message).not.toContain('9.9.9.9');
  });

  it('JPEG-compressed series: a typed error saying so', async () => {
    const dir = writeSeries(known[0]!, 'jpeg', { transfer_syntax: 'jpeg' });
    await expectError(
      readDicomSeries(dir),
      'InvalidVolume',
      /^DICOM folder: file #\d+ of 6 \(sorted by name\) holds JPEG-compressed pixel data \(transfer syntax 1\.2\.840\.10008\.1\.2\.4\.50\).*decompress the series first/,
    );
  });

  it('a missing slice: uneven gaps are refused', async () => {
    const dir = writeSeries(known[0]!, 'gap', { shuffle: false });
    unlinkSync(join(dir, 'img0003.dcm'));
    await expectError(readDicomSeries(dir), 'InvalidVolume', /^DICOM folder: has uneven slice gaps \(from 2\.500 to 5\.000 mm\)/);
  });

  it('a duplicated slice is refused', async () => {
    const dir = writeSeries(known[0]!, 'duplicate', { shuffle: false, series_uid: '1.2.3.9' });
    writeSeries(known[0]!, 'duplicate', { shuffle: false, series_uid: '1.2.3.9', prefix: 'copy' });
    await expectError(readDicomSeries(dir), 'InvalidVolume', /two slices at the same position/);
  });

  it('a non-CT series is refused; stray non-DICOM files are skipped', async () => {
    const mr = writeSeries(known[0]!, 'mr', { modality: 'MR' });
    await expectError(readDicomSeries(mr), 'InvalidVolume', /^DICOM folder: is a MR series; mewm reads CT/);
    const dir = writeSeries(known[0]!, 'with-notes');
    writeFileSync(join(dir, 'notes.txt'), 'not dicom');
    expect(maxAbsDifference(await readDicomSeries(dir), known[0]!)).toBe(0);
    expect(readdirSync(dir)).toContain('notes.txt');
  });

  it('names a pseudonymous case id instead of the folder when asked', async () => {
    const dir = writeSeries(known[0]!, 'Doe_Jane/series', { transfer_syntax: 'jpeg' });
    await expectError(readDicomSeries(dir, { name: 'case-0007' }), 'InvalidVolume', /^case-0007: file #\d+ of \d+ \(sorted by name\) /);
  });

  it("privacy: neither a folder nor file names like the patient's reach the error", async () => {
    const dir = writeSeries(known[0]!, 'Doe_John', { transfer_syntax: 'jpeg', prefix: 'Doe_John_' });
    expect(readdirSync(dir).every((f) => f.startsWith('Doe_John_'))).toBe(true);
    const error = await expectError(readDicomSeries(dir), 'InvalidVolume', /^DICOM folder: file #\d+ of 6 \(sorted by name\) holds JPEG/);
    expect(`${error.message}${JSON.stringify(error.details)}`).not.toContain('Doe');
  });
});

describe('readDicomSeries without DICOM files', () => {
  it('an empty folder', async () => {
    const dir = join(workDir, 'empty');
    mkdirSync(dir);
    writeFileSync(join(dir, 'readme.txt'), 'nothing here');
    await expectError(readDicomSeries(dir), 'InvalidVolume', /^DICOM folder: holds no DICOM image files \(1 other files skipped\)/);
  });

  it('a folder that does not exist', async () => {
    await expectError(readDicomSeries(join(workDir, 'absent')), 'InvalidVolume', /^DICOM folder: cannot be listed as a folder \(ENOENT\)/);
  });

  it('a file with the DICM preamble but garbage after it', async () => {
    const dir = join(workDir, 'garbage');
    mkdirSync(dir);
    const bytes = new Uint8Array(400).fill(0xff);
    bytes.set([0x44, 0x49, 0x43, 0x4d], 128);
    writeFileSync(join(dir, 'x.dcm'), bytes);
    await expectError(readDicomSeries(dir), 'InvalidVolume', /^DICOM folder: file #1 of 1 \(sorted by name\) is not readable DICOM/);
  });
});
