"""Reference diffusion samplers in numpy, transcribing diffusers' schedulers line by line.

Mirrors diffusers (v0.3x) DDPMScheduler (variance_type="fixed_small", timestep_spacing="leading"),
DDIMScheduler (set_alpha_to_one=True, timestep_spacing="leading", steps_offset=0) and
DPMSolverMultistepScheduler (algorithm_type="dpmsolver++", solver_order=2, solver_type="midpoint",
timestep_spacing="linspace", lower_order_final=True, final_sigmas_type="zero"), in float64.

Protocol: one JSON object on stdin, one JSON object on stdout.
  {"schedule": {numTrainTimesteps, betaSchedule, betaStart, betaEnd},
   "method": "ddpm" | "ddim" | "dpm-solver++", "steps": N, "eta": float,
   "x": [...], "noises": [[...] per step], "epsScale": a, "epsShift": b}
The model is the closed form eps(x, t) = epsScale * x + epsShift * t / T, so the whole chain
can be replayed in TypeScript with the same numbers.
Output: {"alphasCumprod": [...], "timesteps": [...], "trajectory": [[x after each step]]}.
"""
import json
import math
import sys

import numpy as np


def betas_for_alpha_bar(num_diffusion_timesteps, max_beta=0.999):
    def alpha_bar_fn(t):
        return math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2

    betas = []
    for i in range(num_diffusion_timesteps):
        t1 = i / num_diffusion_timesteps
        t2 = (i + 1) / num_diffusion_timesteps
        betas.append(min(1 - alpha_bar_fn(t2) / alpha_bar_fn(t1), max_beta))
    return np.array(betas, dtype=np.float64)


def make_alphas_cumprod(cfg):
    T = cfg["numTrainTimesteps"]
    kind = cfg["betaSchedule"]
    if kind == "linear":
        betas = np.linspace(cfg["betaStart"], cfg["betaEnd"], T, dtype=np.float64)
    elif kind == "scaled_linear":
        betas = np.linspace(cfg["betaStart"] ** 0.5, cfg["betaEnd"] ** 0.5, T, dtype=np.float64) ** 2
    elif kind == "squaredcos_cap_v2":
        betas = betas_for_alpha_bar(T)
    else:
        raise ValueError(f"unknown beta schedule {kind}")
    return np.cumprod(1.0 - betas, axis=0)


def ddpm_step(ac, T, n, t, sample, eps, noise):
    prev_t = t - T // n
    alpha_prod_t = ac[t]
    alpha_prod_t_prev = ac[prev_t] if prev_t >= 0 else 1.0
    beta_prod_t = 1 - alpha_prod_t
    beta_prod_t_prev = 1 - alpha_prod_t_prev
    current_alpha_t = alpha_prod_t / alpha_prod_t_prev
    current_beta_t = 1 - current_alpha_t
    pred_original_sample = (sample - beta_prod_t ** 0.5 * eps) / alpha_prod_t ** 0.5
    coef_x0 = (alpha_prod_t_prev ** 0.5 * current_beta_t) / beta_prod_t
    coef_xt = current_alpha_t ** 0.5 * beta_prod_t_prev / beta_prod_t
    pred_prev = coef_x0 * pred_original_sample + coef_xt * sample
    if t > 0:
        variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * current_beta_t
        variance = max(variance, 1e-20)
        pred_prev = pred_prev + variance ** 0.5 * noise
    return pred_prev


def ddim_step(ac, T, n, t, sample, eps, eta, noise):
    prev_t = t - T // n
    alpha_prod_t = ac[t]
    alpha_prod_t_prev = ac[prev_t] if prev_t >= 0 else 1.0
    beta_prod_t = 1 - alpha_prod_t
    pred_original_sample = (sample - beta_prod_t ** 0.5 * eps) / alpha_prod_t ** 0.5
    pred_epsilon = eps
    variance = (1 - alpha_prod_t_prev) / beta_prod_t * (1 - alpha_prod_t / alpha_prod_t_prev)
    std_dev_t = eta * variance ** 0.5
    direction = (1 - alpha_prod_t_prev - std_dev_t ** 2) ** 0.5 * pred_epsilon
    prev = alpha_prod_t_prev ** 0.5 * pred_original_sample + direction
    if eta > 0:
        prev = prev + std_dev_t * noise
    return prev


