"""Held-out metrics for the training reports (numpy/scipy only)."""
from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, stats


def spearman(a, b) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b).statistic)


def dice(pred: np.ndarray, truth: np.ndarray) -> float:
    s = pred.sum() + truth.sum()
    return 1.0 if s == 0 else float(2 * (pred & truth).sum() / s)


def postprocess_labels(labels: np.ndarray) -> np.ndarray:
    """Paper B.3 post-processing: keep the largest connected liver (liver ∪ tumour) component and
    drop tumour voxels outside it. Mirrors src/models/onnx/postprocess.ts."""
    organ = labels >= 1
    comp, n = ndimage.label(organ, structure=np.ones((3, 3, 3)))
    out = labels.copy()
    if n == 0:
        return out
    sizes = ndimage.sum(organ, comp, range(1, n + 1))
    keep = comp == (int(np.argmax(sizes)) + 1)
    out[~keep] = 0
    return out


def concordance_index(times, scores, events) -> float:
    """Harrell's C with lifelines' convention: a higher score means longer survival; ties 0.5."""
    t, s, e = map(np.asarray, (times, scores, events))
    num, den = 0.0, 0.0
    for i in range(len(t)):
        if not e[i]:
            continue
        for j in range(len(t)):
            if t[j] > t[i]:
                den += 1
                num += 1.0 if s[j] > s[i] else 0.5 if s[j] == s[i] else 0.0
    return num / den if den else float("nan")


def logrank_p(times: np.ndarray, events: np.ndarray, group: np.ndarray) -> float:
    """Two-group log-rank test, χ² with 1 df."""
    o_minus_e, var = 0.0, 0.0
    for t in np.unique(times[events == 1]):
        at_risk = times >= t
        n, n1 = at_risk.sum(), (at_risk & group).sum()
        d = ((times == t) & (events == 1)).sum()
        d1 = ((times == t) & (events == 1) & group).sum()
        if n < 2:
            continue
        o_minus_e += d1 - d * n1 / n
        var += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    if var <= 0:
        return float("nan")
    return float(math.erfc(math.sqrt(o_minus_e**2 / var / 2)))
