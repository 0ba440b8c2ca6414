/**
 * A minimal DICOM Part 10 writer for tests that need many small (or deliberately broken) CT
 * slices quickly, without the pydicom oracle: explicit VR little endian, or deflated explicit VR
 * little endian. Not a general writer: only the elements mewm's reader looks at.
 */
import { deflateRawSync } from 'node:zlib';

export interface SliceSpec {
  readonly rows: number;
  readonly columns: number;
  readonly position: readonly [number, number, number];
  readonly orientation?: readonly number[];
  readonly spacing?: readonly [number, number];
  readonly seriesUid?: string;
  readonly modality?: string;
  /** Stored values (rows · columns), int16 unless `bitsAllocated` says 8. */
  readonly pixels: ArrayLike<number>;
  readonly bitsAllocated?: 8 | 16;
  readonly slope?: number;
  readonly intercept?: number;
  readonly transferSyntax?: string;
  /** Replace the pixel data element's bytes (e.g. truncated). */
  readonly pixelBytes?: Uint8Array;
  /** Deflate the data set (transfer syntax 1.2.840.10008.1.2.1.99). */
  readonly deflate?: boolean;
  /** Raw deflate bytes to use as the data set (for bombs); implies the deflated transfer syntax. */
  readonly deflatedDataSet?: Uint8Array;
}

function pad(text: string, padChar: string): Uint8Array {
  const value = text.length % 2 === 1 ? text + padChar : text;
  return new TextEncoder().encode(value);
}

function element(group: number, elementNo: number, vr: string, value: Uint8Array): Uint8Array {
  const long = ['OB', 'OW', 'OF', 'SQ', 'UT', 'UN'].includes(vr);
  const header = new Uint8Array(long ? 12 : 8);
  const view = new DataView(header.buffer);
  view.setUint16(0, group, true);
  view.setUint16(2, elementNo, true);
  header[4] = vr.charCodeAt(0);
  header[5] = vr.charCodeAt(1);
  if (long) view.setUint32(8, value.length, true);
  else view.setUint16(6, value.length, true);
  return concat([header, value]);
}

const us = (n: number) => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
};

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** The data set (no preamble, no meta header), elements in tag order. */
export function dataSetOf(spec: SliceSpec): Uint8Array {
  const bits = spec.bitsAllocated ?? 16;
  let pixels = spec.pixelBytes;
  if (pixels === undefined) {
    pixels = new Uint8Array(spec.rows * spec.columns * (bits / 8));
    const view = new DataView(pixels.buffer);
    for (let i = 0; i < spec.rows * spec.columns; i++) {
      if (bits === 16) view.setInt16(2 * i, spec.pixels[i] ?? 0, true);
      else view.setUint8(i, spec.pixels[i] ?? 0);
    }
  }
  const ds = (values: readonly number[]) => pad(values.map((v) => String(Number(v.toFixed(6)))).join('\\'), ' ');
  return concat([
    element(0x0008, 0x0060, 'CS', pad(spec.modality ?? 'CT', ' ')),
    element(0x0020, 0x000e, 'UI', pad(spec.seriesUid ?? '1.2.3.4.5', '\0')),
    element(0x0020, 0x0032, 'DS', ds(spec.position)),
    element(0x0020, 0x0037, 'DS', ds(spec.orientation ?? [1, 0, 0, 0, 1, 0])),
    element(0x0028, 0x0002, 'US', us(1)),
    element(0x0028, 0x0010, 'US', us(spec.rows)),
    element(0x0028, 0x0011, 'US', us(spec.columns)),
    element(0x0028, 0x0030, 'DS', ds(spec.spacing ?? [1, 1])),
    element(0x0028, 0x0100, 'US', us(bits)),
    element(0x0028, 0x0101, 'US', us(bits)),
    element(0x0028, 0x0103, 'US', us(bits === 16 ? 1 : 0)),
    element(0x0028, 0x1052, 'DS', ds([spec.intercept ?? 0])),
    element(0x0028, 0x1053, 'DS', ds([spec.slope ?? 1])),
    element(0x7fe0, 0x0010, bits === 16 ? 'OW' : 'OB', pixels),
  ]);
}

/** A whole Part 10 file. */
export function dicomFile(spec: SliceSpec): Uint8Array {
  const deflated = spec.deflate === true || spec.deflatedDataSet !== undefined;
  const syntax = spec.transferSyntax ?? (deflated ? '1.2.840.10008.1.2.1.99' : '1.2.840.10008.1.2.1');
  const metaElements = concat([element(0x0002, 0x0001, 'OB', new Uint8Array([0, 1])), element(0x0002, 0x0010, 'UI', pad(syntax, '\0'))]);
  const groupLength = new Uint8Array(4);
  new DataView(groupLength.buffer).setUint32(0, metaElements.length, true);
  const meta = concat([element(0x0002, 0x0000, 'UL', groupLength), metaElements]);
  const body = spec.deflatedDataSet ?? (deflated ? deflateRawSync(dataSetOf(spec)) : dataSetOf(spec));
  return concat([new Uint8Array(128), new TextEncoder().encode('DICM'), meta, body]);
}
