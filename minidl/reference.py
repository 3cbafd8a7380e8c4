"""Reference numbers that several lessons share: named links and the lectures' MNIST model.

A lesson that prices communication with the alpha-beta model (T = alpha + n * beta for one
message of n bytes) takes its link from `LINKS` by name and says which one it uses and why.
The numbers are orders of magnitude from the cited specifications, not measurements of any
one machine; lesson 06 shows how to measure your own.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LINKS", "Link", "MNIST_MLP_SIZES", "mlp_parameter_count", "MNIST_MLP_PARAMETERS",
           "mnist_gradient_bytes"]


@dataclass(frozen=True)
class Link:
    """One link of the alpha-beta model: latency `alpha` (s per message) and `bandwidth`
    (bytes per second, 1 / beta), with where the numbers come from."""

    name: str
    alpha: float
    bandwidth: float
    source: str

    @property
    def beta(self) -> float:
        """Seconds per byte: 1 / bandwidth."""
        return 1.0 / self.bandwidth

    def time(self, n_bytes: float) -> float:
        """alpha + n beta: one message of n_bytes over this link."""
        return self.alpha + n_bytes * self.beta


LINKS: dict[str, Link] = {link.name: link for link in (
    Link("shared memory", alpha=1e-6, bandwidth=10e9,
         source="MPI between two processes of one machine: about a microsecond per message, and "
                "one memory copy of bandwidth, of the order of 10 GB/s for one core"),
    Link("10 GbE", alpha=50e-6, bandwidth=1.25e9,
         source="10 Gigabit Ethernet (IEEE 802.3ae): 10 Gb/s = 1.25 GB/s line rate; MPI over TCP "
                "adds tens of microseconds per message"),
    Link("100 Gb InfiniBand", alpha=1.5e-6, bandwidth=12.5e9,
         source="InfiniBand EDR 4x: 100 Gb/s = 12.5 GB/s per direction; MPI latency of 1 to 2 "
                "microseconds with RDMA"),
    Link("NVLink", alpha=5e-6, bandwidth=300e9,
         source="NVIDIA A100: 12 third-generation NVLinks, 600 GB/s in both directions together, "
                "300 GB/s each way; a few microseconds to launch a collective kernel"),
)}

MNIST_MLP_SIZES: tuple[int, ...] = (784, 512, 512, 512, 10)
"""The lectures' MNIST model: three dense layers of 512 ReLU units (parameter-server slides)."""


def mlp_parameter_count(sizes=MNIST_MLP_SIZES) -> int:
    """Weights plus biases of a dense network with these layer widths."""
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))


MNIST_MLP_PARAMETERS: int = mlp_parameter_count()  # 932,362


def mnist_gradient_bytes(itemsize: int = 4) -> int:
    """Bytes of the MNIST model's gradient: 3,729,448 in float32 (itemsize 4), twice that in
    float64.
    Lessons say which width they use: lesson 04 counts float32 bytes, lessons 05 and 07
    train in float64 so that every printed digit is the same under any BLAS kernel."""
    return MNIST_MLP_PARAMETERS * itemsize
