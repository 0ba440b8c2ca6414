/**
 * Reads a CT series from a folder of DICOM files (Part 10, uncompressed transfer syntaxes) into
 * a `Volume<Float32Array>` in Hounsfield units with a voxel-to-RAS affine.
 *
 * - Voxel axes: i = column, j = row (as stored in each image), k = slice in order of increasing
 *   position along the slice normal (row direction × column direction). Use `reorientToRas`
 *   afterwards for a canonical orientation.
 * - Slices are sorted by ImagePositionPatient projected on that normal, never by
 *   InstanceNumber. The k axis of the affine is (last position − first position) / (n − 1),
 *   which also represents gantry tilt exactly.
 * - HU = stored value · RescaleSlope + RescaleIntercept, per slice (slope 1, intercept 0 when
 *   absent). Stored values are masked / sign-extended to BitsStored.
 * - DICOM patient coordinates are LPS: the x and y rows of the affine are negated for RAS.
 * - Several series in one folder: a `MewmError('InvalidInput')` listing them by opaque key
 *   (a hash of the UID), unless `seriesInstanceUid` picks one (by UID or key). JPEG / JPEG-LS / JPEG 2000 / RLE pixel data: a
 *   `MewmError('InvalidVolume')` saying the series must be decompressed first.
 * Errors name `options.name` (e.g. `case X CT series`), else the folder's base name only if mewm
 * wrote it, else "DICOM folder"; files inside by position; never patient fields, file names or UIDs.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as dicomParserModule from 'dicom-parser';
import type { DataSet } from 'dicom-parser';
import { MewmError } from '../core/errors';
import { assertPlausibleVolume, invalidVolume } from '../core/volume/validate';
import { makeVolume, type Volume } from '../core/volume/volume';
import { assertVoxelBudget, boundedInflateRaw, DEFAULT_INGEST_LIMITS, readRegularFile, type IngestLimits } from './bounded-read';
import { inputLabel, opaqueKey } from './input-label';

// dicom-parser ships a UMD bundle: under ESM its functions sit on the default export.
const dicomParser = (dicomParserModule as unknown as { default?: typeof dicomParserModule }).default ?? dicomParserModule;

export interface ReadDicomSeriesOptions {
  /** Pick this series when the folder holds several: its SeriesInstanceUID, or the opaque key errors show. */
  readonly seriesInstanceUid?: string;
  /** Name used in errors instead of the folder's base name (e.g. a pseudonymous case id). */
  readonly name?: string;
  /** Largest relative deviation of a slice gap from the median gap (default 0.1). */
  readonly sliceGapTolerance?: number;
  /** What the folder may cost (src/io/bounded-read.ts): files, bytes read + inflated across all files, voxels; default `DEFAULT_INGEST_LIMITS`. */
  readonly limits?: IngestLimits;
}

export interface DicomSeriesSummary {
  readonly seriesInstanceUid: string;
  /** Opaque short key of the UID (what errors show; `seriesInstanceUid` accepts it too). */
  readonly key: string;
  readonly seriesNumber: number | undefined;
  readonly modality: string | undefined;
  readonly files: number;
}

const uncompressedSyntaxes = new Set([
  '1.2.840.10008.1.2', // implicit VR little endian
  '1.2.840.10008.1.2.1', // explicit VR little endian
  '1.2.840.10008.1.2.2', // explicit VR big endian (retired, still seen)
  '1.2.840.10008.1.2.1.99', // deflated explicit VR little endian
]);

function compressionName(syntax: string): string | undefined {
  if (syntax.startsWith('1.2.840.10008.1.2.4.5') || syntax.startsWith('1.2.840.10008.1.2.4.6') || syntax.startsWith('1.2.840.10008.1.2.4.7')) return 'JPEG';
  if (syntax === '1.2.840.10008.1.2.4.80' || syntax === '1.2.840.10008.1.2.4.81') return 'JPEG-LS';
  if (syntax.startsWith('1.2.840.10008.1.2.4.9') || syntax.startsWith('1.2.840.10008.1.2.4.20')) return 'JPEG 2000 / HTJ2K';
  if (syntax === '1.2.840.10008.1.2.5') return 'RLE';
  if (syntax.startsWith('1.2.840.10008.1.2.4.10')) return 'MPEG';
  return undefined;
}

