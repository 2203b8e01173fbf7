"""cgp_lib: counterfactual explanations guided by prototypes (Van Looveren & Klaise, 2021).

A from-scratch TensorFlow 2 implementation that explains a batch of instances at once.
The main entry point is :class:`cgp_lib.explainer.CounterfactualProto`.
"""

from importlib import import_module

__version__ = "0.1.0"

_EXPORTS = {"CounterfactualProto": "explainer", "CounterfactualResult": "explainer"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    # Lazy, so that `import cgp_lib.repro.models` (e.g. in the alibi worker) does not load the explainer.
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module 'cgp_lib' has no attribute {name!r}")
