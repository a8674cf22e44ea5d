"""ProGanSR's adversarial training: a progressive discriminator on residuals, LSGAN, VGG16 loss.

The discriminator mirrors the generator's pyramid in reverse: a scale-specific input layer,
then one level per x2 that halves the resolution with average pooling, ending in a patch of
scores (PatchGAN-like, fully convolutional, so one network judges x2, x4 and x8). It sees the
*residual* between an image and the bicubic upsampling of its LR input. The paper's supplement
with the exact layer list is not in our sources; the widths here (64 maps at the top level,
doubling per level, LeakyReLU 0.2) follow the SRGAN-style discriminator named in the released
config. Losses are the least-squares ones of the paper's Eq. (3)-(4).

VGG16 feature losses need ImageNet weights, which are never downloaded at run time in CI:
:func:`load_vgg16` reads them from a path, ``SR_VGG16``, or the torch hub cache, and otherwise
says where it looked. ``allow_random=True`` (the smoke profile only) substitutes a fixed-seed
random VGG16 so the code path runs; its ``pretrained`` attribute is False and it warns.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .errors import SRLibError
from .models.prosr import pyramid_scales
from .resize import imresize
from .train import Hook, Trainer

VGG16_FILE = "vgg16-397923af.pth"  # torchvision's ImageNet VGG16, whose layer names we use
VGG16_URL = f"https://download.pytorch.org/models/{VGG16_FILE}"
_VGG16_CFG = (64, 64, "P", 128, 128, "P", 256, 256, 256, "P", 512, 512, 512, "P")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# -- losses ---------------------------------------------------------------------------------
def lsgan_d_loss(d_real: torch.Tensor, d_fake: torch.Tensor) -> torch.Tensor:
    """Eq. (3): D(r_hat)^2 + (D(r) - 1)^2, averaged over the score patch and the batch."""
    return d_fake.pow(2).mean() + (d_real - 1).pow(2).mean()


def lsgan_g_loss(d_fake: torch.Tensor) -> torch.Tensor:
    """The adversarial part of Eq. (4): (D(r_hat) - 1)^2."""
    return (d_fake - 1).pow(2).mean()


# -- discriminator --------------------------------------------------------------------------
def _lrelu() -> nn.LeakyReLU:
    return nn.LeakyReLU(0.2, inplace=True)


class ProgressiveDiscriminator(nn.Module):
    """Reverse pyramid on residual images; ``forward(r, scale, blend=1.0)`` -> score patch.

    An input at scale s (HR residual of s times the LR size) enters through ``v_s`` and passes
    log2(s) levels, each conv3x3-LReLU-conv3x3-LReLU-AvgPool(2), so the score patch has the LR
    size for every scale. With ``blend < 1`` the new top level's output is mixed with the
    input layer of the scale below applied to the average-pooled input, as in the paper's
    Fig. 3 (bottom).
    """

    def __init__(self, max_scale: int = 8, ndf: int = 64) -> None:
        super().__init__()
        self.scales = pyramid_scales(max_scale)
        n = len(self.scales)
        # level j (0 = closest to the LR size) takes width(j) maps and returns width(j - 1)
        width = [ndf * 2 ** (n - 1 - j) for j in range(n)] + [ndf * 2**n]
        self.inputs = nn.ModuleDict({
            str(2 ** (j + 1)): nn.Sequential(nn.Conv2d(3, width[j], 3, padding=1), _lrelu())
            for j in range(n)})
        self.levels = nn.ModuleList([
            nn.Sequential(nn.Conv2d(width[j], width[j], 3, padding=1), _lrelu(),
                          nn.Conv2d(width[j], width[j - 1] if j else width[n], 3, padding=1),
                          _lrelu(), nn.AvgPool2d(2))
            for j in range(n)])
        self.head = nn.Conv2d(width[n], 1, 3, padding=1)

    def forward(self, r: torch.Tensor, scale: int, blend: float = 1.0) -> torch.Tensor:
        if int(scale) not in self.scales:
            raise SRLibError(f"the discriminator handles scales {self.scales}, not x{scale}")
        top = self.scales.index(int(scale))
        h = self.levels[top](self.inputs[str(scale)](r))
        if blend < 1 and top > 0:
            below = self.inputs[str(scale // 2)](F.avg_pool2d(r, 2))
            h = blend * h + (1 - blend) * below
        for j in range(top - 1, -1, -1):
            h = self.levels[j](h)
        return self.head(h)


# -- VGG16 features -------------------------------------------------------------------------
class VGG16Features(nn.Module):
    """VGG16's convolutional trunk up to relu4_3 with max pooling replaced by average pooling
    (as in the released ProGanSR config); returns the inputs of pool2 and pool4 (relu2_2 and
    relu4_3) for an RGB batch in [0, 1]. Parameters are frozen."""

    layers_out = (8, 22)  # torchvision indices of relu2_2 and relu4_3

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "P":
                layers.append(nn.AvgPool2d(2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers[: self.layers_out[-1] + 1])
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.pretrained = False
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        h = (x - self.mean) / self.std
        outs = []
        for i, layer in enumerate(self.features):
            h = layer(h)
            if i in self.layers_out:
                outs.append(h)
        return outs


def _vgg16_candidates(path: str | Path | None) -> list[Path]:
    found = [Path(path)] if path else []
    if os.environ.get("SR_VGG16"):
        found.append(Path(os.environ["SR_VGG16"]))
    torch_home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    found.append(torch_home / "hub" / "checkpoints" / VGG16_FILE)
    return found


def load_vgg16(path: str | Path | None = None, allow_random: bool = False,
               download: bool = False) -> VGG16Features:
    """ImageNet VGG16 features from torchvision's ``vgg16-397923af.pth`` state dict.

    Looks at ``path``, then ``$SR_VGG16``, then the torch hub cache; ``download=True`` fetches
    the file (checked against the hash in its name) where a network exists. Without weights
    it raises, unless ``allow_random`` (for smoke tests only) asks for a random substitute.
    """
    model = VGG16Features()
    candidates = _vgg16_candidates(path)
    if path and not Path(path).is_file():
        raise SRLibError(f"VGG16 weights not found at {path}")
    file = next((p for p in candidates if p.is_file()), None)
    state = None
    if file is not None:
        state = torch.load(file, map_location="cpu", weights_only=True)
    elif download:
        state = torch.hub.load_state_dict_from_url(VGG16_URL, map_location="cpu",
                                                   check_hash=True, weights_only=True)
    if state is None:
        # places named by their setting, not by this machine's paths (they end up in the book)
        looked = (["the given path"] if path else []) + [
            "$SR_VGG16" if os.environ.get("SR_VGG16") else "$SR_VGG16 (not set)",
            f"the torch hub cache ($TORCH_HOME/hub/checkpoints/{VGG16_FILE})"]
        if not allow_random:
            raise SRLibError(
                f"VGG16 ImageNet weights not found (looked in: {', '.join(looked)}). Download "
                f"{VGG16_URL} and pass its path, set SR_VGG16, or call load_vgg16(download=True)")
        warnings.warn("VGG16 weights not found: using a RANDOM VGG16 (fixed seed). Feature "
                      "losses are then not perceptual; use this only to test the code path.",
                      stacklevel=2)
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for m in model.features:
                if isinstance(m, nn.Conv2d):
                    fan_in = m.in_channels * 9
                    m.weight.copy_(torch.randn(m.weight.shape, generator=gen)
                                   * math.sqrt(2 / fan_in))
                    m.bias.zero_()
        return model
    own = {f"features.{k}": v for k, v in model.features.state_dict().items()}
    try:
        model.load_state_dict({**{k: state[k] for k in own}, "mean": model.mean,
                               "std": model.std})
    except KeyError as exc:
        raise SRLibError(f"{file or VGG16_URL} is not a torchvision VGG16 state dict "
                         f"(missing {exc})") from None
    model.pretrained = True
    return model


# -- the training hook ----------------------------------------------------------------------
class ProGanTraining(Hook):
    """Adds ProGanSR's generator losses and trains the discriminator alongside.

    Generator (added to the trainer's pixel loss, whose weight is ``TrainConfig.pixel_weight``;
    0 in the released GAN config): ``gan_weight * (D(r_hat) - 1)^2 + sum_k w_k ||phi_k(y_hat) -
    phi_k(y)||^2`` with ``vgg_weights`` for relu2_2 and relu4_3. The discriminator is stepped
    with its own Adam every ``d_every`` iterations on Eq. (3). Residuals are taken against a
    MATLAB-bicubic upsampling of the LR batch. Works with or without
    :class:`~sr_lib.progressive.MultiScaleTraining` (it reads ``scale`` and ``blend`` from the
    forward output when present).
    """

    def __init__(self, discriminator: ProgressiveDiscriminator, vgg: VGG16Features | None,
                 gan_weight: float = 1.0, vgg_weights: tuple[float, float] = (0.5, 2.0),
                 d_lr: float = 1e-4, d_every: int = 1) -> None:
        self.d, self.vgg = discriminator, vgg
        self.gan_weight, self.vgg_weights = gan_weight, tuple(vgg_weights)
        self.d_lr, self.d_every = d_lr, int(d_every)
        self.d_opt = torch.optim.Adam(self.d.parameters(), lr=d_lr, betas=(0.9, 0.999))
        self.last: dict[str, float] = {}

    def setup(self, trainer: Trainer) -> None:
        self.d.to(trainer.device)
        if self.vgg is not None:
            self.vgg.to(trainer.device)

    @staticmethod
    def _residuals(out: dict, batch: dict) -> tuple[torch.Tensor, torch.Tensor, int, float]:
        s = int(out.get("scale", batch["scale"]))
        base = imresize(batch["lr"], s)
        return out["sr"] - base, out["target"] - base, s, float(out.get("blend", 1.0))

    def extra_loss(self, trainer: Trainer, out: dict, batch: dict) -> torch.Tensor:
        fake, _, s, blend = self._residuals(out, batch)
        self.d.requires_grad_(False)
        adv = lsgan_g_loss(self.d(fake, s, blend))
        self.d.requires_grad_(True)
        loss = self.gan_weight * adv
        self.last = {"g_adv": float(adv.detach())}
        if self.vgg is not None and any(self.vgg_weights):
            feats_sr, feats_hr = self.vgg(out["sr"]), self.vgg(out["target"])
            for w, a, b in zip(self.vgg_weights, feats_sr, feats_hr):
                loss = loss + w * F.mse_loss(a, b.detach())
        return loss

    def after_step(self, trainer: Trainer, out: dict, batch: dict) -> None:
        if trainer.step % self.d_every:
            return
        fake, real, s, blend = self._residuals(out, batch)
        d_loss = lsgan_d_loss(self.d(real.detach(), s, blend), self.d(fake.detach(), s, blend))
        self.d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        self.d_opt.step()
        self.last["d"] = float(d_loss.detach())

    def state_dict(self) -> dict:
        return {"d": self.d.state_dict(), "d_opt": self.d_opt.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.d.load_state_dict(state["d"])
        self.d_opt.load_state_dict(state["d_opt"])
