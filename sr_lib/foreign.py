"""Reading other projects' checkpoints without trusting them.

Many authors released ``torch.save(model)`` files: whole pickled modules, whose pickle names
the authors' classes (``vdsr.Net``, ``torch.nn.parallel.DataParallel``, ...). Unpickling them
the ordinary way imports and calls whatever the file names, so a hostile file runs code; torch's
weights-only loader is safe but refuses them.

:func:`read_checkpoint` is the middle way. Its unpickler resolves a short allow-list of names
to sr_lib's *own* functions (tensor and parameter rebuilding, ``OrderedDict``, the storage
dtypes) and every other name to an inert :class:`Opaque` stand-in that only records the
arguments and state it is given. Nothing named by the file is ever imported or called. It reads
both of torch's formats: the zip archive (torch >= 1.6) and the legacy stream of pickles (what
the AIL authors' files use). :func:`module_state_dict` then flattens a pickled module tree into
an ordinary state dict, and :func:`convert` maps a recognised layout (see ``CONVERTERS``) to an
sr_lib model's parameter names, with shape checks and a clear error for anything else.
"""

from __future__ import annotations

import io
import os
import pickle
import re
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from .errors import SRLibError

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C

_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64,
    "HalfStorage": torch.float16, "BFloat16Storage": torch.bfloat16,
    "LongStorage": torch.int64, "IntStorage": torch.int32, "ShortStorage": torch.int16,
    "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
    "UntypedStorage": torch.uint8,
}


class CheckpointMismatch(SRLibError):
    """The checkpoint was read safely, but its layout is unknown or does not fit the model."""


class Opaque:
    """Inert stand-in for any class or function a checkpoint names that is not allow-listed.

    Calling it, or building it from a pickle, records ``args`` and ``state`` and does nothing
    else. ``qualname`` says what the file asked for (e.g. ``'vdsr.Net'``).
    """

    qualname = "?"

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs, self.state = args, kwargs, None

    def __setstate__(self, state) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<Opaque {self.qualname}>"


_STANDINS: dict[str, type] = {}


def _standin(qualname: str) -> type:
    if qualname not in _STANDINS:
        _STANDINS[qualname] = type("Opaque", (Opaque,), {"qualname": qualname})
    return _STANDINS[qualname]


@dataclass
class _Storage:
    flat: torch.Tensor  # a 1-D tensor of the storage's dtype; tensors are views of it


def _rebuild_tensor(storage, offset, size, stride, *_ignored) -> torch.Tensor:
    if not isinstance(storage, _Storage):
        raise SRLibError("checkpoint rebuilds a tensor from something that is not a storage")
    flat = storage.flat
    size, stride = tuple(int(v) for v in size), tuple(int(v) for v in stride)
    last = int(offset) + sum((n - 1) * s for n, s in zip(size, stride) if n > 0)
    if any(n == 0 for n in size):
        return flat.new_empty(size)
    if int(offset) < 0 or last >= flat.numel():
        raise SRLibError("checkpoint names a tensor outside its storage (truncated or corrupt)")
    return flat.as_strided(size, stride, int(offset))


def _rebuild_parameter(data, *_ignored) -> torch.Tensor:
    return data


def _reconstructor(cls, base, state=None):
    """``copyreg._reconstructor`` (protocol 0/1 objects), restricted to stand-ins."""
    return cls.__new__(cls) if isinstance(cls, type) and issubclass(cls, Opaque) else Opaque()


