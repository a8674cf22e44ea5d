"""Generator of notebooks/03_srp.ipynb (draft; kept outside the repo)."""
import sys

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

cells = []
def md(s, tags=()):
    cells.append(new_markdown_cell(s.strip("\n"), metadata={"tags": list(tags)}))
def code(s, tags=()):
    meta = {"tags": list(tags)}
    if "hide-input" in tags:
        meta["jupyter"] = {"source_hidden": True}
    cells.append(new_code_cell(s.strip("\n"), metadata=meta))

md(r"""
# SRP: pruning residual SR networks with a growing regulariser

Filter pruning makes a network smaller by removing whole output channels of its convolutions,
which shrinks parameters, multiply-adds and real latency alike. SR networks resist it: they are
built from residual blocks whose outputs are *added*, so the convolutions that meet at an
addition must keep the same channels. SRP {cite}`srp` fixes one channel set for all of those
*constrained* layers, drives the filters to be removed towards zero with an L2 penalty that
grows during training, and only then cuts them out.

**Overview**
1. Free and constrained layers, read from the model; how rarely per-layer choices agree
2. Why a *growing L2* penalty, and when pruning ends
3. The `sr_lib.pruning` implementation
4. Pruning a trained EDSR-baseline: the filter norms during regularisation (the paper's Fig. 3)
5. SRP against L1-norm pruning and training from scratch (the paper's Table 1)
6. Multiply-adds against measured latency
7. Widgets, exercises, summary
""")
md(r"""
```{admonition} Run this chapter
:class: tip
Open it in Colab with the rocket button at the top of the page. The first cell installs
`sr_lib`. `profile`: `smoke` (a CI check, a few minutes on 2 CPU cores), `book` (what this page
shows), `paper` (the paper's settings: DF2K, LR patches 48, Adam 1e-4, $\Delta = 10^{-4}$,
$T = 20$, $\tau = 0.5$, for a GPU).
```
""")
code(r'''
# Colab: install the book's pinned release of sr_lib (does nothing elsewhere)
import sys
if "google.colab" in sys.modules:
    %pip install -q "sr_lib[widgets,samples] @ git+https://github.com/srbook/srbook@v0.1.0"
''')
code('profile = "smoke"  # "smoke" | "book" | "paper"', tags=["parameters"])
code(r'''
import copy
import inspect
import math

import matplotlib.pyplot as plt
import numpy as np
import torch

import sr_lib
from sr_lib import catalog, evaluate
from sr_lib.complexity import count_macs, count_params, measure_latency
from sr_lib.datasets import SRDataset
from sr_lib.models import build
from sr_lib.notebook import (banner, benchmark_set, check, find_data, in_colab, markdown_table,
                             resolve_profile, widget)
from sr_lib.pruning import (GrowingRegularizer, analyze, filter_scores, mask, n_pruned, plan_l1,
                            plan_srp, prune, schedule_length)

profile = resolve_profile(profile)
torch.manual_seed(0)
SCALE = 2  # the paper's Table 1 is at x2
PROFILES = {
    # CI: a 4-block, 16-map EDSR-baseline, a few dozen iterations per phase
    "smoke": dict(train="T91", limit=12, blocks=4, feats=16, pretrain=40, delta=0.05,
                  interval=1, ceiling=0.5, stabilize=5, finetune=20, batch=4, patch=16,
                  lr=1e-3, ratios=(0.5, 0.9), eval_sets=["Set5"], record_every=2),
    # the rendered book (2-core CPU): 16 blocks of 32 maps, the schedule compressed 100x
    "book": dict(train="291", limit=None, blocks=16, feats=32, pretrain=2000, delta=2e-3,
                 interval=1, ceiling=0.5, stabilize=50, finetune=400, batch=16, patch=24,
                 lr=5e-4, ratios=(0.1, 0.3, 0.5, 0.7, 0.9), eval_sets=["Set5", "Set14", "B100"],
                 record_every=10),
    # the paper: EDSR-baseline (16 x 64), DF2K, LR patches 48, batch 16, Adam 1e-4;
    # Delta 1e-4 every T = 20 iterations up to tau = 0.5 (~100k iterations), 43,150 iterations
    # of stabilisation, then fine-tuning with lr 1e-4 halved every 200k iterations
    "paper": dict(train="DF2K", limit=None, blocks=16, feats=64, pretrain=300_000, delta=1e-4,
                  interval=20, ceiling=0.5, stabilize=43_150, finetune=400_000, batch=16,
                  patch=48, lr=1e-4, ratios=(0.1, 0.3, 0.5, 0.7, 0.9),
                  eval_sets=["Set5", "Set14", "B100", "Urban100"], record_every=500),
}
P = PROFILES[profile]
# tiny smoke models: oneDNN's per-shape set-up costs more than it saves on a CPU (see Chapter 2)
torch.backends.mkldnn.enabled = profile != "smoke"
REG_ITERS = schedule_length(P["delta"], P["interval"], P["ceiling"], P["stabilize"])
banner(profile)
print(f"regularisation phase: {REG_ITERS} iterations (Delta {P['delta']}, T {P['interval']}, "
      f"tau {P['ceiling']}, {P['stabilize']} of stabilisation)")
''')
code(r'''
data = find_data(["Set5", "Set14", "B100", "T91", "BSD200", "DIV2K", "Urban100"],
                 download=in_colab())

if P["train"] in ("DF2K", "DIV2K"):
    train_files = data.get("DIV2K")
    if train_files is None:
        raise RuntimeError("the paper profile trains on DIV2K (+ Flickr2K): place it under SR_DATA")
else:
    train_files = data.get("T91", []) + (data.get("BSD200", []) if P["train"] == "291" else [])
    train_files = train_files[: P["limit"]] if P["limit"] else train_files
train_set = SRDataset(train_files or catalog.sample_images(), SCALE)
set5 = benchmark_set("Set5", SCALE, data)  # cached; sample images when missing

def train(model, name, iters, hooks=(), lr=None):
    cfg = sr_lib.TrainConfig(iterations=iters, batch_size=P["batch"], lr_patch=P["patch"],
                             lr=lr or P["lr"], scheduler="cosine", min_lr=(lr or P["lr"]) / 10,
                             loss="l1", log_every=10, seed=0,
                             ckpt_path=f"runs/ch03_{profile}/{name}.pt", ckpt_every=500)
    return sr_lib.Trainer(model, train_set, cfg, hooks=list(hooks)).fit(resume=True)
''')