const tags = {
  transferSyntax: 'x00020010',
  modality: 'x00080060',
  seriesInstanceUid: 'x0020000e',
  seriesNumber: 'x00200011',
  imagePosition: 'x00200032',
  imageOrientation: 'x00200037',
  samplesPerPixel: 'x00280002',
  numberOfFrames: 'x00280008',
  rows: 'x00280010',
  columns: 'x00280011',
  pixelSpacing: 'x00280030',
  bitsAllocated: 'x00280100',
  bitsStored: 'x00280101',
  pixelRepresentation: 'x00280103',
  rescaleIntercept: 'x00281052',
  rescaleSlope: 'x00281053',
  pixelData: 'x7fe00010',
} as const;

interface Slice {
  /** How errors name the file: its position in the folder (`file #3 of 40 (sorted by name)`), never its name. */
  readonly file: string;
  readonly dataSet: DataSet;
  readonly transferSyntax: string;
  readonly seriesInstanceUid: string;
}

function numbers(dataSet: DataSet, tag: string, count: number): number[] | undefined {
  const values: number[] = [];
  for (let i = 0; i < count; i++) {
    const value = dataSet.floatString(tag, i);
    if (value === undefined || !Number.isFinite(value)) return undefined;
    values.push(value);
  }
  return values;
}

function isPart10(bytes: Uint8Array): boolean {
  return bytes.length > 132 && bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
}

async function parseFolder(dir: string, name: string, limits: IngestLimits = DEFAULT_INGEST_LIMITS): Promise<{ slices: Slice[]; skipped: number }> {
  let entries: string[];
  try {
    entries = (await readdir(dir, { withFileTypes: true }))
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.'))
      .map((entry) => entry.name)
      .sort();
  } catch (error) {
    // No cause: a file-system error's message holds the full path.
    throw invalidVolume(name, `cannot be listed as a folder (${(error as NodeJS.ErrnoException).code ?? 'unknown error'})`);
  }
  if (entries.length > limits.maxFiles) {
    throw invalidVolume(
      name,
      `holds ${entries.length} files, above the ingest limit of ${limits.maxFiles} (raise MEWM_INGEST_MAX_FILES if this is one real CT series)`,
      { files: entries.length, maxFiles: limits.maxFiles },
    );
  }
  const slices: Slice[] = [];
  let skipped = 0;
  // One byte budget for the whole folder: file bytes read plus bytes inflated.
  let budget = limits.maxBytes;
  const spend = (bytes: number) => {
    budget -= bytes;
  };
  // One file may cost at most maxSliceBytes (read or inflated), and never more than the folder has left.
  const fileBudget = () => Math.max(0, Math.min(budget, limits.maxSliceBytes));
  for (const [index, entry] of entries.entries()) {
    if (entry.toUpperCase() === 'DICOMDIR') {
      skipped++;
      continue;
    }
    // Entries are named by position: file names may hold patient names or UIDs (src/io/input-label.ts).
    const file = `file #${index + 1} of ${entries.length} (sorted by name)`;
    const bytes = await readRegularFile(join(dir, entry), `${name} ${file}`, fileBudget());
    spend(bytes.length);
    if (!isPart10(bytes)) {
      skipped++;
      continue;
    }
    const meta = readMetaHeader(bytes);
    if (meta) assertReadableSyntax(meta.transferSyntax, file, name);
    let dataSet: DataSet;
    try {
      if (meta?.transferSyntax === deflatedSyntax) {
        // Inflate ourselves: dicom-parser peeks at the first element after the meta header,
        // which in a deflated file is compressed bytes that can look like a broken sequence.
        const inflated = boundedInflateRaw(bytes.subarray(meta.end), fileBudget(), `${name} ${file}`, 'the ingest byte limit for one DICOM file');
        spend(inflated.length);
        dataSet = dicomParser.parseDicom(inflated, { TransferSyntaxUID: explicitLittleEndian });
      } else {
        dataSet = dicomParser.parseDicom(bytes, {
          inflater: (all: Uint8Array, position: number) => {
            const out = inflate(all, position, fileBudget(), `${name} ${file}`);
            spend(out.length);
            return out;
          },
        });
      }
    } catch (error) {
      if ((error as { name?: string }).name === 'MewmError') throw error;
      throw invalidVolume(name, `${file} is not readable DICOM (${describeParseError(error)})`, { entry: file }, error);
    }
    const syntax = meta?.transferSyntax ?? dataSet.string(tags.transferSyntax) ?? '1.2.840.10008.1.2';
    if (!meta) assertReadableSyntax(syntax, file, name);
    if (!dataSet.elements[tags.pixelData]) {
      skipped++; // structured reports, presentation states and the like
      continue;
    }
    slices.push({ file, dataSet, transferSyntax: syntax, seriesInstanceUid: dataSet.string(tags.seriesInstanceUid) ?? '(no SeriesInstanceUID)' });
  }
  return { slices, skipped };
}

