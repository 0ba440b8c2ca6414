/**
 * NIfTI read (NIfTI-1 and NIfTI-2) and write (NIfTI-1), .nii and .nii.gz, into and from the one
 * `Volume` type.
 *
 * Reading follows nibabel exactly, so that a file means the same thing to mewm as to the
 * Python tools: the affine is the sform when `sform_code > 0`, else the qform when
 * `qform_code > 0`, else nibabel's fallback from pixdim (x flipped, origin at the grid centre).
 * `scl_slope`/`scl_inter` are applied when the slope is finite and non-zero and the pair is not
 * the identity; scaled data becomes a Float32Array. Either byte order is read.
 *
 * Writing emits a little-endian single-file NIfTI-1 with both sform and qform set from the
 * volume's affine (code 1, scanner anatomical), `xyzt_units` = mm, no scaling, and gzip when
 * asked (the gzip header carries no timestamp: the same volume gives the same bytes).
 */
import { rename, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { MewmError } from '../core/errors';
import { assertPlausibleSpacing, assertPlausibleVolume, invalidVolume } from '../core/volume/validate';
import { makeVolume, type Affine, type Volume, type VoxelArray } from '../core/volume/volume';
import { assertVoxelBudget, boundedGunzip, DEFAULT_INGEST_LIMITS, gunzipPrefix, readRegularFile, type IngestLimits } from './bounded-read';
import { inputLabel } from './input-label';

const headerSize = 348;
const nifti2HeaderSize = 540;
const dataOffset = 352;

/** NIfTI datatype codes mewm reads; uint32 is widened to Float64Array (no Uint32 voxel type). */
const datatypes = {
  2: { name: 'uint8', bytes: 1 },
  4: { name: 'int16', bytes: 2 },
  8: { name: 'int32', bytes: 4 },
  16: { name: 'float32', bytes: 4 },
  64: { name: 'float64', bytes: 8 },
  256: { name: 'int8', bytes: 1 },
  512: { name: 'uint16', bytes: 2 },
  768: { name: 'uint32', bytes: 4 },
} as const;
type DatatypeCode = keyof typeof datatypes;

export interface DecodeNiftiOptions {
  /** Shown in error messages: a role and pseudonymous case id (`case X CT`), never a user's file name (src/io/input-label.ts). */
  readonly name?: string;
  /** What one input may cost (src/io/bounded-read.ts); default `DEFAULT_INGEST_LIMITS`. */
  readonly limits?: IngestLimits;
}

/** Bytes a decompressed stream may hold past the voxels its header declares (then it is refused as corrupt or a bomb). */
const trailingAllowance = 1024 ** 2;

export interface EncodeNiftiOptions {
  readonly gzip?: boolean;
  /** zlib level 0–9 (default 6). */
  readonly level?: number;
}

/** Parsed header fields mewm uses, in the file's units. */
export interface NiftiHeader {
  readonly littleEndian: boolean;
  readonly dim: readonly number[];
  readonly datatype: number;
  readonly bitpix: number;
  readonly pixdim: readonly number[];
  readonly voxOffset: number;
  readonly sclSlope: number;
  readonly sclInter: number;
  readonly xyztUnits: number;
  readonly qformCode: number;
  readonly sformCode: number;
  readonly quatern: readonly [number, number, number];
  readonly qoffset: readonly [number, number, number];
  readonly srow: readonly number[];
  readonly magic: string;
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

export function parseNiftiHeader(bytes: Uint8Array, name = '<bytes>'): NiftiHeader {
  if (bytes.length < headerSize) throw invalidVolume(name, `is ${bytes.length} bytes, shorter than a NIfTI-1 header (348 bytes)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const littleEndian of [true, false]) {
    if (view.getInt32(0, littleEndian) === headerSize) return parseNifti1(bytes, view, littleEndian, name);
    if (view.getInt32(0, littleEndian) === nifti2HeaderSize) return parseNifti2(bytes, view, littleEndian, name);
  }
  throw invalidVolume(name, 'is not a NIfTI file (sizeof_hdr is neither 348 nor 540)');
}

function parseNifti1(bytes: Uint8Array, view: DataView, littleEndian: boolean, name: string): NiftiHeader {
  const magic = String.fromCharCode(bytes[344]!, bytes[345]!, bytes[346]!);
  if (magic !== 'n+1' && magic !== 'ni1') throw invalidVolume(name, `has a wrong NIfTI magic ${JSON.stringify(magic)} (expected "n+1")`);
  if (magic === 'ni1') throw invalidVolume(name, 'is a two-file NIfTI (.hdr/.img), which mewm does not read; save it as a single .nii or .nii.gz');
  const i16 = (offset: number) => view.getInt16(offset, littleEndian);
  const f32 = (offset: number) => view.getFloat32(offset, littleEndian);
  return {
    littleEndian,
    dim: Array.from({ length: 8 }, (_, i) => i16(40 + 2 * i)),
    datatype: i16(70),
    bitpix: i16(72),
    pixdim: Array.from({ length: 8 }, (_, i) => f32(76 + 4 * i)),
    voxOffset: f32(108),
    sclSlope: f32(112),
    sclInter: f32(116),
    xyztUnits: bytes[123]!,
    qformCode: i16(252),
    sformCode: i16(254),
    quatern: [f32(256), f32(260), f32(264)],
    qoffset: [f32(268), f32(272), f32(276)],
    srow: Array.from({ length: 12 }, (_, i) => f32(280 + 4 * i)),
    magic,
  };
}

/** NIfTI-2: the same fields as NIfTI-1 with 64-bit integers and doubles, in another layout. */
function parseNifti2(bytes: Uint8Array, view: DataView, littleEndian: boolean, name: string): NiftiHeader {
  if (bytes.length < nifti2HeaderSize) throw invalidVolume(name, `is ${bytes.length} bytes, shorter than a NIfTI-2 header (540 bytes)`);
  const magic = String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!);
  if (magic !== 'n+2' && magic !== 'ni2') throw invalidVolume(name, `has a wrong NIfTI-2 magic ${JSON.stringify(magic)} (expected "n+2")`);
  if (magic === 'ni2') throw invalidVolume(name, 'is a two-file NIfTI-2 (.hdr/.img), which mewm does not read; save it as a single .nii or .nii.gz');
  const i64 = (offset: number) => Number(view.getBigInt64(offset, littleEndian));
  const f64 = (offset: number) => view.getFloat64(offset, littleEndian);
  return {
    littleEndian,
    dim: Array.from({ length: 8 }, (_, i) => i64(16 + 8 * i)),
    datatype: view.getInt16(12, littleEndian),
    bitpix: view.getInt16(14, littleEndian),
    pixdim: Array.from({ length: 8 }, (_, i) => f64(104 + 8 * i)),
    voxOffset: i64(168),
    sclSlope: f64(176),
    sclInter: f64(184),
    xyztUnits: view.getInt32(500, littleEndian),
    qformCode: view.getInt32(344, littleEndian),
    sformCode: view.getInt32(348, littleEndian),
    quatern: [f64(352), f64(360), f64(368)],
    qoffset: [f64(376), f64(384), f64(392)],
    srow: Array.from({ length: 12 }, (_, i) => f64(400 + 8 * i)),
    magic,
  };
}

/** Rotation matrix (row-major 3x3) of a unit quaternion (w, x, y, z), as nibabel's quat2mat. */
function quaternionToMatrix(w: number, x: number, y: number, z: number): number[] {
  const n = w * w + x * x + y * y + z * z;
  if (n < 1e-12) return [1, 0, 0, 0, 1, 0, 0, 0, 1];
  const s = 2 / n;
  const X = x * s,
    Y = y * s,
    Z = z * s;
  const wX = w * X,
    wY = w * Y,
    wZ = w * Z;
  const xX = x * X,
    xY = x * Y,
    xZ = x * Z;
  const yY = y * Y,
    yZ = y * Z,
    zZ = z * Z;
  return [1 - (yY + zZ), xY - wZ, xZ + wY, xY + wZ, 1 - (xX + zZ), yZ - wX, xZ - wY, yZ + wX, 1 - (xX + yY)];
}

/** The voxel-to-RAS affine of a header, chosen and computed the nibabel way. */
export function niftiAffine(header: NiftiHeader, name = '<bytes>'): { affine: number[]; source: 'sform' | 'qform' | 'pixdim' } {
  const zooms = [header.pixdim[1]!, header.pixdim[2]!, header.pixdim[3]!];
  if (header.sformCode > 0) {
    return { affine: [...header.srow, 0, 0, 0, 1], source: 'sform' };
  }
  assertPlausibleSpacing(zooms, name);
  if (header.qformCode > 0) {
    const [b, c, d] = header.quatern;
    const w2 = 1 - (b * b + c * c + d * d);
    const threshold = 3 * 1.1920929e-7;
    if (w2 < -threshold) throw invalidVolume(name, 'has a qform quaternion of norm above 1');
    const a = w2 < 0 ? 0 : Math.sqrt(w2);
    const rotation = quaternionToMatrix(a, b, c, d);
    const qfac = header.pixdim[0] === -1 ? -1 : 1;
    const scale = [zooms[0]!, zooms[1]!, zooms[2]! * qfac];
    const affine = new Array<number>(16).fill(0);
    for (let r = 0; r < 3; r++) {
      for (let col = 0; col < 3; col++) affine[4 * r + col] = rotation[3 * r + col]! * scale[col]!;
      affine[4 * r + 3] = header.qoffset[r]!;
    }
    affine[15] = 1;
    return { affine, source: 'qform' };
  }
  // nibabel's Analyze-style default: x flipped (radiological storage), origin at the grid centre.
  const flippedZooms = [-zooms[0]!, zooms[1]!, zooms[2]!];
  const affine = new Array<number>(16).fill(0);
  for (let axis = 0; axis < 3; axis++) {
    const centre = ((header.dim[axis + 1] ?? 1) - 1) / 2;
    affine[5 * axis] = flippedZooms[axis]!;
    affine[4 * axis + 3] = -centre * flippedZooms[axis]!;
  }
  affine[15] = 1;
  return { affine, source: 'pixdim' };
}

/**
 * The voxels as a typed array. When `owned` (bytes we gunzipped ourselves, nobody else holds
 * them), little-endian and aligned, the array is a view on those bytes: no copy of a volume
 * that can be hundreds of MB. Otherwise the bytes are copied (and swapped for big-endian).
 */
function readVoxels(bytes: Uint8Array, offset: number, count: number, code: DatatypeCode, littleEndian: boolean, owned: boolean): VoxelArray {
  const width = datatypes[code].bytes;
  let buffer: ArrayBufferLike;
  let start = 0;
  if (owned && littleEndian && (bytes.byteOffset + offset) % width === 0) {
    buffer = bytes.buffer;
    start = bytes.byteOffset + offset;
  } else {
    // Uint8Array.prototype.slice copies even when `bytes` is a Node Buffer (whose slice is a view).
    const raw = Uint8Array.prototype.slice.call(bytes, offset, offset + count * width);
    if (!littleEndian && width > 1) {
      for (let i = 0; i < raw.length; i += width) raw.subarray(i, i + width).reverse();
    }
    buffer = raw.buffer;
  }
  switch (code) {
    case 2:
      return new Uint8Array(buffer, start, count);
    case 4:
      return new Int16Array(buffer, start, count);
    case 8:
      return new Int32Array(buffer, start, count);
    case 16:
      return new Float32Array(buffer, start, count);
    case 64:
      return new Float64Array(buffer, start, count);
    case 256:
      return new Int8Array(buffer, start, count);
    case 512:
      return new Uint16Array(buffer, start, count);
    case 768:
      return Float64Array.from(new Uint32Array(buffer, start, count));
  }
}

interface NiftiLayout {
  readonly shape: readonly [number, number, number];
  readonly count: number;
  readonly code: DatatypeCode;
  readonly offset: number;
  /** Bytes the file must hold: vox_offset + voxels · bytes per voxel. */
  readonly needed: number;
}

/** What a header declares, checked (rank, sizes, datatype, offset) and held to the ingest limits before any voxel is read or inflated. */
function niftiLayout(header: NiftiHeader, name: string, limits: IngestLimits): NiftiLayout {
  const { dim } = header;
  const rank = dim[0]!;
  if (rank < 1 || rank > 7) throw invalidVolume(name, `has an invalid dim[0] = ${rank}`);
  const sizes = dim.slice(1, rank + 1);
  if (!sizes.every((n) => Number.isSafeInteger(n) && n >= 1)) throw invalidVolume(name, `has non-positive dimensions ${sizes.join('x')}`);
  if (rank < 3 || dim[3]! < 2) throw invalidVolume(name, `is 2D (dimensions ${sizes.join('x')}); mewm needs a 3D volume with at least two slices`);
  const extra = sizes.slice(3).reduce((product, n) => product * n, 1);
  if (extra > 1) throw invalidVolume(name, `is ${rank}D (dimensions ${sizes.join('x')}); mewm reads 3D volumes only`);
  if (!(header.datatype in datatypes))
    throw invalidVolume(name, `has NIfTI datatype ${header.datatype}, which mewm does not read (uint8, int8, int16, uint16, int32, uint32, float32, float64)`);
  const code = header.datatype as DatatypeCode;
  const shape = [dim[1]!, dim[2]!, dim[3]!] as const;
  assertVoxelBudget(shape, limits, name);
  const count = shape[0] * shape[1] * shape[2];
  const offset = Math.floor(header.voxOffset);
  const minimumOffset = header.magic === 'n+2' ? nifti2HeaderSize : headerSize;
  if (!(offset >= minimumOffset)) throw invalidVolume(name, `has an invalid vox_offset ${header.voxOffset}`);
  const needed = offset + count * datatypes[code].bytes;
  if (!(needed <= limits.maxBytes)) {
    throw invalidVolume(
      name,
      `declares ${needed} bytes (vox_offset ${offset} + ${count} voxels of ${datatypes[code].name}), above the ingest limit of ${limits.maxBytes} bytes (raise MEWM_INGEST_MAX_BYTES if this is a real CT)`,
      { bytes: needed, maxBytes: limits.maxBytes },
    );
  }
  return { shape, count, code, offset, needed };
}

/**
 * Decodes a .nii or .nii.gz byte buffer (gzip is detected from its magic bytes).
 * Returns the voxels in their stored type, or Float32Array when scl_slope/scl_inter apply.
 * For gzip input the voxel array may be a view on the decompressed bytes (`byteOffset` 352):
 * use `data.byteOffset`/`byteLength` (or `data.slice()`), never the bare `data.buffer`.
 * Throws `MewmError('InvalidVolume')` naming `options.name` and the problem for truncated or
 * corrupt gzip, wrong magic, 2D or 4D+ data, unsupported datatypes, absurd spacing, short data
 * and volumes with no finite voxel; also for headers that declare more voxels or bytes than
 * `options.limits` allow (checked before inflating) and gzip streams that inflate past the size
 * their header declares (inflation stops there).
 */
export function decodeNifti(input: Uint8Array, options: DecodeNiftiOptions = {}): Volume {
  const name = options.name ?? '<bytes>';
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  let bytes = input;
  let owned = false;
  let header: NiftiHeader;
  let layout: NiftiLayout;
  if (isGzip(input)) {
    // The header first, from a small prefix: how much to inflate is decided by what it declares.
    let head: Uint8Array;
    try {
      head = gunzipPrefix(input, nifti2HeaderSize);
    } catch (error) {
      throw invalidVolume(name, `is a truncated or corrupt gzip stream (${(error as Error).message})`);
    }
    if (head.length < nifti2HeaderSize)
      head = boundedGunzip(input, Math.min(limits.maxBytes, nifti2HeaderSize + trailingAllowance), name, 'the size of a small NIfTI');
    header = parseNiftiHeader(head, name);
    layout = niftiLayout(header, name, limits);
    // The whole stream is inflated (CRC checked), stopping at the declared size plus a small allowance.
    bytes = boundedGunzip(input, layout.needed + trailingAllowance, name, `the ${layout.needed} bytes its header declares`);
    owned = true;
  } else {
    header = parseNiftiHeader(bytes, name);
    layout = niftiLayout(header, name, limits);
  }
  const { shape, count, code, offset, needed } = layout;
  if (bytes.length < needed) throw invalidVolume(name, `is truncated: ${bytes.length} bytes, the header promises ${needed}`);
  const { affine } = niftiAffine(header, name);
  let data = readVoxels(bytes, offset, count, code, header.littleEndian, owned);
  const { sclSlope: slope, sclInter: inter } = header;
  if (Number.isFinite(slope) && slope !== 0) {
    const intercept = Number.isFinite(inter) ? inter : 0;
    if (slope !== 1 || intercept !== 0) {
      const scaled = new Float32Array(count);
      for (let i = 0; i < count; i++) scaled[i] = data[i]! * slope + intercept;
      data = scaled;
    }
  }
  const volume = makeVolume(data, shape, affine);
  assertPlausibleVolume(volume, name);
  return volume;
}

function datatypeOf(data: VoxelArray): { code: number; bitpix: number } {
  if (data instanceof Uint8Array) return { code: 2, bitpix: 8 };
  if (data instanceof Int8Array) return { code: 256, bitpix: 8 };
  if (data instanceof Int16Array) return { code: 4, bitpix: 16 };
  if (data instanceof Uint16Array) return { code: 512, bitpix: 16 };
  if (data instanceof Int32Array) return { code: 8, bitpix: 32 };
  if (data instanceof Float32Array) return { code: 16, bitpix: 32 };
  return { code: 64, bitpix: 64 };
}

/** Quaternion (w ≥ 0, x, y, z) of a proper rotation matrix (row-major 3x3), Shepperd's method. */
function matrixToQuaternion(m: readonly number[]): [number, number, number, number] {
  const [m00, m01, m02, m10, m11, m12, m20, m21, m22] = m as [number, number, number, number, number, number, number, number, number];
  const trace = m00 + m11 + m22;
  let w: number, x: number, y: number, z: number;
  if (trace > 0) {
    const s = 2 * Math.sqrt(1 + trace);
    w = s / 4;
    x = (m21 - m12) / s;
    y = (m02 - m20) / s;
    z = (m10 - m01) / s;
  } else if (m00 > m11 && m00 > m22) {
    const s = 2 * Math.sqrt(1 + m00 - m11 - m22);
    w = (m21 - m12) / s;
    x = s / 4;
    y = (m01 + m10) / s;
    z = (m02 + m20) / s;
  } else if (m11 > m22) {
    const s = 2 * Math.sqrt(1 + m11 - m00 - m22);
    w = (m02 - m20) / s;
    x = (m01 + m10) / s;
    y = s / 4;
    z = (m12 + m21) / s;
  } else {
    const s = 2 * Math.sqrt(1 + m22 - m00 - m11);
    w = (m10 - m01) / s;
    x = (m02 + m20) / s;
    y = (m12 + m21) / s;
    z = s / 4;
  }
  const norm = Math.hypot(w, x, y, z);
  const sign = w < 0 ? -1 : 1;
  return [(sign * w) / norm, (sign * x) / norm, (sign * y) / norm, (sign * z) / norm];
}

/** Nearest orthogonal matrix (polar decomposition by Newton iteration), for sheared affines. */
function orthogonalise(r: readonly number[]): number[] {
  let m = [...r];
  for (let iteration = 0; iteration < 30; iteration++) {
    const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
    const det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
    // inverse transpose = cofactor matrix / det
    const cof = [e * i - f * h, f * g - d * i, d * h - e * g, c * h - b * i, a * i - c * g, b * g - a * h, b * f - c * e, c * d - a * f, a * e - b * d];
    const next = m.map((v, k) => 0.5 * (v + cof[k]! / det));
    const change = next.reduce((sum, v, k) => sum + Math.abs(v - m[k]!), 0);
    m = next;
    if (change < 1e-14) break;
  }
  return m;
}

/** qform fields (quaternion b, c, d; qfac; zooms; offset) for an affine, as nibabel's set_qform. */
function qformOf(affine: Affine): { quatern: [number, number, number]; qfac: number; zooms: [number, number, number]; offset: [number, number, number] } {
  const zooms: [number, number, number] = [0, 1, 2].map((c) => Math.hypot(affine[c]!, affine[4 + c]!, affine[8 + c]!)) as [number, number, number];
  const r = new Array<number>(9);
  for (let row = 0; row < 3; row++) for (let c = 0; c < 3; c++) r[3 * row + c] = affine[4 * row + c]! / zooms[c]!;
  const det = r[0]! * (r[4]! * r[8]! - r[5]! * r[7]!) - r[1]! * (r[3]! * r[8]! - r[5]! * r[6]!) + r[2]! * (r[3]! * r[7]! - r[4]! * r[6]!);
  const qfac = det > 0 ? 1 : -1;
  if (qfac < 0) for (let row = 0; row < 3; row++) r[3 * row + 2] = -r[3 * row + 2]!;
  const [, x, y, z] = matrixToQuaternion(orthogonalise(r));
  return { quatern: [x, y, z], qfac, zooms, offset: [affine[3]!, affine[7]!, affine[11]!] };
}

/**
 * Encodes a volume as NIfTI-1 bytes (gzip-compressed when `options.gzip`). Voxels are written in
 * their own type (uint8, int8, int16, uint16, int32, float32, float64), little-endian.
 */
export function encodeNifti(volume: Volume, options: EncodeNiftiOptions = {}): Uint8Array {
  assertPlausibleVolume(volume, 'volume to encode', { requireFinite: false });
  const { data, shape, affine } = volume;
  const { code, bitpix } = datatypeOf(data);
  const dataBytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(dataOffset + dataBytes.length);
  const view = new DataView(out.buffer);
  view.setInt32(0, headerSize, true);
  out[38] = 'r'.charCodeAt(0); // "regular", as nibabel writes it
  const dim = [3, shape[0], shape[1], shape[2], 1, 1, 1, 1];
  dim.forEach((v, i) => view.setInt16(40 + 2 * i, v, true));
  view.setInt16(70, code, true);
  view.setInt16(72, bitpix, true);
  const q = qformOf(affine);
  const pixdim = [q.qfac, ...q.zooms, 1, 1, 1, 1];
  pixdim.forEach((v, i) => view.setFloat32(76 + 4 * i, v, true));
  view.setFloat32(108, dataOffset, true);
  view.setFloat32(112, 1, true); // scl_slope
  view.setFloat32(116, 0, true); // scl_inter
  out[123] = 2; // xyzt_units: NIFTI_UNITS_MM
  view.setInt16(252, 1, true); // qform_code: scanner anatomical
  view.setInt16(254, 1, true); // sform_code: scanner anatomical
  q.quatern.forEach((v, i) => view.setFloat32(256 + 4 * i, v, true));
  q.offset.forEach((v, i) => view.setFloat32(268 + 4 * i, v, true));
  for (let i = 0; i < 12; i++) view.setFloat32(280 + 4 * i, affine[i]!, true);
  out.set([0x6e, 0x2b, 0x31, 0x00], 344); // "n+1\0"
  // bytes 348..351: extension flag 0 (no extensions)
  out.set(dataBytes, dataOffset);
  if (!options.gzip) return out;
  const compressed = gzipSync(out, { level: options.level ?? 6 });
  return new Uint8Array(compressed.buffer, compressed.byteOffset, compressed.byteLength);
}

function compressionFor(path: string): boolean {
  if (path.endsWith('.nii.gz')) return true;
  if (path.endsWith('.nii')) return false;
  const name = inputLabel(path, 'the output path');
  throw new MewmError('InvalidInput', `${name}: a NIfTI path must end in .nii or .nii.gz`, { file: name });
}

/**
 * Reads a .nii or .nii.gz file. Errors name `options.name` (e.g. `case X CT`), else the file's
 * base name only if mewm wrote it (src/io/input-label.ts), else "NIfTI input"; never the path.
 */
export async function readNifti(path: string, options: DecodeNiftiOptions = {}): Promise<Volume> {
  const name = options.name ?? inputLabel(path, 'NIfTI input');
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  // Regular files only (a FIFO or /dev/zero is refused at once), at most maxBytes (src/io/bounded-read.ts).
  const bytes = await readRegularFile(path, name, limits.maxBytes);
  return decodeNifti(bytes, { name, limits });
}

/**
 * Writes a volume to `path`, gzip-compressed when it ends in .nii.gz. The file appears
 * atomically (written next to it, then renamed), so readers never see half a volume.
 */
export async function writeNifti(path: string, volume: Volume, options: { level?: number } = {}): Promise<void> {
  const gzip = compressionFor(path);
  const bytes = encodeNifti(volume, { gzip, ...(options.level === undefined ? {} : { level: options.level }) });
  const temporary = `${path}.${process.pid}.${Date.now()}.partial`;
  await writeFile(temporary, bytes);
  await rename(temporary, path);
}