md(r"""
## 1. Free and constrained layers

In an EDSR-style network the head convolution's output $h$ is carried by a long skip
connection, and every residual block adds its second convolution's output to it:
$h \leftarrow h + \mathrm{conv}_2(\mathrm{ReLU}(\mathrm{conv}_1(h)))$. Channel $c$ of the
stream is the sum of channel $c$ of the head and of every block's second convolution, so
removing channel $c$ from one of them without the others changes what all the later layers
see. Those layers are **constrained**; the first convolution of each block feeds only the
second one and is **free**. `sr_lib.pruning.analyze` reads this from the model itself, by
tracing it and merging the producers of every addition:
""")
code(r'''
torch.manual_seed(0)
dense = build("edsr-baseline", scale=SCALE, n_resblocks=P["blocks"], n_feats=P["feats"])
structure = analyze(dense)
kinds = {n: "constrained" for n in structure.constrained}
kinds.update({n: "free" for n in structure.free})
kinds.update({n: "not pruned (tail)" for n in structure.skipped})
colors = {"constrained": "tab:red", "free": "tab:blue", "not pruned (tail)": "tab:gray"}
fig, ax = plt.subplots(figsize=(10, 1.8))
for i, n in enumerate(structure.convs):
    ax.bar(i, 1, color=colors[kinds[n]])
ax.set_xticks(range(len(structure.convs)), structure.convs, rotation=90, fontsize=6)
ax.set_yticks([])
ax.legend(handles=[plt.Rectangle((0, 0), 1, 1, color=c) for c in colors.values()],
          labels=list(colors), fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, 1.5))
plt.show()
print(f"{len(structure.constrained)} constrained, {len(structure.free)} free, "
      f"{len(structure.skipped)} tail convolutions")
rcan = analyze(build("srpn", scale=2, width=8, n_resgroups=2, n_resblocks=2))
print(f"nested groups (SRPN, 2 x 2 blocks): {len(rcan.groups)} group of {len(rcan.groups[0])} "
      f"layers, {len(rcan.free)} free")
''')
md(r"""
Leaving the constrained layers unpruned would cap the saving at about half the layers. Pruning
each of them by its own L1 ranking breaks the alignment. Could one prune only the filters that
*every* constrained layer ranks as unimportant? The paper says this intersection is small,
"often empty". We pretrain the dense network and measure it:
""")
code(r'''
hist_dense = train(dense, "dense", P["pretrain"])
dense_score = evaluate(dense, set5, progress=False)
print(f"dense EDSR-baseline ({P['blocks']} x {P['feats']}): {count_params(dense):,} parameters, "
      f"Set5 x{SCALE} {dense_score.mean_psnr:.2f} dB")
modules = dict(dense.named_modules())
rows = []
for r in P["ratios"]:
    sets = []
    for n in structure.constrained:
        s = filter_scores(modules[n])
        k = n_pruned(len(s), r)
        sets.append(set(torch.topk(-s, k).indices.tolist()))
    inter = set.intersection(*sets)
    n = P["feats"]
    expected = n * (n_pruned(n, r) / n) ** len(sets)  # if the rankings were independent
    rows.append({"pruning ratio": r, "filters to prune per layer": n_pruned(n, r),
                 "in every layer's set": len(inter), "expected if independent": expected})
table = markdown_table(rows, floatfmt=".3g")
''')

