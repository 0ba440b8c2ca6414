"""Cross-check of test/oracles/sampler_reference.py against diffusers itself (not run in CI:
needs torch + diffusers, e.g. in training/.venv with `pip install diffusers==0.42.1`).

  training/.venv/bin/python test/oracles/sampler_diffusers_crosscheck.py --float64

With --float64 the schedulers' alphas are recomputed in float64: DDPM and DDIM then agree with
the oracle to ~1e-14; DPM-Solver++ to float32 rounding (diffusers upcasts the step to float32).
Without it, diffusers' float32 schedules differ at ~1e-5.
"""
import json, sys
import numpy as np, torch
sys.path.insert(0, "test/oracles")
import sampler_reference as ref
from diffusers import DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler

def run_diffusers(case):
    cfg = case["schedule"]; T = cfg["numTrainTimesteps"]; n = case["steps"]; method = case["method"]
    kw = dict(num_train_timesteps=T, beta_schedule=cfg["betaSchedule"], beta_start=cfg["betaStart"], beta_end=cfg["betaEnd"])
    if method == "ddpm": s = DDPMScheduler(**kw, clip_sample=False, variance_type="fixed_small")
    elif method == "ddim": s = DDIMScheduler(**kw, clip_sample=False, set_alpha_to_one=True)
    else: s = DPMSolverMultistepScheduler(**kw, algorithm_type="dpmsolver++", solver_order=2, final_sigmas_type="zero", lower_order_final=True)
    if "--float64" in sys.argv:
        import math
        T_ = T
        if cfg["betaSchedule"] == "squaredcos_cap_v2":
            f = lambda t: math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2
            betas = torch.tensor([min(1 - f((i + 1) / T_) / f(i / T_), 0.999) for i in range(T_)], dtype=torch.float64)
        elif cfg["betaSchedule"] == "linear":
            betas = torch.linspace(cfg["betaStart"], cfg["betaEnd"], T_, dtype=torch.float64)
        else:
            betas = torch.linspace(cfg["betaStart"] ** 0.5, cfg["betaEnd"] ** 0.5, T_, dtype=torch.float64) ** 2
        s.betas = betas; s.alphas = 1 - betas; s.alphas_cumprod = torch.cumprod(s.alphas, 0)
        if hasattr(s, "alpha_t"):
            s.alpha_t = torch.sqrt(s.alphas_cumprod); s.sigma_t = torch.sqrt(1 - s.alphas_cumprod); s.lambda_t = torch.log(s.alpha_t) - torch.log(s.sigma_t)
    s.set_timesteps(n)
    x = torch.tensor(case["x"], dtype=torch.float64).reshape(1, -1)
    traj = []
    a, b = case["epsScale"], case["epsShift"]
    for i, t in enumerate(s.timesteps):
        eps = a * x + b * int(t) / T
        noise = torch.tensor(case["noises"][i], dtype=torch.float64)
        if method == "ddpm":
            import diffusers.schedulers.scheduling_ddpm as mod
            mod.randn_tensor = lambda *args, **kw: noise.reshape(1, -1)
            x = s.step(eps, t, x).prev_sample
        elif method == "ddim":
            x = s.step(eps, t, x, eta=case["eta"], variance_noise=noise.reshape(1, -1)).prev_sample
        else:
            x = s.step(eps, t, x).prev_sample
        traj.append(x.numpy().tolist())
    return traj

rng = np.random.default_rng(0)
worst = 0
for sched in [dict(numTrainTimesteps=1000, betaSchedule="linear", betaStart=1e-4, betaEnd=0.02), dict(numTrainTimesteps=1000, betaSchedule="scaled_linear", betaStart=0.0015, betaEnd=0.0195), dict(numTrainTimesteps=200, betaSchedule="squaredcos_cap_v2", betaStart=1e-4, betaEnd=0.02)]:
    for method, steps, eta in [("ddpm", 20, 0), ("ddim", 10, 0), ("ddim", 25, 0.7), ("dpm-solver++", 10, 0), ("dpm-solver++", 20, 0)]:
        case = dict(schedule=sched, method=method, steps=steps, eta=eta, x=rng.normal(size=32).tolist(), noises=rng.normal(size=(steps, 32)).tolist(), epsScale=0.3, epsShift=0.05)
        r = ref.run(case)["trajectory"]; d = run_diffusers(case)
        err = max(np.max(np.abs(np.array(a) - np.array(b))) for a, b in zip(r, d))
        worst = max(worst, err)
        print(sched["betaSchedule"], method, steps, eta, "max abs diff oracle vs diffusers", f"{err:.2e}")
print("worst", worst)
