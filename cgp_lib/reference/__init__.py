"""alibi 0.9.6's ``CounterfactualProto`` (the authors' implementation) as an oracle.

:mod:`~cgp_lib.reference.runner` runs it in a separate graph-mode process;
:mod:`~cgp_lib.reference.crosscheck` and :mod:`~cgp_lib.reference.crosscheck_categorical`
compare its counterfactuals with :mod:`cgp_lib`'s on the same models and instances.
This layer depends on the method only, never on :mod:`cgp_lib.repro`.
"""