function assertReadableSyntax(syntax: string, file: string, name: string): void {
  const compression = compressionName(syntax);
  if (compression) {
    throw invalidVolume(
      name,
      `${file} holds ${compression}-compressed pixel data (transfer syntax ${syntax}), which mewm does not decode; decompress the series first (e.g. 'gdcmconv --raw' or 'dcmdjpeg')`,
      { entry: file, transferSyntax: syntax },
    );
  }
  if (!uncompressedSyntaxes.has(syntax)) {
    throw invalidVolume(name, `${file} uses transfer syntax ${syntax}, which mewm does not read`, { entry: file, transferSyntax: syntax });
  }
}

const explicitLittleEndian = '1.2.840.10008.1.2.1';
const deflatedSyntax = '1.2.840.10008.1.2.1.99';

/**
 * The Part 10 meta header (group 0002, always explicit VR little endian): its transfer syntax
 * and where the data set starts, from the mandatory group length. Undefined when the file has
 * no group length element or no transfer syntax (dicom-parser then reads the header itself).
 */
function readMetaHeader(bytes: Uint8Array): { transferSyntax: string; end: number } | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 144 || view.getUint16(132, true) !== 0x0002 || view.getUint16(134, true) !== 0x0000) return undefined;
  const end = 144 + view.getUint32(140, true);
  if (end > bytes.length) return undefined;
  let position = 144;
  while (position + 8 <= end) {
    const group = view.getUint16(position, true);
    const element = view.getUint16(position + 2, true);
    const vr = String.fromCharCode(bytes[position + 4]!, bytes[position + 5]!);
    const longForm = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
    const length = longForm ? view.getUint32(position + 8, true) : view.getUint16(position + 6, true);
    const valueStart = position + (longForm ? 12 : 8);
    if (group === 0x0002 && element === 0x0010) {
      const transferSyntax = String.fromCharCode(...bytes.subarray(valueStart, valueStart + length)).replace(/[\0 ]+$/, '');
      return { transferSyntax, end };
    }
    position = valueStart + length;
  }
  return undefined;
}

/** Deflated transfer syntax: dicom-parser hands over the deflated remainder of the file; inflation stops at `maxOutput` bytes. */
function inflate(bytes: Uint8Array, position: number, maxOutput: number, name: string): Uint8Array {
  const inflated = boundedInflateRaw(bytes.subarray(position), maxOutput, name, 'the ingest byte limit for one DICOM file');
  const out = new Uint8Array(position + inflated.length);
  out.set(bytes.subarray(0, position));
  out.set(inflated, position);
  return out;
}

function describeParseError(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'object' && error !== null && 'exception' in error) return String((error as { exception: unknown }).exception);
  return String(error);
}

/** The series found in a folder, for callers that let a user choose. */
export async function listDicomSeries(dir: string): Promise<DicomSeriesSummary[]> {
  const { slices } = await parseFolder(dir, inputLabel(dir, 'DICOM folder'));
  return summarise(slices);
}

function summarise(slices: readonly Slice[]): DicomSeriesSummary[] {
  const bySeries = new Map<string, Slice[]>();
  for (const slice of slices) bySeries.set(slice.seriesInstanceUid, [...(bySeries.get(slice.seriesInstanceUid) ?? []), slice]);
  return [...bySeries.entries()].map(([seriesInstanceUid, members]) => ({
    seriesInstanceUid,
    key: opaqueKey(seriesInstanceUid),
    seriesNumber: members[0]!.dataSet.intString(tags.seriesNumber),
    modality: members[0]!.dataSet.string(tags.modality),
    files: members.length,
  }));
}

function cross(a: readonly number[], b: readonly number[]): [number, number, number] {
  return [a[1]! * b[2]! - a[2]! * b[1]!, a[2]! * b[0]! - a[0]! * b[2]!, a[0]! * b[1]! - a[1]! * b[0]!];
}

const dot = (a: readonly number[], b: readonly number[]) => a[0]! * b[0]! + a[1]! * b[1]! + a[2]! * b[2]!;

interface SliceGeometry {
  readonly rows: number;
  readonly columns: number;
  readonly orientation: number[];
  readonly spacing: number[];
  readonly position: number[];
}

