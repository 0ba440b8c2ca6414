"""nibabel/scipy reference for mewm's volume operations (called from test/core/volume/*.test.ts).

  volume_oracle.py OPERATION IN.nii[.gz] OUT.nii.gz 'JSON-PARAMETERS'

The input is read with nibabel, the reference result is written with nibabel (float64 for
interpolated values, so the comparison sees the reference's own precision). Operations:
  canonical                      nibabel.as_closest_canonical
  resample {shape, affine, order, mode, cval}
                                 nibabel.processing.resample_from_to onto (shape, affine)
  spacing {spacing, order}       MONAI Spacing's grid (round((n-1)*old/new+1) voxels, same
                                 directions and first-voxel position), then resample_from_to
                                 with mode='nearest' (border)
  window {lo, hi}                clip to [lo, hi], map to [-1, 1]
  label {connectivity}           scipy.ndimage.label on the [Z, Y, X] array (6 or 26)
"""
import json
import sys

import nibabel as nib
import numpy as np
from nibabel.processing import resample_from_to
from scipy import ndimage


def main() -> None:
    operation, source, target, raw = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    params = json.loads(raw)
    img = nib.load(source)
    affine = img.affine
    if operation == "canonical":
        out = nib.as_closest_canonical(img)
        data, affine = np.asanyarray(out.dataobj), out.affine
    elif operation in ("resample", "spacing"):
        floating = nib.Nifti1Image(img.get_fdata(dtype=np.float64), img.affine)
        if operation == "resample":
            shape, affine = tuple(params["shape"]), np.array(params["affine"], dtype=np.float64).reshape(4, 4)
            mode, cval = params.get("mode", "nearest"), params.get("cval", 0.0)
        else:
            old = np.sqrt((img.affine[:3, :3] ** 2).sum(axis=0))
            new = np.array(params["spacing"], dtype=np.float64)
            shape = tuple(int(v) for v in np.round((np.array(img.shape) - 1) * old / new + 1))
            affine = img.affine.copy()
            affine[:3, :3] = img.affine[:3, :3] * (new / old)
            mode, cval = "nearest", 0.0
        out = resample_from_to(floating, (shape, affine), order=params["order"], mode=mode, cval=cval)
        data = np.asanyarray(out.dataobj).astype(np.float64)
    elif operation == "window":
        lo, hi = params["lo"], params["hi"]
        data = (np.clip(img.get_fdata(), lo, hi) - lo) / (hi - lo) * 2 - 1
    elif operation == "label":
        zyx = np.asanyarray(img.dataobj).transpose(2, 1, 0) != 0
        structure = ndimage.generate_binary_structure(3, 1 if params["connectivity"] == 6 else 3)
        labels, _ = ndimage.label(zyx, structure=structure)
        data = labels.transpose(2, 1, 0).astype(np.int32)
    else:
        raise SystemExit(f"unknown operation {operation}")
    result = nib.Nifti1Image(data, affine)
    result.set_sform(affine, code=1)
    result.set_qform(affine, code=1)
    nib.save(result, target)


if __name__ == "__main__":
    main()
