"""lab4_1 (quick run): the lab's passes double the widths, 661 -> 1,797 parameters, and the model trains."""

from tests.helpers import summary_of


def test_lab4_1_quick(quick_report):
    s = summary_of(quick_report, "lab4_1")
    n = s["numbers"]
    assert s["synthetic"] and s["quick"]
    assert n["params before"] == 661 and n["params after"] == 1797  # 16*32+32 + 32*32+32 + 32*5+5 + 2*16
    assert n["hidden widths after"] == "32, 32" and n["logits shape"] == "(1024, 5)"
    assert n["val accuracy trained"] == round(n["val accuracy trained"], 4)  # rounded, not 16 digits
    widths, learns, every_class = s["claims"]
    assert (widths["kind"], widths["verdict"]) == ("check", "check passed") and "1,797" in widths["evidence"]
    assert (learns["verdict"] == "holds") == (learns["numbers"]["p"] < 0.05) and "binomial" in learns["evidence"]
    # the failed-run remark, computed from the trained model's predictions per class
    never = every_class["numbers"]["never_predicted"]
    assert every_class["verdict"] == ("refuted" if never else "holds")
    assert every_class["numbers"]["classes_predicted"] == 5 - len(never)
    assert ("a failed run" in every_class["evidence"]) == bool(never)
    assert "Validation accuracy (%) per epoch" in s["captions"]["lab4_1_training.png"]
    assert (quick_report / "figures" / "lab4_1_training.png").stat().st_size > 1000
    assert (quick_report / "results" / "lab4_1" / "params.csv").exists()
