"""minidl: a course from the chain rule to distributed training.

The layers, each importing only the ones before it:
`engine` (scalar autograd), `gradcheck`, `nn` (networks of Values),
`data` (data sets made offline), `viz` (pictures) and `exercises` (checks).
"""
from minidl.engine import Value

__version__ = "0.1.0"
__all__ = ["Value", "__version__"]
