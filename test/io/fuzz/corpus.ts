/**
 * The malformed-input corpus of test/io/ingest-fuzz.test.ts: NIfTI files, DICOM folders and
 * special files (FIFO, /dev/zero symlink, a folder named .nii.gz), each with the error code ingest
 * must answer. Seeded: the same seed writes the same bytes. File names carry a fake patient name
 * so that the test can check no message leaks a path or a name.
 *
 * Bombs are built without compressing gigabytes: gzip members concatenate (gunzip reads them
 * all), and raw deflate pieces written with Z_FULL_FLUSH are independent, non-final blocks that
 * concatenate too (closed by a final empty block).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { constants, deflateRawSync, gzipSync } from 'node:zlib';
import { Rng } from '../../../src/core/random';
import { makeVolume, type Volume } from '../../../src/core/volume/volume';
import { encodeNifti } from '../../../src/io/nifti';
import { concat, dataSetOf, dicomFile, type SliceSpec } from '../../support/dicom-writer';

export const FAKE_PATIENT = 'Doe^Jane_SECRET-PATIENT-123';

export interface FuzzInput {
  readonly id: string;
  readonly kind: 'nifti' | 'dicom';
  readonly path: string;
  /** The MewmError code ingest must throw, or 'ok' for the controls. 'typed' = any MewmError or a plausible volume (seeded mutations). */
  readonly expect: 'InvalidVolume' | 'InvalidInput' | 'ok' | 'typed';
  /** Substring the message must hold (what the refusal is about). */
  readonly because?: string;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** A small plausible CT (HU): air around a soft-tissue body, seeded noise. */
export function smallCt(seed: number, shape: [number, number, number] = [16, 16, 8]): Volume<Int16Array> {
  const rng = new Rng(seed);
  const [nx, ny, nz] = shape;
  const data = new Int16Array(nx * ny * nz);
  for (let z = 0, i = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++, i++) {
        const inside = (x - nx / 2) ** 2 + (y - ny / 2) ** 2 < (nx / 3) ** 2;
        data[i] = Math.round((inside ? 50 : -1000) + rng.range(-20, 20));
      }
  return makeVolume(data, shape, [1.5, 0, 0, -12, 0, 1.5, 0, -12, 0, 0, 3, -12, 0, 0, 0, 1]);
}

function niftiBytes(volume: Volume): Uint8Array {
  return encodeNifti(volume);
}

/** A NIfTI-1 header (352 bytes) with fields edited in place. */
function editHeader(bytes: Uint8Array, edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  // Uint8Array.prototype.slice copies even for a Node Buffer (whose own slice is a view).
  const copy = Uint8Array.prototype.slice.call(bytes);
  edit(new DataView(copy.buffer), copy);
  return copy;
}

const zeros64MiB = new Uint8Array(64 * MiB);
let gzipZeros: Uint8Array | undefined;
let deflateZeros: Uint8Array | undefined;

/** gzip members: the header first, then `bytes` of zeros in 64 MiB members. */
function gzipBomb(first: Uint8Array, bytes: number): Uint8Array {
  gzipZeros ??= gzipSync(zeros64MiB, { level: 9 });
  return concat([gzipSync(first), ...Array.from({ length: Math.ceil(bytes / (64 * MiB)) }, () => gzipZeros!)]);
}

/** A raw deflate stream of `first` followed by `bytes` of zeros. */
function deflateBomb(first: Uint8Array, bytes: number): Uint8Array {
  deflateZeros ??= deflateRawSync(zeros64MiB, { level: 9, finishFlush: constants.Z_FULL_FLUSH });
  const head = deflateRawSync(first, { finishFlush: constants.Z_FULL_FLUSH });
  return concat([head, ...Array.from({ length: Math.ceil(bytes / (64 * MiB)) }, () => deflateZeros!), deflateRawSync(new Uint8Array(0))]);
}

function sliceSpecs(count: number, seed: number, rows = 8, columns = 8, extra: Partial<SliceSpec> = {}): SliceSpec[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, k) => ({
    rows,
    columns,
    position: [0, 0, 2 * k] as [number, number, number],
    pixels: Array.from({ length: rows * columns }, (_, p) => (p % columns < 2 ? -1000 : 40 + Math.round(rng.range(-10, 10)))),
    ...extra,
  }));
}