md(r"""
## 2. A growing L2 penalty

SRP adds to the loss a penalty on the filters it will remove, $\tfrac12 \sum_j \alpha_j
\|W_j\|_2^2$, with $\alpha_j = 0$ for kept filters (the paper's Eq. 4). Its gradient
$\alpha_j W_j$ is **proportional to the weight**: large weights are pulled hard, small ones
gently, and the filter shrinks smoothly towards zero while the rest of the network has time to
take over its job. An L1 penalty's gradient $\alpha_j\,\mathrm{sign}(W_j)$ is the same for
every weight, so it zeroes small weights early and abruptly and is hard to tune. The
coefficient starts at 0 and grows by $\Delta$ every $T$ iterations (Eq. 5) until it exceeds
the ceiling $\tau$; the penalty is then held for a stabilisation phase, and the filters are cut.
Applied through Adam, whose step is normalised, a dominant penalty moves each weight by about
the learning rate per step, so the pruned weights reach zero within a few thousand steps once
$\alpha$ is large.
""")
code(r'''
steps = np.arange(REG_ITERS + 1)
inc = np.minimum(steps // P["interval"], math.floor(P["ceiling"] / P["delta"] + 1e-9) + 1)
w = np.linspace(-1, 1, 201)
fig, ax = plt.subplots(1, 2, figsize=(10, 3))
ax[0].plot(steps, inc * P["delta"])
ax[0].axhline(P["ceiling"], color="gray", ls=":", label="ceiling tau")
ax[0].set(xlabel="iteration", ylabel="alpha", title=f"the schedule ({profile} profile)")
ax[0].legend(fontsize=8)
ax[1].plot(w, w, label="L2: d/dw (w^2 / 2) = w")
ax[1].plot(w, np.sign(w), label="L1: d/dw |w| = sign(w)")
ax[1].set(xlabel="weight w", ylabel="penalty gradient (alpha = 1)", title="what pulls a weight to 0")
ax[1].legend(fontsize=8)
plt.tight_layout(); plt.show()
''')

md(r"""
## 3. The implementation

Selection (`plan_srp`): free layers keep their largest-L1 filters; every constrained layer
keeps the complement of **one** random set, drawn once. The number removed is
$\lceil r N \rceil$ (the released code's rounding, which makes $r = 0.1$ of 64 keep 57). The
penalty is a trainer hook that adds $\alpha W_j$ to the pruned filters' gradients before the
optimiser step:
""")
code(r'''
print(inspect.getsource(GrowingRegularizer.after_backward))
''')
md(r"""
After regularisation, `prune` copies the model with the removed filters, and the matching
input channels of the next layers, physically gone. For an aligned plan the result computes
exactly what the masked network (pruned filters set to zero) computes:
""")
code(r'''
plan = plan_srp(dense, structure, 0.5, seed=0)
small = prune(dense.double(), structure, plan)
x = torch.rand(1, 3, 20, 24, dtype=torch.float64)
with torch.no_grad():
    gap = (small(x) - mask(dense, plan)(x)).abs().max().item()
dense.float()
print(f"{count_params(dense):,} -> {count_params(small):,} parameters; "
      f"max |pruned - masked| = {gap:.1e}")
''')