function geometryOf(slice: Slice, name: string): SliceGeometry {
  const { dataSet, file } = slice;
  const rows = dataSet.uint16(tags.rows);
  const columns = dataSet.uint16(tags.columns);
  const orientation = numbers(dataSet, tags.imageOrientation, 6);
  const spacing = numbers(dataSet, tags.pixelSpacing, 2);
  const position = numbers(dataSet, tags.imagePosition, 3);
  if (!rows || !columns) throw invalidVolume(name, `${file} has no Rows/Columns`, { entry: file });
  if (!orientation) throw invalidVolume(name, `${file} has no valid ImageOrientationPatient`, { entry: file });
  if (!spacing) throw invalidVolume(name, `${file} has no valid PixelSpacing`, { entry: file });
  if (!position) throw invalidVolume(name, `${file} has no valid ImagePositionPatient`, { entry: file });
  return { rows, columns, orientation, spacing, position };
}

/** Reads one slice's stored values as HU into `out` (rows · columns floats). */
function readPixels(slice: Slice, geometry: SliceGeometry, out: Float32Array, name: string): void {
  const { dataSet, file } = slice;
  const element = dataSet.elements[tags.pixelData]!;
  const samples = dataSet.uint16(tags.samplesPerPixel) ?? 1;
  if (samples !== 1) throw invalidVolume(name, `${file} has ${samples} samples per pixel; a CT has 1`, { entry: file });
  const bitsAllocated = dataSet.uint16(tags.bitsAllocated) ?? 16;
  const bitsStored = dataSet.uint16(tags.bitsStored) ?? bitsAllocated;
  const signed = (dataSet.uint16(tags.pixelRepresentation) ?? 0) === 1;
  const slope = dataSet.floatString(tags.rescaleSlope) ?? 1;
  const intercept = dataSet.floatString(tags.rescaleIntercept) ?? 0;
  if (!Number.isFinite(slope) || slope === 0 || !Number.isFinite(intercept)) {
    throw invalidVolume(name, `${file} has an unusable rescale (slope ${slope}, intercept ${intercept})`, { entry: file });
  }
  const count = geometry.rows * geometry.columns;
  const bytesPerValue = bitsAllocated / 8;
  if (![1, 2, 4].includes(bytesPerValue)) throw invalidVolume(name, `${file} has ${bitsAllocated} bits allocated; mewm reads 8, 16 or 32`, { entry: file });
  if (element.length < count * bytesPerValue) {
    throw invalidVolume(name, `${file} has ${element.length} bytes of pixel data, ${count * bytesPerValue} needed (truncated or multi-sample)`, {
      entry: file,
    });
  }
  const view = new DataView(dataSet.byteArray.buffer, dataSet.byteArray.byteOffset + element.dataOffset, count * bytesPerValue);
  const littleEndian = slice.transferSyntax !== '1.2.840.10008.1.2.2';
  const mask = bitsStored >= 32 ? 0xffffffff : 2 ** bitsStored - 1;
  const signBit = 2 ** (bitsStored - 1);
  for (let p = 0; p < count; p++) {
    let raw: number;
    if (bytesPerValue === 2) raw = view.getUint16(2 * p, littleEndian);
    else if (bytesPerValue === 1) raw = view.getUint8(p);
    else raw = view.getUint32(4 * p, littleEndian);
    let value = bitsStored >= 32 ? raw : raw % (mask + 1);
    if (signed && value >= signBit) value -= 2 * signBit;
    out[p] = value * slope + intercept;
  }
}

function chooseSeries(slices: readonly Slice[], options: ReadDicomSeriesOptions, name: string): Slice[] {
  const series = summarise(slices);
  // SeriesInstanceUIDs are identifiers: errors show their opaque keys only (a key also selects the series).
  const opaque = series.map(({ key, seriesNumber, modality, files }) => ({ key, seriesNumber: seriesNumber ?? null, modality: modality ?? null, files }));
  const listing = opaque.map((s) => `${s.key} (series ${s.seriesNumber ?? '?'}, ${s.modality ?? '?'}, ${s.files} files)`).join('; ');
  const wanted = options.seriesInstanceUid;
  if (wanted !== undefined) {
    const chosen = slices.filter((slice) => slice.seriesInstanceUid === wanted || opaqueKey(slice.seriesInstanceUid) === wanted);
    if (chosen.length === 0)
      throw new MewmError('InvalidInput', `${name}: no series matches the requested seriesInstanceUid; found ${listing}`, { file: name, series: opaque });
    return chosen;
  }
  if (series.length > 1) {
    throw new MewmError(
      'InvalidInput',
      `${name}: holds ${series.length} DICOM series; choose one with seriesInstanceUid (its UID or the key shown): ${listing}`,
      { file: name, series: opaque },
    );
  }
  return [...slices];
}

/**
 * Reads the CT series in `dir` (see the module comment for axes, ordering, units and errors).
 */