_ALLOWED: dict[str, Callable] = {
    "collections.OrderedDict": OrderedDict,
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch.nn.parameter.Parameter": _rebuild_parameter,
    "torch.Size": lambda *a: tuple(*a),
    "copyreg._reconstructor": _reconstructor,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves allow-listed names to sr_lib functions and everything else to stand-ins."""

    def __init__(self, file, storage: Callable | None = None) -> None:
        super().__init__(file, encoding="latin1")
        self._storage = storage

    def find_class(self, module: str, name: str):
        qualname = f"{module}.{name}"
        if qualname in _ALLOWED:
            return _ALLOWED[qualname]
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        return _standin(qualname)

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or not pid:
            raise SRLibError("checkpoint has an unknown persistent reference")
        kind = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if kind == "module":  # legacy files name each module class with its source code
            return pid[1]
        if kind == "storage" and self._storage is not None:
            return self._storage(*pid[1:])
        raise SRLibError(f"checkpoint has an unknown persistent reference {kind!r}")


def _dtype(storage_type) -> torch.dtype:
    if isinstance(storage_type, torch.dtype):
        return storage_type
    raise SRLibError(f"checkpoint uses an unknown storage type {storage_type!r}")


def _elements(dtype: torch.dtype, numel: int, budget: int) -> torch.Tensor:
    nbytes = int(numel) * torch.empty((), dtype=dtype).element_size()
    if numel < 0 or nbytes > budget:
        raise SRLibError(
            f"checkpoint declares a {nbytes:,}-byte tensor but holds {budget:,} bytes "
            "(truncated or corrupt)")
    return torch.empty(int(numel), dtype=dtype)


def _read_legacy(f: io.BufferedIOBase, size: int):
    """The pre-1.6 format: magic, protocol, sys info, the object pickle, the storage keys,
    then each storage's raw bytes after an 8-byte element count."""
    header = _RestrictedUnpickler(f)
    if header.load() != _LEGACY_MAGIC:
        raise SRLibError("not a torch checkpoint (no zip archive and no legacy magic number)")
    header.load(), header.load()  # protocol version, sys info
    roots: dict[str, torch.Tensor] = {}

    def storage(storage_type, key, location, numel, view=None):
        dtype = _dtype(storage_type)
        if key not in roots:
            roots[key] = _elements(dtype, numel, size)
        root = roots[key]
        if view is not None:
            _view_key, offset, view_numel = view
            return _Storage(root[int(offset): int(offset) + int(view_numel)])
        return _Storage(root)

    obj = _RestrictedUnpickler(f, storage).load()
    keys = _RestrictedUnpickler(f).load()
    for key in keys:
        if key not in roots:
            raise SRLibError(f"checkpoint lists storage {key!r} that no tensor uses (corrupt)")
        root = roots[key]
        raw = f.read(8)
        if len(raw) != 8 or struct.unpack("<q", raw)[0] != root.numel():
            raise SRLibError("checkpoint storage sizes do not match (truncated or corrupt)")
        data = f.read(root.numel() * root.element_size())
        if len(data) != root.numel() * root.element_size():
            raise SRLibError("checkpoint ends inside its tensor data (truncated download?)")
        root.view(torch.uint8).copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8))
    return obj


def _read_zip(path: Path):
    """The torch >= 1.6 format: ``<prefix>/data.pkl`` plus one record per storage."""
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
        pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if not pkl:
            raise SRLibError(f"{path} is a zip archive but not a torch checkpoint (no data.pkl)")
        prefix = pkl[0][: -len("data.pkl")]

        def storage(storage_type, key, location, numel, *_rest):
            dtype = _dtype(storage_type)
            record = f"{prefix}data/{key}"
            if record not in names:
                raise SRLibError(f"checkpoint lacks the tensor data record {record}")
            info = z.getinfo(record)
            flat = _elements(dtype, numel, info.file_size)
            data = z.read(record)
            if len(data) < flat.numel() * flat.element_size():
                raise SRLibError("checkpoint tensor record is shorter than declared (corrupt)")
            nbytes = flat.numel() * flat.element_size()
            flat.view(torch.uint8).copy_(
                torch.frombuffer(bytearray(data[:nbytes]), dtype=torch.uint8))
            return _Storage(flat)

        with z.open(pkl[0]) as f:
            return _RestrictedUnpickler(io.BytesIO(f.read()), storage).load()


def read_checkpoint(path: str | Path):
    """The object tree of a torch checkpoint, without running anything it names.

    Tensors come back as CPU tensors, allow-listed containers as themselves, and every other
    class or function as an :class:`Opaque` stand-in (a pickled module becomes a stand-in
    whose ``state`` holds ``_parameters`` / ``_buffers`` / ``_modules``).
    """
    path = Path(path)
    if not path.is_file():
        raise SRLibError(f"checkpoint file not found: {path}")
    size = path.stat().st_size
    try:
        if zipfile.is_zipfile(path):
            return _read_zip(path)
        with open(path, "rb") as f:
            return _read_legacy(f, size)
    except SRLibError:
        raise
    except Exception as exc:  # noqa: BLE001 - any malformed pickle gets the same advice
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise SRLibError(f"{path} is not a torch checkpoint sr_lib can read ({first})") from None


def _tensor_dict(obj) -> bool:
    return isinstance(obj, dict) and bool(obj) and all(
        isinstance(v, torch.Tensor) for v in obj.values())


def _module_state(obj) -> dict | None:
    state = getattr(obj, "state", None)
    if isinstance(obj, Opaque) and isinstance(state, dict) and "_modules" in state:
        return state
    return None


def module_state_dict(obj, prefix: str = "") -> dict[str, torch.Tensor]:
    """Flatten a pickled module (or a checkpoint dict holding one) into a state dict.

    Accepts a stand-in module tree, a plain ``{name: tensor}`` dict, or a dict with the model
    under ``'state_dict'``, ``'model'``, ``'net'`` or ``'params'``.
    """
    state = _module_state(obj)
    if state is not None:
        out: dict[str, torch.Tensor] = {}
        for group in ("_parameters", "_buffers"):
            for name, value in (state.get(group) or {}).items():
                if isinstance(value, torch.Tensor):
                    out[prefix + name] = value.detach().clone()
        for name, child in (state.get("_modules") or {}).items():
            if child is not None:
                out.update(module_state_dict(child, f"{prefix}{name}."))
        return out
    if _tensor_dict(obj):
        return {prefix + k: v.detach().clone() for k, v in obj.items()}
    if isinstance(obj, dict):
        for key in ("state_dict", "model", "net", "params"):
            if key in obj:
                return module_state_dict(obj[key], prefix)
    raise CheckpointMismatch(
        f"found no model in the checkpoint (top level is {type(obj).__name__}"
        + (f" with keys {sorted(map(str, obj))[:6]}" if isinstance(obj, dict) else "")
        + "); expected a pickled module, a state dict, or a dict with 'model'/'state_dict'")


