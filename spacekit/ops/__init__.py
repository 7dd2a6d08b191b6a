"""Pure tensor functions (no file I/O): similarity, top-k search, geometry."""

from spacekit.ops.topk import topk

__all__ = ["topk"]
