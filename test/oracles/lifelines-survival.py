"""Reference survival statistics from lifelines for test/evaluation/survival-oracle.test.ts.

Reads JSON on stdin: {"times": [...], "events": [0/1...], "scores": [...], "group": [0/1...],
"covariates": [[...], ...], "names": [...], "grid": [...]} and writes JSON on stdout with the
C-index, Kaplan-Meier and Nelson-Aalen estimates (and bands) on the grid, the log-rank test of
group 0 vs 1, and Cox coefficients (Efron and Breslow ties) with standard errors.
"""
import json
import sys

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter, KaplanMeierFitter, NelsonAalenFitter
from lifelines.statistics import logrank_test
from lifelines.utils import concordance_index


def main() -> None:
    data = json.load(sys.stdin)
    times = np.asarray(data["times"], dtype=float)
    events = np.asarray(data["events"], dtype=int)
    grid = np.asarray(data["grid"], dtype=float)
    out = {}

    out["cIndex"] = float(concordance_index(times, np.asarray(data["scores"], dtype=float), events))

    km = KaplanMeierFitter().fit(times, events)
    ci = km.confidence_interval_survival_function_
    out["km"] = {
        "survival": km.survival_function_at_times(grid).tolist(),
        "lower": [float(ci.iloc[:, 0].asof(t)) for t in grid],
        "upper": [float(ci.iloc[:, 1].asof(t)) for t in grid],
        "median": float(km.median_survival_time_),
    }

    na = NelsonAalenFitter().fit(times, events)
    nci = na.confidence_interval_
    out["na"] = {
        "hazard": [float(na.cumulative_hazard_.iloc[:, 0].asof(t)) for t in grid],
        "lower": [float(nci.iloc[:, 0].asof(t)) for t in grid],
        "upper": [float(nci.iloc[:, 1].asof(t)) for t in grid],
    }

    group = np.asarray(data["group"], dtype=int)
    lr = logrank_test(times[group == 0], times[group == 1], events[group == 0], events[group == 1])
    out["logRank"] = {"statistic": float(lr.test_statistic), "pValue": float(lr.p_value)}

    frame = pd.DataFrame(data["covariates"], columns=data["names"])
    frame["T"] = times
    frame["E"] = events
    out["cox"] = {}
    cph = CoxPHFitter().fit(frame, duration_col="T", event_col="E")
    out["cox"]["efron"] = {
        "coefficients": cph.params_.tolist(),
        "standardErrors": cph.standard_errors_.tolist(),
        "logLikelihood": float(cph.log_likelihood_),
    }
    penalised = CoxPHFitter(penalizer=0.1).fit(frame, duration_col="T", event_col="E")
    out["cox"]["efronPenalised"] = {"coefficients": penalised.params_.tolist(), "standardErrors": penalised.standard_errors_.tolist()}
    # lifelines' CoxPHFitter handles ties by Efron only: the Breslow partial likelihood is maximised with scipy.
    out["cox"]["breslow"] = breslow_fit(times, events, np.asarray(data["covariates"], dtype=float))
    json.dump(out, sys.stdout)


def breslow_fit(times, events, x):
    from scipy.optimize import minimize

    def negative_log_likelihood(beta):
        eta = x @ beta
        ll = 0.0
        for i in range(len(times)):
            if events[i] == 1:
                at_risk = times >= times[i]
                ll += eta[i] - np.log(np.exp(eta[at_risk]).sum())
        return -ll

    result = minimize(negative_log_likelihood, np.zeros(x.shape[1]), method="BFGS", options={"gtol": 1e-10})
    return {"coefficients": result.x.tolist(), "logLikelihood": float(-result.fun)}


if __name__ == "__main__":
    main()
