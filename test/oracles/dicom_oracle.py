"""pydicom writer of CT series from a known volume (called from test/io/dicom.test.ts).

  dicom_oracle.py write SOURCE.nii OUTDIR 'JSON-OPTIONS'

SOURCE is a NIfTI volume in HU (integers) with its RAS affine. Every k-slice becomes one CT
image file whose geometry (ImagePositionPatient, ImageOrientationPatient, PixelSpacing) is
derived from the affine in LPS, as a scanner would write it. Options:
  transfer_syntax   'explicit' (default) | 'implicit' | 'big-endian' | 'deflated' | 'jpeg' (fake JPEG frames)
  unsigned12        store HU + 1024 as unsigned 12-bit values in 16-bit words, with junk in the
                    4 unused high bits (as some older scanners do), slope 1, intercept -1024
  shuffle           write files under random names, InstanceNumber scrambled (default true)
  series_uid        SeriesInstanceUID (default: generated)
  series_number     SeriesNumber (default 1)
  vary_rescale      odd slices use slope 0.5 / intercept -1000, even ones 1 / -1024 (default true)
  modality          default 'CT'
  prefix            file name prefix (default 'img')
  seed              shuffling, InstanceNumber, junk bits and UIDs derive from it (default 5)
Patient name and id are set to fixed fake values that the tests then look for in error messages.
"""
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.uid import (
    CTImageStorage,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

FAKE_PATIENT_NAME = "Doe^Jane"
FAKE_PATIENT_ID = "SECRET-PATIENT-123"


def ds_number(value: float) -> str:
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def main() -> None:
    _, command, source, outdir, raw = sys.argv
    if command != "write":
        raise SystemExit(f"unknown command {command}")
    options = json.loads(raw)
    img = nib.load(source)
    hu = np.rint(img.get_fdata()).astype(np.int32)  # [x, y, z]
    affine = img.affine.copy()
    lps = affine.copy()
    lps[:2, :] *= -1  # RAS -> LPS: negate x and y rows
    zooms = np.sqrt((lps[:3, :3] ** 2).sum(axis=0))
    row_direction = lps[:3, 0] / zooms[0]  # direction of increasing column index (x)
    column_direction = lps[:3, 1] / zooms[1]  # direction of increasing row index (y)
    out = Path(outdir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(options.get("seed", 5))
    nz = hu.shape[2]
    order = rng.permutation(nz) if options.get("shuffle", True) else np.arange(nz)
    seed = options.get("seed", 5)

    def uid(*parts) -> str:
        # deterministic from the seed, so a failing byte pattern can be reproduced
        return generate_uid(entropy_srcs=[str(seed), options.get("prefix", "img"), *map(str, parts)])

    series_uid = options.get("series_uid") or uid("series")
    study_uid = options.get("study_uid") or uid("study")
    frame_uid = uid("frame")
    syntax = {
        "explicit": ExplicitVRLittleEndian,
        "implicit": ImplicitVRLittleEndian,
        "big-endian": ExplicitVRBigEndian,
        "deflated": DeflatedExplicitVRLittleEndian,
        "jpeg": JPEGBaseline8Bit,
    }[options.get("transfer_syntax", "explicit")]
    for file_index, k in enumerate(order):
        if options.get("unsigned12"):
            slope, intercept = 1.0, -1024.0
        elif options.get("vary_rescale", True) and k % 2 == 1:
            slope, intercept = 0.5, -1000.0
        else:
            slope, intercept = 1.0, -1024.0
        stored = np.rint((hu[:, :, k] - intercept) / slope).astype(np.int32)
        if stored.min() < -32768 or stored.max() > 32767:
            raise SystemExit("stored values overflow int16")
        position = lps[:3, :3] @ np.array([0, 0, k]) + lps[:3, 3]
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = uid("instance", series_uid, file_index)
        meta.TransferSyntaxUID = syntax
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.PatientName = FAKE_PATIENT_NAME
        ds.PatientID = FAKE_PATIENT_ID
        ds.Modality = options.get("modality", "CT")
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.SeriesNumber = options.get("series_number", 1)
        ds.InstanceNumber = int(rng.integers(1, 10_000))  # deliberately useless for ordering
        ds.ImagePositionPatient = [ds_number(v) for v in position]
        ds.ImageOrientationPatient = [ds_number(v) for v in (*row_direction, *column_direction)]
        ds.PixelSpacing = [ds_number(zooms[1]), ds_number(zooms[0])]  # [between rows, between columns]
        ds.SliceThickness = ds_number(zooms[2])
        ds.Rows = hu.shape[1]
        ds.Columns = hu.shape[0]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = ds_number(slope)
        ds.RescaleIntercept = ds_number(intercept)
        ds.RescaleType = "HU"
        pixels = stored.T.astype(np.int16)  # [row, column] = [y, x], row-major
        if options.get("unsigned12"):
            if stored.min() < 0 or stored.max() > 4095:
                raise SystemExit("stored values do not fit 12 unsigned bits")
            junk = (rng.integers(0, 16, size=stored.shape) << 12).astype(np.int32)
            ds.BitsStored = 12
            ds.HighBit = 11
            ds.PixelRepresentation = 0
            pixels = (stored + junk).T.astype(np.uint16)
        if syntax == JPEGBaseline8Bit:
            ds.BitsAllocated = 8
            ds.BitsStored = 8
            ds.HighBit = 7
            ds.PixelRepresentation = 0
            ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0" + bytes(64) + b"\xff\xd9"])
            ds["PixelData"].VR = "OB"
            ds["PixelData"].is_undefined_length = True
        elif syntax == ExplicitVRBigEndian:
            ds.PixelData = pixels.astype(pixels.dtype.newbyteorder(">")).tobytes()
            ds["PixelData"].VR = "OW"
        else:
            ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
            ds["PixelData"].VR = "OW"
        ds.save_as(out / f"{options.get('prefix', 'img')}{file_index:04d}.dcm", enforce_file_format=True)


if __name__ == "__main__":
    main()
