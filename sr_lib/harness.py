"""One way to run a chapter: profile, data, trainings by name and seed, scores, claims, records.

Every chapter used to rewrite the same scaffolding: a preamble, the training-set line, a
``train()`` helper with its own checkpoint layout, per-seed scoring and a claims table. A
notebook now builds one :class:`Chapter` and calls it::

    ch = Chapter("ch00", profile)                 # banner, profile, data (with its fallback)
    train = ch.train_set(scale=2, channels="y")
    model = build("vdsr", scale=2, width=ch.P.width, depth=ch.P.depth)
    ch.train(model, "vdsr", config, train)        # runs/ch00_<profile>/seed0/vdsr.pt
    ch.score(model, "vdsr")                       # memoised per-image scores
    ch.provenance()                               # where and when each result was trained

A checkpoint is resumed only when its record (:mod:`sr_lib.records`) matches the settings and
the code of this run; otherwise it is retrained and the chapter prints why. Each training says
whether it was "trained in this run"; :meth:`Chapter.provenance` tabulates every one and leaves
a machine-readable copy in the notebook for ``scripts/provenance.py check``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import torch

from . import catalog, chapters, records, stats
from .datasets import SRDataset
from .errors import ResumeRefused, SRLibError
from .notebook import (
    Scoreboard,
    banner,
    benchmark_set,
    find_data,
    in_colab,
    markdown_table,
    markdown_text,
    resolve_profile,
)
from .train import History, TrainConfig, Trainer

RECORDS_KEY = "srbook_records"  # output metadata that scripts/provenance.py check reads
_TRAIN_PARTS = {"291": ("T91", "BSD200")}


class Chapter:
    """A chapter's run: its profile settings ``P``, its seeds, its data and its results."""

    def __init__(self, key: str, profile: str, seeds: Sequence[int] | None = None,
                 data: Sequence[str] = ("Set5", "Set14", "B100", "T91", "BSD200"),
                 runs: str | Path = "runs") -> None:
        self.key = key
        self.profile = resolve_profile(profile)
        self.P = chapters.params(key, self.profile)
        self.seeds = tuple(seeds) if seeds is not None else tuple(self.P.seeds)
        self.root = Path(runs) / f"{key}_{self.profile}"
        banner(self.profile)
        self.data = find_data(list(data), download=in_colab())
        self.scores = Scoreboard(self.data, list(self.P.eval_sets))
        self.trained: dict[tuple[str, int], dict] = {}

    # -- data ---------------------------------------------------------------------------
    def has(self, name: str) -> bool:
        """Whether the benchmark or training set ``name`` was found."""
        return name in self.data

    def test_set(self, name: str, scale: int, channels: str = "rgb") -> SRDataset:
        """A benchmark set (cached); the scikit-image samples stand in, with a notice, when it
        is missing, so the chapter still runs and says which numbers are not benchmark ones."""
        return benchmark_set(name, scale, self.data, channels)

    def train_files(self) -> list[Path]:
        """The profile's training images (``P.train``, capped at ``P.train_limit``)."""
        parts = _TRAIN_PARTS.get(self.P.train, (self.P.train,))
        files = [f for part in parts for f in self.data.get(part, [])]
        if not files and self.P.train not in self.data:
            try:
                files = catalog.find(self.P.train)
            except SRLibError:
                files = []
        return files[: self.P.train_limit] if self.P.train_limit else files

    def train_set(self, scale: int, channels: str = "rgb") -> SRDataset:
        """The training set at ``scale``, or three sample images (with a notice) without data."""
        files = self.train_files()
        if files:
            return SRDataset(files, scale, channels=channels)
        print(f"[data] no {self.P.train} training images: using three scikit-image samples")
        names = ["astronaut", "chelsea", "rocket"]
        return SRDataset(catalog.sample_images(tuple(names)), scale, channels=channels,
                         names=names)

    # -- training -----------------------------------------------------------------------
    def build(self, name: str, seed: int = 0, **options) -> torch.nn.Module:
        """A registered model whose initial weights follow ``seed`` (like its batches)."""
        from .device import seed_everything
        from .models import build

        seed_everything(seed)
        return build(name, **options)

    def checkpoint(self, name: str, seed: int = 0) -> Path:
        """The one checkpoint layout: ``runs/<chapter>_<profile>/seed<k>/<name>.pt``."""
        return self.root / f"seed{seed}" / f"{name}.pt"

    def train(self, model: torch.nn.Module, name: str, config: TrainConfig, data,
              hooks: Sequence = (), seed: int = 0, val_data=None,
              quiet: bool = False) -> History:
        """Train ``model`` as ``name`` with ``seed``: resumed when its checkpoint was written
        by the same settings and code, retrained (saying why) otherwise; prints one line on
        where and when the result was trained, and keeps the record for :meth:`provenance`."""
        config = replace(config, ckpt_path=str(self.checkpoint(name, seed)), seed=seed)
        trainer = Trainer(model, data, config, hooks=list(hooks), val_data=val_data)
        try:
            history = trainer.fit(resume=True)
        except ResumeRefused as exc:
            print(f"[retrain] {name}, seed {seed}: its checkpoint does not match this run ("
                  + "; ".join(exc.differences) + ")")
            history = trainer.fit(resume=False)
        model.cpu()  # trained on the best device; cells feed it CPU tensors
        self.trained[name, seed] = trainer.record
        if not quiet:
            print(f"[{name}, seed {seed}] {records.describe(trainer.record)}")
        return history

    def fitter(self, config: TrainConfig | Callable[[str], TrainConfig], data,
               seed: int = 0, hooks: Sequence = (), quiet: bool = False
               ) -> Callable[..., None]:
        """A ``fit`` for the method recipes (:mod:`sr_lib.pruning.recipes`,
        :func:`sr_lib.importance.ail_finetune`): every phase they run is trained by
        :meth:`train` under its own name and ``seed``, with ``config`` (or ``config(phase)``,
        a schedule per phase), the phase's iterations and options, and ``hooks`` added
        (``quiet``: no line per phase; :meth:`provenance` still lists every one)."""
        def fit(model, name, iterations, phase_hooks=(), phase="train", dataset=None,
                **options):
            base = config(phase) if callable(config) else config
            cfg = replace(base, iterations=int(iterations), **options)
            self.train(model, name, cfg, dataset if dataset is not None else data,
                       [*hooks, *phase_hooks], seed=seed, quiet=quiet)
        return fit

    def budget(self, name: str, seed: int | None = None, model=None,
               after: Sequence[str] = ()) -> stats.Budget:
        """The training budget a result's record states (parameters too, given the model).
        ``after``: the earlier trainings that the result continues (a pruned network's dense
        pretraining and its regularisation, say), whose steps and samples count as well."""
        seed = self.seeds[0] if seed is None else seed
        total = None
        for part in (*after, name):
            if (part, seed) not in self.trained:
                raise SRLibError(f"{part!r} (seed {seed}) was not trained in this chapter run")
            spent = stats.Budget.from_record(self.trained[part, seed])
            total = spent if total is None else total + spent
        if model is not None:
            total = replace(total, params=sum(p.numel() for p in model.parameters()))
        return total

    def publish(self, model: torch.nn.Module, name: str, seed: int = 0,
                build: Mapping | None = None) -> Path:
        """Keep a network trained in this run for use outside the notebook (the book's
        in-browser page): its weights, how to build it (``build``: the registered name and
        options) and its training record. A ``book`` run from the repository writes to the
        repository's ``book/web/``, where the page's set-up finds it; any other run, to
        ``runs/<chapter>_<profile>/published/``. Read it back with :func:`load_published`."""
        from .weights import save_weights

        if (name, seed) not in self.trained:
            raise SRLibError(f"{name!r} (seed {seed}) was not trained in this chapter run; "
                             "publish only what ch.train trained here")
        if not build or "name" not in build:
            raise SRLibError("publish needs build={'name': <registered model>, **options} so "
                             "that the weights can be rebuilt")
        web = Path.cwd().parent / "book" / "web"
        folder = web if self.profile == "book" and web.is_dir() else self.root / "published"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.key}_{name}.pt"
        save_weights(model, path, build=dict(build), chapter=self.key, profile=self.profile,
                     seed=seed, record=self.trained[name, seed])
        where = path.relative_to(web.parent.parent) if folder == web else path
        print(f"[publish] {name}, seed {seed}: {where}")
        return path

    # -- scores and claims ----------------------------------------------------------------
    def score(self, model: torch.nn.Module, name: str, seed: int = 0, scale: int = 2,
              sets: Sequence[str] | None = None) -> dict[str, tuple[float, float]]:
        """Mean (Y-PSNR, SSIM) per test set of a trained network, memoised by name and seed."""
        return self.scores(model, f"{name}@{seed}", scale, list(sets) if sets else None)

    def add_scores(self, name: str, seed: int, per_image: Sequence[float], scale: int = 2,
                   set_name: str = "Set5") -> None:
        """Per-image PSNRs computed elsewhere (an unrolled model's intermediate estimates, say)
        under ``name`` and ``seed``, so that :meth:`claims` can judge them like any score."""
        self.scores.add(f"{name}@{seed}", scale, set_name, per_image)

    def mean(self, name: str, scale: int = 2, set_name: str = "Set5") -> tuple[float, float]:
        """Mean (Y-PSNR, SSIM) of ``name`` on one set, over the seeds it was scored with."""
        seeds = self.scored_seeds(name, scale, [set_name])
        if not seeds:
            raise SRLibError(f"{name!r} was not scored on {set_name} at x{scale}; score it with "
                             "ch.score(model, name, seed, scale) first")
        values = [self.scores.results[f"{name}@{s}", scale, set_name] for s in seeds]
        return (sum(v[0] for v in values) / len(values), sum(v[1] for v in values) / len(values))

    def cell(self, name: str, scale: int = 2, set_name: str = "Set5", fmt: str = ".2f"
             ) -> str:
        """A table cell: the mean PSNR of ``name`` on one set over its scored seeds, then each
        seed's in brackets ("36.18 (36.26, 36.19, 36.09)")."""
        seeds = self.scored_seeds(name, scale, [set_name])
        if not seeds:
            raise SRLibError(f"{name!r} was not scored on {set_name} at x{scale}; score it with "
                             "ch.score(model, name, seed, scale) first")
        return stats.mean_and_seeds(
            [self.scores.results[f"{name}@{s}", scale, set_name][0] for s in seeds], fmt)

    def scored_seeds(self, name: str, scale: int = 2, sets: Sequence[str] | None = None
                     ) -> list[int]:
        """The seeds of this chapter with which ``name`` was scored on every one of ``sets``."""
        wanted = list(sets) if sets else self.scores.sets
        return [s for s in self.seeds
                if all((f"{name}@{s}", scale, n) in self.scores.images for n in wanted)]

    def claims(self, claims: Sequence, scale: int = 2, sets: Sequence[str] | None = None,
               budgets: bool | Mapping[str, stats.Budget] = True) -> str:
        """The claims table, from per-image scores of every scored variant, paired image by
        image within each seed that both sides were scored with, and with each side's recorded
        budget. ``budgets``: False leaves the budget columns out; a mapping adds budgets for
        sides this chapter did not train (bicubic, a fixed operator: ``Budget(0, 0)``) or
        replaces a side's recorded one (one scale's share of a multi-scale network)."""
        return markdown_table(self.claim_rows(claims, scale, sets, budgets))

    def claim_rows(self, claims: Sequence, scale: int = 2, sets: Sequence[str] | None = None,
                   budgets: bool | Mapping[str, stats.Budget] = True) -> list[dict]:
        """The rows of :meth:`claims`, so that claims judged at several scales or on several
        sets can share one table (each row's claim text should say which)."""
        claims = [stats.as_claim(c) for c in claims]
        sets = list(sets) if sets else None
        scores, spent, paired = {}, {}, []
        extra = dict(budgets) if isinstance(budgets, Mapping) else {}
        for c in claims:
            both = sorted(set(self.scored_seeds(c.a, scale, sets))
                          & set(self.scored_seeds(c.b, scale, sets)))
            if not both:
                raise SRLibError(f"claim {c.text!r}: {c.a!r} and {c.b!r} share no scored seed; "
                                 "score both with ch.score(model, name, seed) first")
            tag = "" if len(both) == len(self.seeds) else f" [seeds {both}]"
            for side in (c.a, c.b):
                scores[side + tag] = [self.scores.per_image(f"{side}@{s}", scale, sets)
                                      for s in both]
                if side in extra:
                    spent[side + tag] = extra[side]
                elif (side, both[0]) in self.trained:
                    spent[side + tag] = self.budget(side, both[0])
            paired.append(replace(c, a=c.a + tag, b=c.b + tag))
        return stats.claims_table(paired, scores, spent if budgets is not False else None)

    # -- provenance -----------------------------------------------------------------------
    def provenance(self) -> str:
        """Where and when every result of this chapter was trained, from the records; a copy
        in the notebook's outputs lets ``scripts/provenance.py check`` compare them with the
        banner and the cell stamps."""
        rows = [{"result": name, "seed": seed, "trained": records.describe(rec)}
                for (name, seed), rec in sorted(self.trained.items())]
        text = markdown_text(rows) if rows else "(nothing trained in this chapter)"
        payload = {"run": records.run_id(), "commit": records.run_commit(),
                   "results": [{"name": n, "seed": s, "segments": rec["segments"],
                                "steps": rec["steps"], "samples": rec["samples"]}
                               for (n, s), rec in sorted(self.trained.items())]}
        try:  # the records ride in the output's metadata, which every renderer ignores
            from IPython.display import Markdown, display

            display(Markdown(text), metadata={RECORDS_KEY: payload})
        except ImportError:
            print(text)
            print(json.dumps(payload))
        return text


def load_published(path: str | Path) -> tuple[torch.nn.Module, dict]:
    """A network kept by :meth:`Chapter.publish`, rebuilt and loaded, and its metadata."""
    from .models import build
    from .weights import load_weights

    meta = torch.load(path, map_location="cpu", weights_only=True).get("meta", {})
    if "build" not in meta:
        raise SRLibError(f"{path} was not written by Chapter.publish (no 'build' entry)")
    options = dict(meta["build"])
    model = build(options.pop("name"), **options)
    load_weights(model, path)
    return model.eval(), meta