md(r"""
## 4. Pruning the trained network (the paper's Fig. 3)

We regularise the pretrained network at pruning ratio 0.5 and record the mean $|w|$ of the kept
and the pruned filters of one free and one constrained layer (the paper plots
`body.12.body.0` and `body.12.body.2`).
""")
code(r'''
def srp(ratio, record=False):
    model = copy.deepcopy(dense)
    plan = plan_srp(model, structure, ratio, seed=0)
    reg = GrowingRegularizer(model, plan, P["delta"], P["interval"], P["ceiling"], P["stabilize"],
                             record_every=P["record_every"] if record else 0)
    train(model, f"srp_reg_{ratio}", REG_ITERS, hooks=[reg])
    return model, plan, reg

reg_model, reg_plan, reg = srp(0.5, record=True)
block = min(12, P["blocks"] - 1)
layers = [f"body.{block}.body.0", f"body.{block}.body.2"]
fig, axes = plt.subplots(1, 2, figsize=(10, 3))
for ax, name in zip(axes, layers):
    steps_ = [h["step"] for h in reg.history]
    ax.plot(steps_, [h[name][0] for h in reg.history], label="kept filters")
    ax.plot(steps_, [h[name][1] for h in reg.history], "--", label="pruned filters")
    ax.set(title=f"{name} ({kinds[name]})", xlabel="iteration", ylabel="mean |w|")
    ax.legend(fontsize=8)
plt.tight_layout(); plt.show()
''')
md(r"""
## 5. SRP against L1-norm pruning and training from scratch (Table 1)

For each ratio, three ways to reach the *same* compact architecture:

* **Scratch:** train it from random weights for as many iterations as the dense pretraining
  plus the pruning and fine-tuning phases;
* **L1-norm** (Li et al.): cut every layer's smallest-L1 filters at once, without aligning the
  constrained layers, and fine-tune;
* **SRP:** the growing penalty, then the cut, then the same fine-tuning.
""")
code(r'''
def finetune(model, name, iters):
    train(model, name, iters)
    return model

sets = {name: benchmark_set(name, SCALE, data) for name in P["eval_sets"]}
rows, others, results = [], [], {}
PAPER_T1 = {0.1: (37.85, 37.91, 37.97), 0.3: (37.81, 37.81, 37.89), 0.5: (37.75, 37.73, 37.84),
            0.7: (37.56, 37.58, 37.71), 0.9: (36.74, 36.87, 37.28)}
for r in P["ratios"]:
    kept = P["feats"] - n_pruned(P["feats"], r)
    torch.manual_seed(0)
    scratch = build("edsr-baseline", scale=SCALE, n_resblocks=P["blocks"], n_feats=kept,
                    tail_feats=P["feats"])
    train(scratch, f"scratch_{r}", P["pretrain"] + REG_ITERS + P["finetune"])
    # L1-norm: cut at once, then fine-tune for as long as SRP regularises and fine-tunes
    l1 = finetune(prune(dense, structure, plan_l1(dense, structure, r)), f"l1_{r}",
                  REG_ITERS + P["finetune"])
    model, plan, _ = (reg_model, reg_plan, None) if r == 0.5 else srp(r)
    cut = prune(model, structure, plan)
    after_cut = evaluate(cut, set5, progress=False).mean_psnr
    srp_model = finetune(cut, f"srp_{r}", P["finetune"])
    results[r] = {"Scratch": scratch, "L1-norm": l1, "SRP": srp_model}
    s = {(k, n): evaluate(m, ds, progress=False).mean_psnr
         for k, m in results[r].items() for n, ds in sets.items()}
    paper = PAPER_T1.get(r)
    rows.append({"ratio": r, "params": f"{count_params(srp_model):,}",
                 "GMACs (1280x720 out)": count_macs(srp_model, output_size=(720, 1280)) / 1e9,
                 **{k: s[k, "Set5"] for k in results[r]},
                 "SRP right after the cut": after_cut,
                 "paper (Scratch / L1 / SRP)": " / ".join(f"{v:.2f}" for v in paper) if paper else "-"})
    others.append({"ratio": r, **{f"{n} {k}": s[k, n] for n in sets if n != "Set5"
                                  for k in results[r]}})
dense_scores = {n: evaluate(dense, ds, progress=False).mean_psnr for n, ds in sets.items()}
print(f"Set5 x{SCALE} PSNR (dB), profile {profile}; dense model {dense_scores['Set5']:.2f} dB "
      f"(paper: EDSR-baseline 37.99)")
table = markdown_table(rows)
''')
md(r"""
The paper reports Table 1 on Set5 only. The other test sets, for the same models (dense model
stated above the table):
""")
code(r'''
print("dense model: " + ", ".join(f"{n} {v:.2f} dB" for n, v in dense_scores.items()))
table = markdown_table(others)
''')

