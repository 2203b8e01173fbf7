"""The paper's experimental set-up: data, models, trained weights, experiments, figures, verdicts.

Everything here serves the reproduction of Van Looveren & Klaise (2021) and builds on the
method in :mod:`cgp_lib`; nothing in :mod:`cgp_lib` imports from here.
"""
