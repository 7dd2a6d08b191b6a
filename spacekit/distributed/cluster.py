"""Connecting to a Ray cluster: `local` starts one sized to this machine, `auto` joins RAY_ADDRESS's, anything else is
an address. Every failure is one InputError (Ray missing, a cluster that cannot be reached, GPUs asked for and none
there)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from spacekit.errors import InputError


@dataclass
class RaySettings:
    """How the jobs run on the cluster; fail_once and stop_after are test hooks (an actor that dies once, a driver
    interrupted after that many blocks)."""

    address: str = "local"
    workers: int | None = None
    gpus_per_worker: float | None = None       # None: one GPU per worker when the cluster has GPUs, else CPU actors
    cpus_per_worker: int = 1
    tokenize: bool | None = None                # the CPU tokeniser stage; None: when the encoders hold GPUs
    trust_remote_code: bool = False
    dtype: str | None = None                    # the precision each encoder resolves on its own device
    batch_tokens: int | None = None
    fail_once: str | None = None
    stop_after: int | None = None


def ray_module():
    """The ray package, or an InputError saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InputError("--ray needs the ray extra: pip install 'spacekit[ray]'") from None
    return ray


def connect(address: str, *, gpus_per_worker: float = 0.0, num_cpus: int | None = None):
    """Join (or start) the cluster once per process; returns the ray module."""
    ray = ray_module()
    if not ray.is_initialized():
        try:
            if address == "local":
                ray.init(num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False, log_to_driver=False)
            else:
                target = os.environ.get("RAY_ADDRESS") if address == "auto" else address
                if not target:
                    raise InputError("--ray auto: RAY_ADDRESS is not set (or give --ray local, or an address)")
                _reachable(address, target)                    # ray.init waits minutes on an address nobody serves
                ray.init(address=target, log_to_driver=False)
        except InputError:
            raise
        except Exception as e:  # ray raises ConnectionError, RuntimeError, ValueError for an unreachable cluster
            raise InputError(f"--ray {address}: cannot reach the cluster ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else 'no detail'})") from None
    if gpus_per_worker > 0 and ray.cluster_resources().get("GPU", 0) < gpus_per_worker:
        raise InputError(f"--gpus-per-worker {gpus_per_worker:g}: the cluster has "
                         f"{ray.cluster_resources().get('GPU', 0):g} GPUs")
    return ray


def _reachable(option: str, target: str, seconds: float = 3.0) -> None:
    """An InputError unless host:port (optionally ray://host:port) accepts a TCP connection within `seconds`."""
    import socket

    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray {option}: expected local, auto or HOST:PORT, got {target!r}")
    try:
        socket.create_connection((host, int(port)), timeout=seconds).close()
    except OSError as e:
        raise InputError(f"--ray {option}: cannot reach the cluster ({target}: {e.strerror or e})") from None


def gpus_for(ray, requested: float | None) -> float:
    """GPUs per encoder actor: as asked, else one when the cluster has GPUs, else none (CPU actors)."""
    if requested is not None:
        if requested < 0:
            raise InputError(f"--gpus-per-worker must be >= 0, got {requested:g}")
        return requested
    return 1.0 if ray.cluster_resources().get("GPU", 0) >= 1 else 0.0


def worker_count(ray, requested: int | None, gpus_per_worker: float) -> int:
    """--workers, else one per GPU (GPUs asked for) or per CPU of the cluster."""
    if requested is not None:
        if requested < 1:
            raise InputError(f"--workers must be >= 1, got {requested}")
        return requested
    resources = ray.cluster_resources()
    if gpus_per_worker > 0:
        return max(1, int(resources.get("GPU", 0) // gpus_per_worker))
    return max(1, int(resources.get("CPU", 1)))