md(r"""
## 6. Multiply-adds against measured latency

The literature counts multiply-adds for a $1280\times720$ **output** (at $\times2$ a
$640\times360$ input), a convention that makes models of different scales comparable. Filter
pruning removes whole channels, so the count falls roughly with the square of the kept
fraction. Does the wall clock follow?
""")
code(r'''
rows = []
for r in (0.0, *P["ratios"]):
    m = dense if r == 0 else results[r]["SRP"]
    lat = measure_latency(m, (90, 160), repeats=5, warmup=2)
    rows.append({"ratio": r, "MACs": count_macs(m, output_size=(180, 320)),
                 "latency (ms, 160x90 in)": lat["median_ms"]})
base_macs, base_ms = rows[0]["MACs"], rows[0]["latency (ms, 160x90 in)"]
for row in rows:  # relative to the dense network, all measured in the same loop
    row["MACs kept"] = row["MACs"] / base_macs
    row["latency kept"] = row["latency (ms, 160x90 in)"] / base_ms
    row["MACs"] = f"{row['MACs'] / 1e9:.2f} G"
print(f"CPU, {torch.get_num_threads()} threads, median of 5")
table = markdown_table(rows, floatfmt=".3f")
''')

md("## 7. Interactive")
code(r'''
def sizes(ratio=0.5, feats=64):
    """Parameters, multiply-adds and CPU latency of a pruned EDSR-baseline (16 blocks)."""
    kept = int(feats) - n_pruned(int(feats), float(ratio))
    m = build("edsr-baseline", scale=2, n_feats=kept, tail_feats=int(feats))
    ms = measure_latency(m, (45, 80), repeats=3, warmup=1)["median_ms"]
    print(f"ratio {ratio:.2f}: {kept} of {int(feats)} maps kept, {count_params(m):,} parameters, "
          f"{count_macs(m, output_size=(720, 1280)) / 1e9:.1f} G multiply-adds at 1280x720, "
          f"{ms:.0f} ms for an 80x45 input on this CPU")

widget(sizes, ratio=(0.0, 0.95, 0.05), feats=[64, 128, 256])
''')
code(r'''
def trajectories(layer=layers[0]):
    steps_ = [h["step"] for h in reg.history]
    plt.figure(figsize=(5, 3))
    plt.plot(steps_, [h[layer][0] for h in reg.history], label="kept")
    plt.plot(steps_, [h[layer][1] for h in reg.history], "--", label="pruned")
    plt.title(f"{layer} ({kinds[layer]})"); plt.xlabel("iteration"); plt.ylabel("mean |w|")
    plt.legend(fontsize=8); plt.show()

widget(trajectories, layer=[n for n in structure.convs if n in reg_plan])
''')

