"""Export forms of the heuristic's survival graph on onnxruntime (Python, CPU provider, 1 thread):
the shipped weights rebuilt from the graph's initializers (convolutions and linear layers by name,
GroupNorm affines in graph order), exported as models.for_onnxruntime and variants, each checked
against the module, then timed round-robin (thread CPU ms per call of `--batch` crops, best and
median of the rounds).

    training/.venv/bin/python bench/heuristic_variants.py [--base models/demo/heuristic] [--base-rev fe78f88] [--batch 5] [--rounds 9]

"0.3.0" is the base graph itself (0.3.0 at fe78f88; the 0.3.1 graph cannot be rebuilt from).
"""
import argparse, sys, time, collections, tempfile
from pathlib import Path
import numpy as np, torch, onnxruntime as ort
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from training import models as M  # noqa: E402
from training.reexport_heuristic import survival_form, torch_survival  # noqa: E402
from training.reexport_segmenter import base_at  # noqa: E402
ap = argparse.ArgumentParser()
ap.add_argument("--base", default="models/demo/heuristic")
ap.add_argument("--base-rev", default="fe78f88", help="git revision of the base folder (fe78f88: heuristic 0.3.0); '' for the folder as it is")
ap.add_argument("--batch", type=int, default=5)
ap.add_argument("--rounds", type=int, default=9)
args = ap.parse_args()
torch.set_num_threads(1)
path = str(base_at(Path(args.base), args.base_rev or None) / "survival.onnx")
net = torch_survival(Path(path))
g = torch.Generator().manual_seed(0)
B = args.batch
pre = torch.cat([torch.rand((B, 1, 32, 32, 32), generator=g) * 2 - 1, (torch.rand((B, 2, 32, 32, 32), generator=g) > 0.6).float()], 1)
post = torch.cat([torch.rand((B, 1, 32, 32, 32), generator=g) * 2 - 1, (torch.rand((B, 2, 32, 32, 32), generator=g) > 0.6).float()], 1)
so = ort.SessionOptions(); so.intra_op_num_threads = 1; so.inter_op_num_threads = 1
so.add_session_config_entry("session.intra_op.allow_spinning", "0")
feeds = {"pre": pre.numpy(), "post": post.numpy()}
with torch.no_grad():
    want = net(pre, post)
def sess(p): return ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])
print("rebuilt vs graph", [float(np.abs(a - b.numpy()).max()) for a, b in zip(sess(path).run(["risk", "log_os"], feeds), want)])
paths = {"0.3.0": path}  # the base graph
d = tempfile.mkdtemp()
fast = M.for_onnxruntime(net)
slab = M.for_onnxruntime(net)
slab.pre_net.net[3].c1 = M.Conv3dAs2dSlab(net.pre_net.net[3].c1); slab.pre_net.net[3].c2 = M.Conv3dAs2dSlab(net.pre_net.net[3].c2)
first3d = M.for_onnxruntime(net)
first3d.pre_net.net[0] = net.pre_net.net[0]
both = survival_form(net)  # shipped as 0.3.1
variants = (("for_onnxruntime", fast), ("+ slab2 at 16^3", slab), ("first conv Conv3d", first3d), ("first Conv3d + slab2 at 16^3 (0.3.1)", both))
for name, m in variants:
    p = f"{d}/v{len(paths)}.onnx"
    with torch.no_grad():
        torch.onnx.export(m, (pre[:2], post[:2]), p, input_names=["pre", "post"], output_names=["risk", "log_os"],
                          dynamic_axes={k: {0: "batch"} for k in ("pre", "post", "risk", "log_os")}, opset_version=17, dynamo=False)
    paths[name] = p
    print(name, "vs module", [float(np.abs(a - b.numpy()).max()) for a, b in zip(sess(p).run(["risk", "log_os"], feeds), want)])
ss = {k: sess(p) for k, p in paths.items()}
for s in ss.values(): s.run(None, feeds)
cpu = collections.defaultdict(list)
for _ in range(args.rounds):
    for k, s in ss.items():
        t = time.thread_time()
        for _ in range(10): s.run(None, feeds)
        cpu[k].append((time.thread_time() - t) * 100)
print(f"onnxruntime {ort.__version__}, batch {B}, 1 thread, {args.rounds} rounds of 10 calls")
for k in ss: print(f"{k:30} CPU ms/call best {min(cpu[k]):.2f} median {np.median(cpu[k]):.2f}  {min(cpu['0.3.0'])/min(cpu[k]):.2f}x")
