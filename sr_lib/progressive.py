"""Training one network for several scales (ProSR): curriculum, simultaneous, deep supervision.

ProSR's curriculum trains x2 first, then adds x4 and later x8, fading each new pyramid level
in with a blend factor that ramps from 0 to 1; every batch uses one scale drawn from the active
ones. The simultaneous baseline draws from all scales from the start with blend 1. Both are the
:class:`MultiScaleTraining` hook on a :class:`~sr_lib.datasets.MultiScaleData`; the hook also
offers the LapSRN-style deep supervision of the paper's Eq. (7).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import torch

from .errors import SRLibError
from .resize import imresize
from .train import Hook, Trainer, pixel_loss

#: The released code's breakpoints (fractions of the run): x4 fades in over 0.12 -> 0.25, x8 over
#: 0.45 -> 0.60; the last entry is the end of training.
GROWING_STEPS = (0.12, 0.25, 0.45, 0.6, 1.0)


def curriculum_phase(
    progress: float, scales: Sequence[int] = (2, 4, 8), steps: Sequence[float] = GROWING_STEPS,
) -> dict[int, float]:
    """The active scales at ``progress`` in [0, 1] and the blend factor of each.

    The first scale is always active with blend 1; the j-th added scale (j >= 1) becomes active
    after ``steps[2j - 2]`` and its blend ramps linearly to 1 at ``steps[2j - 1]``.
    """
    if len(steps) < 2 * (len(scales) - 1):
        raise SRLibError(f"{len(scales)} scales need {2 * (len(scales) - 1)} growing steps, "
                         f"got {tuple(steps)}")
    phase = {int(scales[0]): 1.0}
    for j, s in enumerate(scales[1:], start=1):
        start, end = steps[2 * j - 2], steps[2 * j - 1]
        if progress <= start:
            break
        phase[int(s)] = min(1.0, (progress - start) / (end - start))
    return phase


class MultiScaleTraining(Hook):
    """Runs a multi-scale model (``model(lr, scale, blend, return_all)``) on one-scale batches.

    ``curriculum=True``: scales and blends follow :func:`curriculum_phase` over the run (the
    hook installs its scale chooser in the trainer's :class:`MultiScaleData`). ``False``: the
    data's own chooser (uniform over all scales) and blend 1, i.e. simultaneous training.
    ``deep_supervision``: add the loss of every intermediate level against the HR image
    downscaled (MATLAB bicubic) to that level's scale, as in LapSRN and the paper's Eq. (7).
    """

    def __init__(self, scales: Sequence[int] = (2, 4, 8), curriculum: bool = True,
                 steps: Sequence[float] = GROWING_STEPS, deep_supervision: bool = False) -> None:
        self.scales, self.curriculum, self.steps = tuple(scales), curriculum, tuple(steps)
        self.deep_supervision = deep_supervision
        curriculum_phase(0.0, self.scales, self.steps)  # validates the schedule
        self.iterations = 1

    def settings(self) -> dict:
        """What configures the schedule (for the checkpoint's record)."""
        return {"scales": list(self.scales), "curriculum": self.curriculum,
                "steps": list(self.steps), "deep_supervision": self.deep_supervision}

    def setup(self, trainer: Trainer) -> None:
        self.iterations = trainer.config.iterations
        if self.curriculum:
            if not hasattr(trainer.data, "choose"):
                raise SRLibError("curriculum training needs a MultiScaleData (one dataset per "
                                 "scale); got " + type(trainer.data).__name__)
            missing = set(self.scales) - set(trainer.data.datasets)
            if missing:
                raise SRLibError(f"the data has no dataset for scales {sorted(missing)}")
            trainer.data.choose = self.choose

    def phase(self, progress: float) -> dict[int, float]:
        if not self.curriculum:
            return dict.fromkeys(self.scales, 1.0)
        return curriculum_phase(progress, self.scales, self.steps)

    def choose(self, step: int, gen: torch.Generator) -> int:
        active = sorted(self.phase(step / self.iterations))
        return active[int(torch.randint(len(active), (1,), generator=gen))]

    def forward(self, trainer: Trainer, batch: dict) -> dict:
        s = int(batch["scale"])
        blend = self.phase(trainer.progress).get(s, 1.0)
        out = {"target": batch["hr"], "scale": s, "blend": blend}
        if self.deep_supervision:
            levels = trainer.model(batch["lr"], scale=s, blend=blend, return_all=True)
            out.update(sr=levels[-1], levels=levels)
        else:
            out["sr"] = trainer.model(batch["lr"], scale=s, blend=blend)
        return out

    def extra_loss(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor | None:
        if not self.deep_supervision or len(out["levels"]) < 2:
            return None
        hr, s = batch["hr"], out["scale"]
        total = 0.0
        for i, level in enumerate(out["levels"][:-1]):
            target = imresize(hr, 2 ** (i + 1) / s)
            total = total + pixel_loss(level, target, trainer.config.loss)
        return total


class ScaleValidation(Hook):
    """Scores every scale on its own validation set every ``every`` steps and records the
    training wall-clock time spent so far (validation excluded): PSNR-vs-time curves (Fig. 4).

    ``records`` is a list of ``{'step', 'seconds', 'scale', 'psnr'}``; a scale the model cannot
    run yet (not yet in the curriculum) is still scored, since its layers exist from the start.
    """

    def __init__(self, val_sets: dict, every: int) -> None:
        self.val_sets, self.every = dict(val_sets), int(every)
        self.records: list[dict] = []
        self._clock = 0.0
        self._last = None

    def setup(self, trainer: Trainer) -> None:
        self._last = time.perf_counter()

    def after_step(self, trainer: Trainer, out: dict, batch: dict) -> None:
        now = time.perf_counter()
        self._clock += now - self._last
        step = trainer.step + 1  # after_step runs before the trainer counts the step
        if step % self.every == 0 or step == trainer.config.iterations:
            from .evaluate import evaluate

            for s, data in sorted(self.val_sets.items()):
                view = trainer.model.at_scale(s)
                r = evaluate(view, data, device=trainer.device, progress=False)
                self.records.append({"step": step, "seconds": self._clock, "scale": s,
                                     "psnr": r.mean_psnr})
            trainer.model.train()
        self._last = time.perf_counter()

    def state_dict(self) -> dict:
        return {"records": self.records, "clock": self._clock}

    def load_state_dict(self, state: dict) -> None:
        self.records, self._clock = list(state["records"]), float(state["clock"])