md(r"""
## Exercises

### Exercise 1: the ratio convention
Write `kept_filters(n, ratio)` following the released code: remove `ceil(ratio * n)` filters
but always keep at least one. Check it gives 57 / 44 / 32 / 19 / 6 for $n = 64$ and the
ratios of Table 1, and 45 for SRPN-Lite ($n = 256$, ratio $211/256$).
""")
code(r'''
def kept_filters(n, ratio):
    raise NotImplementedError("Exercise 1")
''')
code(r'''
def kept_filters(n, ratio):
    return max(1, n - math.ceil(ratio * n - 1e-9))

print([kept_filters(64, r) for r in (0.1, 0.3, 0.5, 0.7, 0.9)], kept_filters(256, 211 / 256))
''', tags=["hide-input"])
code(r'''
check(all(kept_filters(n, r) == n - n_pruned(n, r) for n in (6, 64, 96, 256)
          for r in (0.0, 0.1, 0.34, 0.5, 0.9, 0.99)),
      "your rounding matches sr_lib.pruning.n_pruned", "use math.ceil and keep at least one filter")
''')
md(r"""
### Exercise 2: the size of the intersection
If each of $L$ constrained layers chose its $k$ pruned filters out of $N$ independently and
uniformly, how many filters would all of them choose, on average? Write
`expected_intersection(N, k, L)` and compare with the measured intersections of Section 1.
""")
code(r'''
def expected_intersection(N, k, L):
    raise NotImplementedError("Exercise 2")
''')
code(r'''
def expected_intersection(N, k, L):
    # each filter is in one layer's set with probability k / N, in all L with (k / N)^L
    return N * (k / N) ** L

print(expected_intersection(64, 32, 17))  # about 5e-4: practically always empty
''', tags=["hide-input"])
code(r'''
check(abs(expected_intersection(64, 32, 1) - 32) < 1e-9 and expected_intersection(64, 32, 17) < 1e-3,
      "one layer keeps its own k; many layers almost never agree", "N * (k / N) ** L")
''')
md(r"""
### Exercise 3: L1 instead of L2
Replace the growing L2 penalty by a growing L1 one: write a hook `GrowingL1` (subclass
`GrowingRegularizer` and override `after_backward` to add $\alpha\,\mathrm{sign}(W_j)$) and
train one small network with it for a few dozen iterations. What happens to the pruned
filters' norms compared with L2 at the same $\alpha$?
""")
code(r'''
class GrowingL1(GrowingRegularizer):
    def after_backward(self, trainer):
        raise NotImplementedError("Exercise 3")
''')
code(r'''
class GrowingL1(GrowingRegularizer):
    def after_backward(self, trainer):
        for conv, idx, _ in self.layers.values():
            if self.alpha and conv.weight.grad is not None:
                conv.weight.grad[idx] += self.alpha * conv.weight.detach()[idx].sign()

def pruned_norm(hook_cls, iters=20):
    m = copy.deepcopy(dense)
    p = plan_srp(m, structure, 0.5)
    hook = hook_cls(m, p, delta=0.05, interval=1, ceiling=5.0, record_every=iters)
    cfg = sr_lib.TrainConfig(iterations=iters, batch_size=4, lr_patch=16, lr=P["lr"], progress=False)
    sr_lib.Trainer(m, train_set, cfg, hooks=[hook]).fit()
    return np.mean([hook.history[-1][n][1] for n in p])

print(f"mean |w| of pruned filters after 20 steps: L2 {pruned_norm(GrowingRegularizer):.4f}, "
      f"L1 {pruned_norm(GrowingL1):.4f}")
''', tags=["hide-input"])
code(r'''
m = copy.deepcopy(dense)
p = plan_srp(m, structure, 0.5)
h = GrowingL1(m, p, delta=1.0, interval=1, ceiling=5.0)
h.increments = 1
conv, idx, _ = next(iter(h.layers.values()))
conv.weight.grad = torch.zeros_like(conv.weight)
h.after_backward(None)
check(torch.allclose(conv.weight.grad[idx], conv.weight.detach()[idx].sign()),
      "your hook adds alpha * sign(W) to the pruned filters", "loop over self.layers, use .sign()")
''')
md(r"""
## Summary

SUMMARY_PLACEHOLDER
""")

nb = new_notebook(cells=cells)
nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
nb.metadata["language_info"] = {"name": "python"}
out = sys.argv[1] if len(sys.argv) > 1 else "/work/main/notebooks/drafts/03_srp.ipynb"
nbformat.write(nb, out)
print(len(cells), "cells ->", out)
