"""nibabel reference for mewm's NIfTI reader and writer (called from test/io/nifti.test.ts).

  make-cases OUTDIR   writes NIfTI files in several orientations, dtypes, scalings, byte orders
                      and affine sources; for each NAME also NAME.json (shape, affine, dtype as
                      nibabel sees them) and NAME.f64 (nibabel's scaled voxel values, float64
                      little-endian, x fastest).
  describe FILE OUT   loads FILE with nibabel; writes OUT.json and OUT.f64 the same way.
"""
import gzip
import json
import sys
from pathlib import Path

import nibabel as nib
import numpy as np


def dump(img, out_stem: Path) -> None:
    data = np.asanyarray(img.dataobj)
    scaled = img.get_fdata(dtype=np.float64)
    out_stem.with_suffix(".json").write_text(
        json.dumps(
            {
                "shape": list(img.shape),
                "affine": img.affine.reshape(-1).tolist(),
                "stored_dtype": str(img.header.get_data_dtype().newbyteorder("=")),
                "array_dtype": str(data.dtype.newbyteorder("=")),
                "qform_code": int(img.header["qform_code"]),
                "sform_code": int(img.header["sform_code"]),
                "qform": img.get_qform().reshape(-1).tolist(),
                "xyzt_units": int(img.header["xyzt_units"]),
            }
        )
    )
    scaled.astype("<f8").reshape(-1, order="F").tofile(out_stem.with_suffix(".f64"))


def rotation(axis: int, angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    r = np.eye(3)
    a, b = [(1, 2), (0, 2), (0, 1)][axis]
    r[a, a], r[a, b], r[b, a], r[b, b] = c, -s, s, c
    return r


def affine_from(columns: np.ndarray, origin) -> np.ndarray:
    aff = np.eye(4)
    aff[:3, :3] = columns
    aff[:3, 3] = origin
    return aff


def make_cases(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    shape = (7, 6, 5)
    ct = rng.integers(-1024, 1500, size=shape).astype(np.int16)
    cases = {}

    spacing = np.diag([0.8, 0.7, 3.0])
    cases["ras_int16.nii.gz"] = (ct, affine_from(spacing, [-100, -120, -50]), {})
    cases["lps_int16.nii"] = (ct, affine_from(np.diag([-0.8, -0.7, 3.0]), [100, 120, -50]), {})
    cases["las_float32.nii.gz"] = (ct.astype(np.float32) + 0.25, affine_from(np.diag([-0.8, 0.7, 3.0]), [10, -12, 5]), {})
    # permuted: voxel i runs superior, j runs right, k runs posterior
    permuted = np.array([[0, 0.7, 0], [0, 0, -2.5], [3.0, 0, 0]])
    cases["permuted_uint8.nii.gz"] = ((ct % 3).astype(np.uint8), affine_from(permuted, [1, 2, 3]), {})
    cases["scaled_int16.nii.gz"] = (ct, affine_from(spacing, [0, 0, 0]), {"slope": 0.5, "inter": -1024.0})
    cases["uint16.nii"] = ((ct.astype(np.int32) + 1024).astype(np.uint16), affine_from(spacing, [0, 0, 0]), {})
    cases["int32.nii.gz"] = (ct.astype(np.int32) * 1000, affine_from(spacing, [0, 0, 0]), {})
    cases["float64.nii"] = (ct.astype(np.float64) / 3.0, affine_from(spacing, [0, 0, 0]), {})
    cases["bigendian_int16.nii"] = (ct, affine_from(np.diag([-0.8, -0.7, 3.0]), [5, 6, 7]), {"big_endian": True})
    oblique = rotation(2, 0.3) @ rotation(0, 0.1) @ np.diag([0.8, 0.7, 3.0])
    cases["oblique_qform_only.nii.gz"] = (ct, affine_from(oblique, [4, -5, 6]), {"sform_code": 0})
    # sform and qform disagree: nibabel (and mewm) must take the sform
    cases["sform_wins.nii.gz"] = (ct, affine_from(spacing, [1, 2, 3]), {"qform_affine": affine_from(np.diag([2.0, 2.0, 2.0]), [9, 9, 9])})
    cases["no_xform.nii"] = (ct, affine_from(spacing, [0, 0, 0]), {"sform_code": 0, "qform_code": 0})
    cases["nifti2_lps_int16.nii.gz"] = (ct, affine_from(np.diag([-0.8, -0.7, 3.0]), [100, 120, -50]), {"nifti2": True})
    cases["nifti2_oblique_qform_only.nii"] = (ct.astype(np.float32), affine_from(oblique, [4, -5, 6]), {"nifti2": True, "sform_code": 0})

    for name, (data, affine, opts) in cases.items():
        if opts.get("nifti2"):
            img = nib.Nifti2Image(data, affine)
        elif opts.get("big_endian"):
            header = nib.Nifti1Header(endianness=">")
            header.set_data_dtype(data.dtype.newbyteorder(">"))
            img = nib.Nifti1Image(data.astype(data.dtype.newbyteorder(">")), affine, header)
        else:
            img = nib.Nifti1Image(data, affine)
        img.set_sform(affine, code=opts.get("sform_code", 1))
        img.set_qform(opts.get("qform_affine", affine), code=opts.get("qform_code", 1))
        path = out / name
        if "slope" in opts:
            write_scaled(img, data, opts["slope"], opts["inter"], path)
        else:
            nib.save(img, path)
        loaded = nib.load(path)
        dump(loaded, out / name.replace(".nii.gz", "").replace(".nii", ""))


def write_scaled(img, raw: np.ndarray, slope: float, inter: float, path: Path) -> None:
    """Writes raw stored values with scl_slope/inter in the header (nibabel would rescale)."""
    hdr = img.header
    hdr["scl_slope"] = slope
    hdr["scl_inter"] = inter
    hdr.set_data_shape(raw.shape)
    hdr.set_data_dtype(raw.dtype)
    hdr["vox_offset"] = 352
    payload = hdr.binaryblock + b"\x00\x00\x00\x00" + np.asfortranarray(raw).astype(raw.dtype.newbyteorder("<")).tobytes(order="F")
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(payload)


def main() -> None:
    command = sys.argv[1]
    if command == "make-cases":
        make_cases(Path(sys.argv[2]))
    elif command == "describe":
        dump(nib.load(sys.argv[2]), Path(sys.argv[3]))
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