# ---------------------------------------------------------------------------------------------
# Converters: a recognised foreign layout -> (sr_lib model name, options, state dict)


@dataclass
class Converted:
    """A foreign checkpoint in sr_lib's terms: build ``model`` with ``options`` and load
    ``state_dict``. ``scale`` is the scale the file was trained for, when known (None for a
    network trained on all scales together)."""

    model: str
    options: dict
    state_dict: dict[str, torch.Tensor]
    source: str
    scale: int | None = None


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str = "module.") -> dict:
    if state and all(k.startswith(prefix) for k in state):  # DataParallel wrapper
        return {k[len(prefix):]: v for k, v in state.items()}
    return state


VDSR_LAYOUT = "VDSR layout, as in the AIL release"
_AIL_KEY = re.compile(r"^(input|output|residual_layer\.(\d+)\.conv)\.weight$")


def _is_ail_vdsr(state: dict) -> bool:
    return bool(state) and all(_AIL_KEY.match(k) for k in state) and "input.weight" in state


def _convert_ail_vdsr(state: dict, name: str) -> Converted:
    """The AIL authors' VDSR (``vdsr.Net``, ``NetF13``, ``SRNet.acSRNet``): ``input``,
    ``residual_layer.<i>.conv``, ``output``, all bias-free 3x3 convs on one channel, with the
    global skip in ``forward``. sr_lib's VDSR holds them as ``body.0``, ``body.2``, ...,
    ``body.<2(depth-1)>``."""
    width = int(state["input.weight"].shape[0])
    inner = sorted(int(_AIL_KEY.match(k).group(2)) for k in state if k.startswith("residual"))
    if inner != list(range(len(inner))) or "output.weight" not in state:
        raise CheckpointMismatch(f"{name}: {VDSR_LAYOUT} with missing layers (inner {inner})")
    depth = len(inner) + 2
    expected = {"input.weight": (width, 1, 3, 3), "output.weight": (1, width, 3, 3)}
    expected.update({f"residual_layer.{i}.conv.weight": (width, width, 3, 3) for i in inner})
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointMismatch(f"{name}: {key} has shape {tuple(state[key].shape)}, expected "
                             f"{shape} for a {width}-map VDSR")
    out = {"body.0.weight": state["input.weight"]}
    for i in inner:
        out[f"body.{2 + 2 * i}.weight"] = state[f"residual_layer.{i}.conv.weight"]
    out[f"body.{2 * (depth - 1)}.weight"] = state["output.weight"]
    found = re.search(r"_s([234])(?:\D|$)", name)  # the AIL students are named ..._s2.pth
    # The layout says nothing about which project wrote the file: name the layout only.
    return Converted("vdsr", {"width": width, "depth": depth}, out, VDSR_LAYOUT,
                     int(found.group(1)) if found else None)


CONVERTERS: list[tuple[str, Callable[[dict], bool], Callable[[dict, str], Converted]]] = [
    (f"{VDSR_LAYOUT} (input / residual_layer.<i>.conv / output)", _is_ail_vdsr,
     _convert_ail_vdsr),
]


def convert(path: str | Path) -> Converted:
    """Read a foreign checkpoint safely and map it to an sr_lib model (see ``CONVERTERS``)."""
    path = Path(path)
    state = _strip_prefix(module_state_dict(read_checkpoint(path)))
    for _label, matches, fn in CONVERTERS:
        if matches(state):
            return fn(state, path.name)
    known = "; ".join(label for label, _m, _f in CONVERTERS)
    keys = ", ".join(sorted(state)[:5])
    raise CheckpointMismatch(f"{path} holds parameters sr_lib does not recognise (first: {keys}); "
                     f"known layouts: {known}")


def find_release(name: str, root: str | Path | None = None) -> Path:
    """The folder of an author's release (e.g. ``"ail"``): under ``root``, else ``$SR_WEIGHTS``,
    else a ``weights`` folder beside ``$SR_DATA`` (the layout of ``../shared``)."""
    candidates = [Path(root)] if root else []
    if os.environ.get("SR_WEIGHTS"):
        candidates.append(Path(os.environ["SR_WEIGHTS"]))
    if os.environ.get("SR_DATA"):
        candidates.append(Path(os.environ["SR_DATA"]).parent / "weights")
    for c in candidates:
        if (c / name).is_dir():
            return c / name
    looked = ", ".join(str(c / name) for c in candidates) or "nowhere (no SR_WEIGHTS, SR_DATA)"
    raise SRLibError(f"the {name!r} release was not found; looked in: {looked}. Set SR_WEIGHTS "
                     "to the folder that holds it")
