import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { isMewmError, type MewmError } from '../../src/core/errors';
import { makeVolume, type Volume, type VoxelArray } from '../../src/core/volume/volume';
import { decodeNifti, encodeNifti, readNifti, writeNifti } from '../../src/io/nifti';
import { pythonAvailable, pythonSkipReason, runOracle } from '../oracles/python-oracle';

const workDir = mkdtempSync(join(tmpdir(), 'mewm-nifti-'));
afterAll(() => rmSync(workDir, { recursive: true, force: true }));

const shape = [5, 4, 3] as const;
const count = 60;
const lpsOblique = (() => {
  const c = Math.cos(0.3);
  const s = Math.sin(0.3);
  return [-0.8 * c, 0.7 * s, 0, 101.5, -0.8 * s, -0.7 * c, 0, 20.25, 0, 0, 2.5, -30, 0, 0, 0, 1];
})();

const dtypeCases: Array<{ name: string; data: VoxelArray }> = [
  { name: 'int16', data: Int16Array.from({ length: count }, (_, i) => i * 37 - 1024) },
  { name: 'uint8', data: Uint8Array.from({ length: count }, (_, i) => i % 3) },
  { name: 'float32', data: Float32Array.from({ length: count }, (_, i) => i * 0.1 - 3.3) },
  { name: 'uint16', data: Uint16Array.from({ length: count }, (_, i) => i * 1000) },
  { name: 'int32', data: Int32Array.from({ length: count }, (_, i) => i * 100000 - 7) },
  { name: 'float64', data: Float64Array.from({ length: count }, (_, i) => i / 7) },
  { name: 'int8', data: Int8Array.from({ length: count }, (_, i) => i - 30) },
];

const float32 = (values: readonly number[]) => Array.from(Float32Array.from(values));

function expectMewmError(run: () => unknown, pattern: RegExp): MewmError {
  try {
    run();
  } catch (error) {
    expect(isMewmError(error, 'InvalidVolume'), String(error)).toBe(true);
    expect((error as MewmError).message).toMatch(pattern);
    return error as MewmError;
  }
  throw new Error('expected an InvalidVolume error');
}

describe('NIfTI round trip in TypeScript', () => {
  it.each(dtypeCases)('$name keeps type, values, shape and affine (float32 header precision)', ({ data }) => {
    for (const gzip of [false, true]) {
      const volume = makeVolume(data, shape, lpsOblique);
      const decoded = decodeNifti(encodeNifti(volume, { gzip }));
      expect(decoded.data.constructor).toBe(data.constructor);
      expect(Array.from(decoded.data)).toEqual(Array.from(data));
      expect(decoded.shape).toEqual(shape);
      expect(decoded.affine).toEqual([...float32(lpsOblique.slice(0, 12)), 0, 0, 0, 1]);
    }
  });

  it('gives identical bytes for the same volume (deterministic gzip)', () => {
    const volume = makeVolume(dtypeCases[0]!.data, shape, lpsOblique);
    expect(Buffer.from(encodeNifti(volume, { gzip: true })).equals(Buffer.from(encodeNifti(volume, { gzip: true })))).toBe(true);
  });

  it('writes .nii uncompressed and .nii.gz compressed by extension, and reads both', async () => {
    const volume = makeVolume(dtypeCases[0]!.data, shape, lpsOblique);
    await writeNifti(join(workDir, 'plain.nii'), volume);
    await writeNifti(join(workDir, 'packed.nii.gz'), volume);
    expect(readFileSync(join(workDir, 'plain.nii'))[344]).toBe('n'.charCodeAt(0));
    expect(readFileSync(join(workDir, 'packed.nii.gz'))[0]).toBe(0x1f);
    for (const file of ['plain.nii', 'packed.nii.gz']) {
      expect(Array.from((await readNifti(join(workDir, file))).data)).toEqual(Array.from(volume.data));
    }
    await expect(writeNifti(join(workDir, 'wrong.img'), volume)).rejects.toMatchObject({ code: 'InvalidInput' });
  });
});

/** A valid uncompressed file whose header the test then damages. */
function damaged(edit: (view: DataView, bytes: Uint8Array) => void, data: VoxelArray = dtypeCases[0]!.data): Uint8Array {
  const bytes = encodeNifti(makeVolume(data, shape, lpsOblique));
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), bytes);
  return bytes;
}