function writeSeries(dir: string, files: readonly Uint8Array[]): string {
  mkdirSync(dir, { recursive: true });
  files.forEach((bytes, k) => writeFileSync(join(dir, `${FAKE_PATIENT}-${String(k).padStart(4, '0')}.dcm`), bytes));
  return dir;
}

/** Writes the corpus under `root`; returns what each input is and what ingest must answer. */
export function writeCorpus(root: string, seed: number): FuzzInput[] {
  mkdirSync(root, { recursive: true });
  const inputs: FuzzInput[] = [];
  const rng = new Rng(seed);
  const base = niftiBytes(smallCt(seed));
  const header = base.subarray(0, 352);
  let n = 0;
  const nifti = (id: string, bytes: Uint8Array, expect: FuzzInput['expect'], because?: string) => {
    const path = join(root, `${String(n++).padStart(2, '0')}-${FAKE_PATIENT}.nii${bytes[0] === 0x1f && bytes[1] === 0x8b ? '.gz' : ''}`);
    writeFileSync(path, bytes);
    inputs.push({ id, kind: 'nifti', path, expect, ...(because ? { because } : {}) });
  };
  const withVolume = (volume: Volume) => niftiBytes(volume);
  const ct = smallCt(seed);
  const f32 = (fill: (i: number, v: number) => number) =>
    makeVolume(
      Float32Array.from(ct.data, (v, i) => fill(i, v)),
      ct.shape,
      ct.affine,
    );

  // Controls: must be accepted (the checks do not refuse everything).
  nifti('control: valid .nii', base, 'ok');
  nifti('control: valid .nii.gz', gzipSync(base), 'ok');
  nifti(
    'control: int8 with scl_slope 10 (HU/10 stored, scaled back)',
    editHeader(
      withVolume(
        makeVolume(
          Int8Array.from(ct.data, (v) => Math.round(v / 10)),
          ct.shape,
          ct.affine,
        ),
      ),
      (v) => v.setFloat32(112, 10, true),
    ),
    'ok',
  );

  // Structure.
  nifti('empty file', new Uint8Array(0), 'InvalidVolume', 'shorter than a NIfTI-1 header');
  nifti(
    '10 random bytes',
    Uint8Array.from({ length: 10 }, () => rng.nextUint32() & 0xff),
    'InvalidVolume',
    'shorter than a NIfTI-1 header',
  );
  nifti('347-byte header', base.subarray(0, 347), 'InvalidVolume', 'shorter than a NIfTI-1 header');
  nifti(
    'wrong sizeof_hdr',
    editHeader(base, (v) => v.setInt32(0, 349, true)),
    'InvalidVolume',
    'not a NIfTI file',
  );
  nifti(
    'wrong magic',
    editHeader(base, (_v, b) => b.set([0x78, 0x78, 0x78], 344)),
    'InvalidVolume',
    'magic',
  );
  nifti(
    'two-file ni1',
    editHeader(base, (_v, b) => b.set([0x6e, 0x69, 0x31], 344)),
    'InvalidVolume',
    'two-file',
  );
  nifti(
    'dim[0] = 0',
    editHeader(base, (v) => v.setInt16(40, 0, true)),
    'InvalidVolume',
    'dim[0]',
  );
  nifti(
    'dim[0] = 9',
    editHeader(base, (v) => v.setInt16(40, 9, true)),
    'InvalidVolume',
    'dim[0]',
  );
  nifti(
    'negative dimension',
    editHeader(base, (v) => v.setInt16(42, -16, true)),
    'InvalidVolume',
    'non-positive',
  );
  nifti(
    '2D (one slice)',
    editHeader(base, (v) => v.setInt16(46, 1, true)),
    'InvalidVolume',
    '2D',
  );
  nifti(
    '4D (3 frames)',
    editHeader(base, (v) => {
      v.setInt16(40, 4, true);
      v.setInt16(48, 3, true);
    }),
    'InvalidVolume',
    '4D',
  );
  nifti(
    'RGB datatype',
    editHeader(base, (v) => v.setInt16(70, 128, true)),
    'InvalidVolume',
    'datatype',
  );
  nifti(
    'vox_offset 0',
    editHeader(base, (v) => v.setFloat32(108, 0, true)),
    'InvalidVolume',
    'vox_offset',
  );
  nifti(
    'vox_offset NaN',
    editHeader(base, (v) => v.setFloat32(108, Number.NaN, true)),
    'InvalidVolume',
    'vox_offset',
  );
  nifti('truncated data', base.subarray(0, base.length - 100), 'InvalidVolume', 'truncated');
  const gz = gzipSync(base);
  nifti('truncated gzip', gz.subarray(0, Math.floor(gz.length / 2)), 'InvalidVolume', 'gzip');
  nifti(
    'corrupt gzip body',
    editHeader(gz, (_v, b) => {
      for (let i = 40; i < b.length - 8; i += 7) b[i] = b[i]! ^ 0x5a;
    }),
    'InvalidVolume',
    '',
  );
  nifti(
    'gzip with a bad CRC',
    editHeader(gz, (_v, b) => {
      b[b.length - 6] = b[b.length - 6]! ^ 0xff;
    }),
    'InvalidVolume',
    'gzip',
  );

  // Bombs and impossible sizes.
  const small = editHeader(header, (v) => {
    v.setInt16(42, 64, true);
    v.setInt16(44, 64, true);
    v.setInt16(46, 64, true);
  });
  nifti('gzip bomb: 64^3 int16 declared, 2 GiB of zeros', gzipBomb(small, 2 * GiB), 'InvalidVolume', 'inflates past');
  const huge = editHeader(header, (v) => {
    v.setInt16(42, 4096, true);
    v.setInt16(44, 4096, true);
    v.setInt16(46, 4096, true);
  });
  nifti('header declares 4096^3 voxels (uncompressed, 352 bytes)', huge, 'InvalidVolume', 'ingest limit');
  nifti('header declares 4096^3 voxels (gzip bomb behind it)', gzipBomb(huge, 1 * GiB), 'InvalidVolume', 'ingest limit');
  const wide = editHeader(header, (v) => {
    v.setInt16(42, 32767, true);
    v.setInt16(44, 32767, true);
    v.setInt16(46, 2, true);
    v.setInt16(70, 64, true);
    v.setInt16(72, 64, true);
  });
  nifti('header declares 32767x32767x2 float64 (16 GiB)', wide, 'InvalidVolume', 'ingest limit');
  const nifti2 = new Uint8Array(544);
  {
    const v = new DataView(nifti2.buffer);
    v.setInt32(0, 540, true);
    nifti2.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    v.setInt16(12, 4, true);
    v.setInt16(14, 16, true);
    [3, 2 ** 40, 2 ** 40, 2 ** 40, 1, 1, 1, 1].forEach((d, i) => v.setBigInt64(16 + 8 * i, BigInt(d), true));
    v.setBigInt64(168, 544n, true);
  }
  nifti('NIfTI-2 declaring 2^40 per axis', nifti2, 'InvalidVolume', '');

  // Geometry.
  const noSform = (edit: (v: DataView) => void) =>
    editHeader(base, (v) => {
      v.setInt16(254, 0, true);
      v.setInt16(252, 0, true);
      edit(v);
    });
  nifti(
    'NaN spacing',
    noSform((v) => v.setFloat32(80, Number.NaN, true)),
    'InvalidVolume',
    'NaN',
  );
  nifti(
    'zero spacing',
    noSform((v) => v.setFloat32(84, 0, true)),
    'InvalidVolume',
    '0 mm',
  );
  nifti(
    'spacing 1e6 mm',
    noSform((v) => v.setFloat32(88, 1e6, true)),
    'InvalidVolume',
    'plausible',
  );
  nifti(
    'sform with NaN',
    editHeader(base, (v) => v.setFloat32(292, Number.NaN, true)),
    'InvalidVolume',
    '',
  );
  const shear = (degrees: number) =>
    editHeader(base, (v) => {
      const a = (degrees * Math.PI) / 180;
      // column j leans towards column i: 1.5 mm · (sin a, cos a, 0)
      v.setFloat32(284, 1.5 * Math.sin(a), true);
      v.setFloat32(300, 1.5 * Math.cos(a), true);
    });
  nifti('sform sheared 45°', shear(45), 'InvalidVolume', 'sheared');
  nifti('sform degenerate (two parallel axes)', shear(90), 'InvalidVolume', '');
  nifti('control: sform sheared 10° (gantry-tilt-like)', shear(10), 'ok');

  // Values.
  nifti('all-NaN float32', withVolume(f32(() => Number.NaN)), 'InvalidVolume', 'NaN');
  nifti('one NaN voxel', withVolume(f32((i, v) => (i === 37 ? Number.NaN : v))), 'InvalidVolume', 'NaN');
  nifti('one +Inf voxel', withVolume(f32((i, v) => (i === 11 ? Number.POSITIVE_INFINITY : v))), 'InvalidVolume', 'infinite');
  nifti('all-constant CT', withVolume(makeVolume(new Int16Array(ct.data.length), ct.shape, ct.affine)), 'InvalidVolume', 'all-constant');
  nifti(
    'uint8 CT (0..255)',
    withVolume(
      makeVolume(
        Uint8Array.from(ct.data, (v) => Math.max(0, Math.min(255, (v + 1000) / 8))),
        ct.shape,
        ct.affine,
      ),
    ),
    'InvalidVolume',
    'not Hounsfield',
  );
  nifti(
    'int8 "HU/10" without scaling',
    withVolume(
      makeVolume(
        Int8Array.from(ct.data, (v) => Math.max(-128, Math.min(127, Math.round(v / 10)))),
        ct.shape,
        ct.affine,
      ),
    ),
    'InvalidVolume',
    'HU/10',
  );
  nifti('normalised float [0, 1]', withVolume(f32((_i, v) => (v + 1000) / 4000)), 'InvalidVolume', 'not Hounsfield');
  nifti(
    'uint16 without intercept (air at 0)',
    withVolume(
      makeVolume(
        Uint16Array.from(ct.data, (v) => v + 1024),
        ct.shape,
        ct.affine,
      ),
    ),
    'InvalidVolume',
    'not Hounsfield',
  );
  nifti('values up to 1e30', withVolume(f32((i, v) => (i === 5 ? 1e30 : v))), 'InvalidVolume', 'outside');

  // Seeded mutations of header fields: any answer must be typed (or a volume that passes every rule).
  const fields = [40, 42, 44, 46, 70, 72, 76, 80, 84, 88, 108, 112, 116, 252, 254, 280, 296, 312];
  for (let m = 0; m < 8; m++) {
    const offset = fields[rng.nextUint32() % fields.length]!;
    const value = rng.nextUint32();
    nifti(
      `seeded mutation ${m} (offset ${offset})`,
      editHeader(base, (v) => v.setUint32(offset, value, true)),
      'typed',
    );
  }

  // Special files.
  const fifo = join(root, `fifo-${FAKE_PATIENT}.nii.gz`);
  execFileSync('mkfifo', [fifo]);
  inputs.push({ id: 'FIFO named .nii.gz', kind: 'nifti', path: fifo, expect: 'InvalidVolume', because: 'FIFO' });
  const devZero = join(root, `zero-${FAKE_PATIENT}.nii.gz`);
  symlinkSync('/dev/zero', devZero);
  inputs.push({ id: '.nii.gz symlinked to /dev/zero', kind: 'nifti', path: devZero, expect: 'InvalidVolume', because: 'character device' });
  const folderNii = join(root, `folder-${FAKE_PATIENT}.nii.gz`);
  mkdirSync(folderNii);
  inputs.push({ id: 'a folder named .nii.gz', kind: 'nifti', path: folderNii, expect: 'InvalidVolume', because: 'folder' });
  inputs.push({ id: 'missing file', kind: 'nifti', path: join(root, `missing-${FAKE_PATIENT}.nii.gz`), expect: 'InvalidVolume', because: 'ENOENT' });

  // DICOM folders.
  const dicom = (id: string, files: readonly Uint8Array[], expect: FuzzInput['expect'], because?: string) => {
    const path = writeSeries(join(root, `dicom-${String(n++).padStart(2, '0')}-${FAKE_PATIENT}`), files);
    inputs.push({ id, kind: 'dicom', path, expect, ...(because ? { because } : {}) });
  };
  dicom('control: valid 4-slice series', sliceSpecs(4, seed).map(dicomFile), 'ok');
  dicom(
    'control: valid deflated series',
    sliceSpecs(4, seed).map((s) => dicomFile({ ...s, deflate: true })),
    'ok',
  );
  dicom('empty folder', [], 'InvalidVolume', 'no DICOM image files');
  dicom(
    'only non-DICOM files',
    [new TextEncoder().encode('not dicom'), Uint8Array.from({ length: 300 }, () => rng.nextUint32() & 0xff)],
    'InvalidVolume',
    'no DICOM image files',
  );
  dicom('single slice', sliceSpecs(1, seed).map(dicomFile), 'InvalidVolume', 'single slice');
  dicom(
    'truncated pixel data',
    sliceSpecs(3, seed).map((s) => dicomFile({ ...s, pixelBytes: new Uint8Array(10) })),
    'InvalidVolume',
    'pixel data',
  );
  dicom(
    'JPEG transfer syntax',
    sliceSpecs(3, seed).map((s) => dicomFile({ ...s, transferSyntax: '1.2.840.10008.1.2.4.50' })),
    'InvalidVolume',
    'JPEG',
  );
  dicom('MR modality', sliceSpecs(3, seed, 8, 8, { modality: 'MR' }).map(dicomFile), 'InvalidVolume', 'MR');
  dicom(
    'uint8 CT (no rescale)',
    sliceSpecs(3, seed, 8, 8, { bitsAllocated: 8 }).map((s) => dicomFile({ ...s, pixels: Array.from(s.pixels, (p) => Math.max(0, p)) })),
    'InvalidVolume',
    'not Hounsfield',
  );
  dicom(
    'all-constant series',
    sliceSpecs(3, seed).map((s) => dicomFile({ ...s, pixels: new Array(64).fill(-1000) })),
    'InvalidVolume',
    'all-constant',
  );
  dicom(
    'corrupt deflate stream',
    sliceSpecs(3, seed).map((s) => dicomFile({ ...s, deflatedDataSet: Uint8Array.from({ length: 200 }, () => rng.nextUint32() & 0xff) })),
    'InvalidVolume',
    '',
  );
  const bombHead = (spec: SliceSpec) => {
    const ds = dataSetOf({ ...spec, pixelBytes: new Uint8Array(0) });
    // The pixel data element (last, OW long form) claims 1 GiB; zeros follow in the deflate stream.
    new DataView(ds.buffer, ds.byteOffset).setUint32(ds.length - 4, GiB, true);
    return ds;
  };
  dicom(
    'deflated bomb: 3 files of 1 GiB each (~3 MB folder)',
    sliceSpecs(3, seed).map((s) => dicomFile({ ...s, deflatedDataSet: deflateBomb(bombHead(s), GiB) })),
    'InvalidVolume',
    'inflates past',
  );
  dicom(
    'rows x columns x slices above the voxel limit (65535^2 x 2, pixel data absent)',
    [0, 1].map((k) => dicomFile({ rows: 65535, columns: 65535, position: [0, 0, 2 * k], pixels: [], pixelBytes: new Uint8Array(2) })),
    'InvalidVolume',
    'ingest limit',
  );
  {
    const dir = join(root, `dicom-${String(n++).padStart(2, '0')}-${FAKE_PATIENT}`);
    writeSeries(dir, sliceSpecs(3, seed).map(dicomFile));
    execFileSync('mkfifo', [join(dir, `${FAKE_PATIENT}-fifo.dcm`)]);
    symlinkSync('/dev/zero', join(dir, `${FAKE_PATIENT}-zero.dcm`));
    inputs.push({ id: 'series folder holding a FIFO and a /dev/zero symlink (skipped: not regular files)', kind: 'dicom', path: dir, expect: 'ok' });
  }
  {
    const dir = join(root, `dicom-${String(n++).padStart(2, '0')}-${FAKE_PATIENT}`);
    mkdirSync(dir);
    for (let k = 0; k < 4100; k++) writeFileSync(join(dir, `f${k}`), '');
    inputs.push({ id: '4,100 files (above the file limit)', kind: 'dicom', path: dir, expect: 'InvalidVolume', because: 'files' });
  }
  const fifoDir = join(root, `fifo-dir-${FAKE_PATIENT}`);
  execFileSync('mkfifo', [fifoDir]);
  inputs.push({ id: 'a FIFO given as the DICOM folder', kind: 'dicom', path: fifoDir, expect: 'InvalidVolume', because: 'folder' });
  return inputs;
}