def run(case):
    cfg = case["schedule"]
    T = cfg["numTrainTimesteps"]
    n = case["steps"]
    method = case["method"]
    ac = make_alphas_cumprod(cfg)
    x = np.array(case["x"], dtype=np.float64)
    noises = [np.array(z, dtype=np.float64) for z in case["noises"]]
    a, b = case["epsScale"], case["epsShift"]

    def model(x, t):
        return a * x + b * t / T

    trajectory = []
    if method in ("ddpm", "ddim"):
        step_ratio = T // n
        timesteps = (np.arange(0, n) * step_ratio).round()[::-1].astype(np.int64)
        for i, t in enumerate(timesteps):
            eps = model(x, int(t))
            if method == "ddpm":
                x = ddpm_step(ac, T, n, int(t), x, eps, noises[i])
            else:
                x = ddim_step(ac, T, n, int(t), x, eps, case["eta"], noises[i])
            trajectory.append(x.tolist())
    elif method == "dpm-solver++":
        timesteps = np.linspace(0, T - 1, n + 1).round()[::-1][:-1].copy().astype(np.int64)
        sigmas_all = np.array(((1 - ac) / ac) ** 0.5)
        sigmas = np.interp(timesteps, np.arange(0, len(sigmas_all)), sigmas_all)
        sigmas = np.concatenate([sigmas, [0.0]])

        def alpha_sigma(s):
            alpha_t = 1 / ((s ** 2 + 1) ** 0.5)
            return alpha_t, s * alpha_t

        outputs = [None, None]
        lower_order_nums = 0
        for step_index, t in enumerate(timesteps):
            eps = model(x, int(t))
            alpha_t, sigma_t = alpha_sigma(sigmas[step_index])
            x0 = (x - sigma_t * eps) / alpha_t
            outputs = [outputs[1], x0]
            lower_order_final = step_index == len(timesteps) - 1  # final_sigmas_type == "zero"
            if lower_order_nums < 1 or lower_order_final:
                s_t, s_s = sigmas[step_index + 1], sigmas[step_index]
                a_t, s_t = alpha_sigma(s_t)
                a_s, s_s = alpha_sigma(s_s)
                with np.errstate(divide="ignore"):
                    lambda_t = np.log(a_t) - np.log(s_t)
                lambda_s = np.log(a_s) - np.log(s_s)
                h = lambda_t - lambda_s
                x = (s_t / s_s) * x - (a_t * (np.exp(-h) - 1.0)) * x0
            else:
                s_t, s_s0, s_s1 = sigmas[step_index + 1], sigmas[step_index], sigmas[step_index - 1]
                a_t, s_t = alpha_sigma(s_t)
                a_s0, s_s0 = alpha_sigma(s_s0)
                a_s1, s_s1 = alpha_sigma(s_s1)
                lambda_t = np.log(a_t) - np.log(s_t)
                lambda_s0 = np.log(a_s0) - np.log(s_s0)
                lambda_s1 = np.log(a_s1) - np.log(s_s1)
                m0, m1 = outputs[1], outputs[0]
                h, h_0 = lambda_t - lambda_s0, lambda_s0 - lambda_s1
                r0 = h_0 / h
                D0, D1 = m0, (1.0 / r0) * (m0 - m1)
                x = (s_t / s_s0) * x - (a_t * (np.exp(-h) - 1.0)) * D0 - 0.5 * (a_t * (np.exp(-h) - 1.0)) * D1
            if lower_order_nums < 2:
                lower_order_nums += 1
            trajectory.append(x.tolist())
    else:
        raise ValueError(f"unknown method {method}")
    return {"alphasCumprod": ac.tolist(), "timesteps": [int(t) for t in timesteps], "trajectory": trajectory}


if __name__ == "__main__":
    json.dump(run(json.load(sys.stdin)), sys.stdout)
