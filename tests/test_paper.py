"""The paper's numbers as cgp_lib.repro.paper holds them, checked against the paper's text."""

import pytest

from cgp_lib.repro import paper


def test_tables_hold_the_papers_rows_with_their_bounds():
    t1, t2, t3 = paper.table1(), paper.table2(), paper.table3()
    assert list(t1.index) == list("ABCDEF") and list(t2.index) == list("ABC") and list(t3.index) == ["A'", "E", "F"]
    assert paper.reported_text(t1, "A", "steps_to_best", 0) == "5158 ± 82"
    assert paper.reported_text(t1, "F", "im2", 2, scale=10) == "1.27 ± 0.03"  # Table 1 prints IM2 × 10
    assert paper.reported_text(t2, "C", "time_s", 2) == "0.22 ± 0.02"
    assert paper.reported_text(t3, "A'", "seconds", 2) == "54.64 ± 1.28"
    assert t1.attrs["source"].startswith("Table 1") and t3.attrs["source"].startswith("Table 3")


def test_table4_totals_are_the_sums_of_the_class_counts():
    t4 = paper.table4()  # a typo in a copied count would break the paper's own totals
    assert (t4[list(range(10))].sum(axis=1) == t4["total"]).all()
    assert t4.loc["B", 1] == 8  # appendix E: "loss function B only returned 8 instances classified as 1"


def test_tables_are_fresh_copies():
    t = paper.table1()
    t.loc["A", "im1"] = 0.0
    assert paper.table1().loc["A", "im1"] == 1.56


def test_settings_are_read_only_and_follow_appendix_b():
    assert paper.MNIST["theta"]["C"] == paper.MNIST["theta"]["E"] == 200.0
    assert paper.MNIST["theta"]["D"] == paper.MNIST["theta"]["F"] == 100.0
    with pytest.raises(TypeError):
        paper.MNIST["beta"] = 1.0


def test_reported_text_names_the_bad_argument():
    with pytest.raises(ValueError, match="column"):
        paper.reported_text(paper.table1(), "A", "distance", 2)
    with pytest.raises(ValueError, match="row"):
        paper.reported_text(paper.table2(), "D", "im1", 2)