describe('NIfTI bad input gives InvalidVolume naming the file and the problem', () => {
  it("truncated .nii.gz: named by the caller's label, never by the path", async () => {
    const whole = encodeNifti(makeVolume(dtypeCases[0]!.data, shape, lpsOblique), { gzip: true });
    const path = join(workDir, 'case-0042.nii.gz');
    writeFileSync(path, whole.subarray(0, Math.floor(whole.length / 2)));
    await expect(readNifti(path, { name: 'case case-0042 CT' })).rejects.toSatisfy((error: unknown) => {
      const e = error as MewmError;
      return isMewmError(e, 'InvalidVolume') && /^case case-0042 CT: is a truncated or corrupt gzip/.test(e.message) && !e.message.includes(workDir);
    });
  });

  it('truncated voxel data in a .nii', () => {
    const whole = encodeNifti(makeVolume(dtypeCases[0]!.data, shape, lpsOblique));
    expectMewmError(() => decodeNifti(whole.subarray(0, whole.length - 10), { name: 'short.nii' }), /^short\.nii: is truncated/);
  });

  it('wrong magic', () => {
    expectMewmError(
      () =>
        decodeNifti(
          damaged((_, bytes) => bytes.set([0x78, 0x79, 0x7a], 344)),
          { name: 'x.nii' },
        ),
      /wrong NIfTI magic/,
    );
  });

  it('not a NIfTI at all (sizeof_hdr)', () => {
    expectMewmError(() => decodeNifti(gzipSync(Buffer.alloc(1000, 7)), { name: 'junk.nii.gz' }), /^junk\.nii\.gz: is not a NIfTI file/);
    expectMewmError(() => decodeNifti(new Uint8Array(20), { name: 'tiny.nii' }), /shorter than a NIfTI-1 header/);
  });

  it('NaN-only volume', () => {
    expectMewmError(
      () => decodeNifti(encodeNifti(makeVolume(new Float32Array(count).fill(Number.NaN), shape, lpsOblique)), { name: 'nan.nii' }),
      /^nan\.nii: every voxel is NaN/,
    );
  });

  it('2D file', () => {
    expectMewmError(
      () =>
        decodeNifti(
          damaged((view) => view.setInt16(40, 2, true)),
          { name: 'flat.nii' },
        ),
      /^flat\.nii: is 2D/,
    );
    expectMewmError(() => decodeNifti(encodeNifti(makeVolume(new Int16Array(20), [5, 4, 1], lpsOblique)), { name: 'slice.nii' }), /is 2D/);
  });

  it('4D file with several time points', () => {
    expectMewmError(
      () =>
        decodeNifti(
          damaged((view) => {
            view.setInt16(40, 4, true);
            view.setInt16(40 + 2 * 4, 3, true);
          }),
          { name: 'dyn.nii' },
        ),
      /reads 3D volumes only/,
    );
  });

  const spacingCases: Array<{ problem: string; value: number; pattern: RegExp }> = [
    { problem: 'zero', value: 0, pattern: /spacing along axis 2 is 0 mm/ },
    { problem: 'NaN', value: Number.NaN, pattern: /spacing along axis 2 is NaN/ },
    { problem: 'huge', value: 80, pattern: /spacing along axis 2 is 80 mm, above the plausible 50 mm/ },
  ];
  it.each(spacingCases)('absurd sform spacing: $problem', ({ value, pattern }) => {
    expectMewmError(
      () =>
        decodeNifti(
          damaged((view) => view.setFloat32(280 + 4 * (4 * 2 + 2), value, true)),
          { name: 'bad.nii' },
        ),
      pattern,
    );
  });

  it.each([...spacingCases, { problem: 'negative', value: -2, pattern: /spacing along axis 2 is negative/ }])(
    'absurd qform pixdim: $problem',
    ({ value, pattern }) => {
      const bytes = damaged((view) => {
        view.setInt16(254, 0, true); // no sform: the qform and pixdim decide
        view.setFloat32(76 + 4 * 3, value, true);
      });
      expectMewmError(() => decodeNifti(bytes, { name: 'bad.nii' }), pattern);
    },
  );

  it('unsupported datatype', () => {
    expectMewmError(
      () =>
        decodeNifti(
          damaged((view) => view.setInt16(70, 128, true)),
          { name: 'rgb.nii' },
        ),
      /datatype 128/,
    );
  });

  it('a missing file', async () => {
    await expect(readNifti(join(workDir, 'absent.nii.gz'))).rejects.toMatchObject({ code: 'InvalidVolume', message: 'NIfTI input: cannot be read (ENOENT)' });
  });
});

describe("privacy: a user's file name never reaches an error (src/io/input-label.ts)", () => {
  /** Every text an error carries where it can be logged or stored: message, details, causes. */
  const errorText = (error: unknown): string => {
    const parts: string[] = [];
    for (let e = error as (Error & { details?: unknown }) | undefined, depth = 0; e && depth < 8; e = e.cause as typeof e, depth++)
      parts.push(e.message, JSON.stringify(e.details ?? {}), String(e.stack ?? ''));
    return parts.join('\n');
  };

  it.each([
    ['missing', () => {}],
    ['corrupt gzip', (path: string) => writeFileSync(path, gzipSync(Buffer.alloc(1000, 7)).subarray(0, 30))],
    ['not a NIfTI', (path: string) => writeFileSync(path, gzipSync(Buffer.alloc(1000, 7)))],
  ])('%s Doe_John.nii.gz: the error says "NIfTI input", not the name', async (_, write) => {
    const path = join(workDir, 'Doe_John.nii.gz');
    rmSync(path, { force: true });
    write(path);
    const error = await readNifti(path).then(
      () => null,
      (e: unknown) => e,
    );
    expect(isMewmError(error, 'InvalidVolume'), String(error)).toBe(true);
    expect((error as MewmError).message).toMatch(/^NIfTI input: /);
    expect(errorText(error)).not.toContain('Doe');
    expect(errorText(error)).not.toContain(workDir);
  });

  it("names mewm synth's own files (pseudonymous by construction)", async () => {
    const dir = join(workDir, 'SYN-3-0007');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'pre-ct.nii.gz'), Buffer.from('junk'));
    await expect(readNifti(join(dir, 'pre-ct.nii.gz'))).rejects.toMatchObject({ message: expect.stringMatching(/^pre-ct\.nii\.gz: /) });
  });

  it('an output path with a wrong extension is not named either', async () => {
    await expect(writeNifti(join(workDir, 'Doe_John.img'), makeVolume(dtypeCases[0]!.data, shape, lpsOblique))).rejects.toMatchObject({
      code: 'InvalidInput',
      message: 'the output path: a NIfTI path must end in .nii or .nii.gz',
    });
  });
});

