"""The readability check every figure of the book passes before it is glued (plots.glue_figure)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from cgp_lib.repro import plots  # noqa: E402


@pytest.fixture
def figure():
    figs = []

    def make(*args, **kwargs):
        fig, axes = plt.subplots(*args, **kwargs)
        figs.append(fig)
        return fig, axes

    yield make
    for fig in figs:
        plt.close(fig)


def test_a_labelled_figure_with_default_fonts_is_readable(figure):
    fig, ax = figure()
    ax.plot([0, 1], [1, 0], label="line")
    ax.set(xlabel="x1", ylabel="x2", title="a title")
    ax.legend()
    assert plots.readability_problems(fig) == []


def test_small_fonts_are_reported_with_their_text_and_size(figure):
    fig, ax = figure()
    ax.plot([0, 1], [1, 0])
    ax.set(xlabel="x1", ylabel="x2")
    ax.set_title("tiny title", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    problems = plots.readability_problems(fig)
    assert any("'tiny title' is 8 pt" in p for p in problems)
    assert any(" is 7 pt" in p for p in problems)
    assert not any("no label" in p for p in problems)


def test_an_axis_with_tick_labels_and_no_label_is_reported(figure):
    fig, (left, right) = figure(1, 2)
    left.plot([0, 1], [1, 0])
    left.set(xlabel="x1", title="left")
    right.plot([0, 1], [1, 0])
    right.set(ylabel="x2", title="right")
    problems = plots.readability_problems(fig)
    assert problems == [
        "'left': the y axis has tick labels but no label",
        "'right': the x axis has tick labels but no label",
    ]


def test_a_label_on_a_sharing_axes_or_the_figure_counts(figure):
    fig, axes = figure(2, 2, sharex=True, sharey=True)
    for ax in axes.ravel():
        ax.plot([0, 1], [1, 0])
    for ax in axes[1]:
        ax.set_xlabel("x1")  # the top row shares it
    fig.supylabel("x2")
    assert plots.readability_problems(fig) == []


def test_images_without_axes_and_hidden_tick_labels_need_no_labels(figure):
    fig, (image, bars) = figure(1, 2)
    image.imshow(np.zeros((4, 4)))
    image.axis("off")
    bars.bar([0, 1], [1, 2])
    bars.set_xticks([])
    bars.set_ylabel("count")
    assert plots.readability_problems(fig) == []


def test_glue_figure_refuses_an_unreadable_figure_and_names_it(figure):
    fig, ax = figure()
    ax.plot([0, 1], [1, 0])
    with pytest.raises(ValueError, match=r"^figure 'fig_toy' is hard to read: .*no label"):
        plots.glue_figure("fig_toy", fig)
    assert plt.fignum_exists(fig.number)  # not closed: the cell still shows it


def test_glue_figure_closes_the_figure_it_glued(figure, capsys):
    fig, ax = figure()
    ax.plot([0, 1], [1, 0])
    ax.set(xlabel="x1", ylabel="x2")
    plots.glue_figure("fig_ok", fig)
    assert not plt.fignum_exists(fig.number)


def test_a_colour_bar_needs_no_label_of_its_own(figure):
    fig, ax = figure()
    filled = ax.contourf(np.arange(4), np.arange(4), np.arange(16.0).reshape(4, 4))
    fig.colorbar(filled, ax=ax)
    ax.set(xlabel="x1", ylabel="x2")
    assert plots.readability_problems(fig) == []
