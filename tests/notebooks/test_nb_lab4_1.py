"""lab4_1 (quick run): the lab's passes double the widths, 661 -> 1,797 parameters, and the model trains."""

from tests.helpers import summary_of


def test_lab4_1_quick(quick_report):
    s = summary_of(quick_report, "lab4_1")
    n = s["numbers"]
    assert s["synthetic"] and s["quick"]
    assert n["params before"] == 661 and n["params after"] == 1797  # 16*32+32 + 32*32+32 + 32*5+5 + 2*16
    assert n["hidden widths after"] == "32, 32" and n["logits shape"] == "(1024, 5)"
    assert n["val accuracy trained"] == round(n["val accuracy trained"], 4)  # rounded, not 16 digits
    widths, learns = s["claims"]
    assert widths["holds"] is True and "1,797" in widths["evidence"]
    assert learns["holds"] == (learns["numbers"]["p"] < 0.05) and "binomial" in learns["evidence"]
    assert (quick_report / "figures" / "lab4_1_training.png").stat().st_size > 1000
    assert (quick_report / "results" / "lab4_1" / "params.csv").exists()