export async function readDicomSeries(dir: string, options: ReadDicomSeriesOptions = {}): Promise<Volume<Float32Array>> {
  const name = options.name ?? inputLabel(dir, 'DICOM folder');
  const limits = options.limits ?? DEFAULT_INGEST_LIMITS;
  const { slices: all, skipped } = await parseFolder(dir, name, limits);
  if (all.length === 0) throw invalidVolume(name, `holds no DICOM image files (${skipped} other files skipped)`);
  const slices = chooseSeries(all, options, name);
  const modality = slices[0]!.dataSet.string(tags.modality);
  if (modality !== undefined && modality !== 'CT') throw invalidVolume(name, `is a ${modality} series; mewm reads CT`, { modality });
  for (const slice of slices) {
    const frames = slice.dataSet.intString(tags.numberOfFrames) ?? 1;
    if (frames > 1) throw invalidVolume(name, `${slice.file} is a multi-frame image (${frames} frames), which mewm does not read yet`, { entry: slice.file });
  }
  if (slices.length < 2) throw invalidVolume(name, 'holds a single slice; mewm needs a 3D series with at least two slices');

  const geometries = slices.map((slice) => geometryOf(slice, name));
  const first = geometries[0]!;
  for (let s = 1; s < geometries.length; s++) {
    const g = geometries[s]!;
    const file = slices[s]!.file;
    if (g.rows !== first.rows || g.columns !== first.columns)
      throw invalidVolume(name, `${file} is ${g.columns}x${g.rows}, others ${first.columns}x${first.rows}`, { entry: file });
    if (g.orientation.some((v, i) => Math.abs(v - first.orientation[i]!) > 1e-4))
      throw invalidVolume(name, `${file} has another ImageOrientationPatient than the rest of the series`, { entry: file });
    if (g.spacing.some((v, i) => Math.abs(v - first.spacing[i]!) > 1e-4))
      throw invalidVolume(name, `${file} has another PixelSpacing than the rest of the series`, { entry: file });
  }
  const rowDirection = first.orientation.slice(0, 3);
  const columnDirection = first.orientation.slice(3, 6);
  const normal = cross(rowDirection, columnDirection);
  if (Math.abs(Math.hypot(...normal) - 1) > 1e-3 || Math.abs(dot(rowDirection, columnDirection)) > 1e-3) {
    throw invalidVolume(name, 'has an ImageOrientationPatient whose directions are not orthonormal');
  }
  const order = geometries.map((g, index) => ({ index, along: dot(g.position, normal) })).sort((a, b) => a.along - b.along);
  const gaps = order.slice(1).map((entry, i) => entry.along - order[i]!.along);
  const sortedGaps = [...gaps].sort((a, b) => a - b);
  const medianGap = sortedGaps[Math.floor(sortedGaps.length / 2)]!;
  if (sortedGaps[0]! < 1e-3) {
    throw invalidVolume(name, 'has two slices at the same position (duplicate files, or several acquisitions in one series)');
  }
  const tolerance = options.sliceGapTolerance ?? 0.1;
  const worst = Math.max(...gaps.map((gap) => Math.abs(gap - medianGap) / medianGap));
  if (worst > tolerance) {
    throw invalidVolume(
      name,
      `has uneven slice gaps (from ${sortedGaps[0]!.toFixed(3)} to ${sortedGaps.at(-1)!.toFixed(3)} mm): a slice is missing or the series mixes acquisitions`,
      { gapsMm: sortedGaps },
    );
  }

  const [nx, ny, nz] = [first.columns, first.rows, slices.length];
  assertVoxelBudget([nx, ny, nz], limits, name);
  const data = new Float32Array(nx * ny * nz);
  order.forEach(({ index }, k) => readPixels(slices[index]!, geometries[index]!, data.subarray(k * nx * ny, (k + 1) * nx * ny), name));

  const firstPosition = geometries[order[0]!.index]!.position;
  const lastPosition = geometries[order.at(-1)!.index]!.position;
  const sliceStep = [0, 1, 2].map((a) => (lastPosition[a]! - firstPosition[a]!) / (nz - 1));
  const [rowSpacing, columnSpacing] = first.spacing as [number, number];
  const lps = [0, 1, 2].map((a) => [rowDirection[a]! * columnSpacing, columnDirection[a]! * rowSpacing, sliceStep[a]!, firstPosition[a]!]);
  // `+ 0` turns the -0 of negated zeros into 0 (cosmetic, for equality checks and logs)
  const affine = [...lps[0]!.map((v) => -v + 0), ...lps[1]!.map((v) => -v + 0), ...lps[2]!.map((v) => v + 0), 0, 0, 0, 1];
  const volume = makeVolume(data, [nx, ny, nz], affine);
  assertPlausibleVolume(volume, name);
  return volume;
}