interface OracleDescription {
  shape: number[];
  affine: number[];
  stored_dtype: string;
  qform: number[];
  qform_code: number;
  sform_code: number;
  xyzt_units: number;
}

function readOracle(stem: string): { description: OracleDescription; values: Float64Array } {
  const description = JSON.parse(readFileSync(`${stem}.json`, 'utf8')) as OracleDescription;
  const raw = readFileSync(`${stem}.f64`);
  return { description, values: new Float64Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)) };
}

function expectClose(actual: readonly number[], expected: readonly number[], tolerance: number): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((value, i) => expect(Math.abs(value - expected[i]!), `element ${i}: ${value} vs ${expected[i]}`).toBeLessThanOrEqual(tolerance));
}

describe.skipIf(!pythonAvailable)(`NIfTI against nibabel${pythonSkipReason}`, () => {
  const typeNames: Record<string, string> = {
    Int16Array: 'int16',
    Uint8Array: 'uint8',
    Float32Array: 'float32',
    Uint16Array: 'uint16',
    Int32Array: 'int32',
    Float64Array: 'float64',
    Int8Array: 'int8',
  };

  it.each(dtypeCases)('nibabel reads our $name file identically (affine, shape, dtype, values, both xforms)', ({ data }) => {
    const path = join(workDir, `ours-${typeNames[data.constructor.name]}.nii.gz`);
    writeFileSync(path, encodeNifti(makeVolume(data, shape, lpsOblique), { gzip: true }));
    runOracle('nifti_oracle.py', ['describe', path, join(workDir, 'described')]);
    const { description, values } = readOracle(join(workDir, 'described'));
    expect(description.shape).toEqual([...shape]);
    expect(description.stored_dtype).toBe(typeNames[data.constructor.name]);
    expect(description.affine).toEqual([...float32(lpsOblique.slice(0, 12)), 0, 0, 0, 1]);
    expect([description.qform_code, description.sform_code, description.xyzt_units]).toEqual([1, 1, 2]);
    // The qform stores a float32 quaternion: its affine matches to float32 rounding.
    expectClose(description.qform, lpsOblique, 1e-5);
    expect(Array.from(values)).toEqual(Array.from(data, Number));
  });

  describe('we read nibabel-written files identically', () => {
    const casesDir = join(workDir, 'cases');
    if (pythonAvailable) runOracle('nifti_oracle.py', ['make-cases', casesDir]);
    const expectedType: Record<string, string> = {
      ras_int16: 'Int16Array',
      lps_int16: 'Int16Array',
      las_float32: 'Float32Array',
      permuted_uint8: 'Uint8Array',
      scaled_int16: 'Float32Array',
      uint16: 'Uint16Array',
      int32: 'Int32Array',
      float64: 'Float64Array',
      bigendian_int16: 'Int16Array',
      oblique_qform_only: 'Int16Array',
      sform_wins: 'Int16Array',
      no_xform: 'Int16Array',
      nifti2_lps_int16: 'Int16Array',
      nifti2_oblique_qform_only: 'Float32Array',
    };
    it.each(Object.entries(expectedType))('%s', async (stem, typeName) => {
      const gzipped = ['ras_int16', 'las_float32', 'permuted_uint8', 'scaled_int16', 'int32', 'oblique_qform_only', 'sform_wins', 'nifti2_lps_int16'];
      const file = gzipped.includes(stem) ? `${stem}.nii.gz` : `${stem}.nii`;
      const volume: Volume = await readNifti(join(casesDir, file));
      const { description, values } = readOracle(join(casesDir, stem));
      expect(volume.data.constructor.name).toBe(typeName);
      expect([...volume.shape]).toEqual(description.shape);
      expectClose(volume.affine, description.affine, 1e-6);
      // Scaled values are float32 here, float64 in nibabel: equal to float32 rounding.
      const tolerance = stem === 'scaled_int16' ? 1e-3 : 0;
      expectClose(Array.from(volume.data, Number), Array.from(values), tolerance);
    });
  });
});
