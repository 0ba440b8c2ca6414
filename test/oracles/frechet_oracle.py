"""Fréchet distance oracle: the pytorch-fid formula (numpy mean, np.cov, scipy.linalg.sqrtm).

stdin: {"a": [[...], ...], "b": [[...], ...]} (rows are feature vectors); stdout: {"fd": float}.
"""
import json
import sys

import numpy as np
from scipy import linalg


def frechet(a: np.ndarray, b: np.ndarray) -> float:
    mu1, mu2 = a.mean(axis=0), b.mean(axis=0)
    s1, s2 = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


if __name__ == "__main__":
    data = json.load(sys.stdin)
    print(json.dumps({"fd": frechet(np.asarray(data["a"], dtype=np.float64), np.asarray(data["b"], dtype=np.float64))}))
