"""Rules over the package's source, checked by reading the files (grep-style), plus the one behaviour
each rule protects.

- Every ``torch.load`` passes ``weights_only=True``, so a checkpoint carrying code is refused instead of
  run (checked on the source, then with a real malicious checkpoint).
- Every user-visible file is written through ``lab_utils.atomic`` (temporary file + rename), so a
  kill never leaves a torn file. :data:`ALLOWED` lists the few writes into a temporary file of
  ``atomic_path`` or into a stream, by file name and the text on the line.

The import rules (layers, cycles, function-local imports) are in ``tests/test_layers.py``.
"""

import re
from pathlib import Path

import pytest
import torch

from lab_utils.errors import LabError
from lab_utils.training.checkpoints import load_checkpoint_file, load_weights
from tests.helpers import ROOT

SOURCES = sorted((ROOT / "lab_utils").rglob("*.py"))


# ---------------------------------------------------------------------------- torch.load
def test_every_torch_load_is_weights_only():
    calls = []
    for path in SOURCES:
        text = path.read_text()
        for m in re.finditer(r"torch\.load\(", text):
            call = text[m.start(): text.find(")", m.start()) + 1]
            calls.append((str(path.relative_to(ROOT)), call))
    assert calls, "no torch.load found: the grep is broken"
    assert all("weights_only=True" in c for _, c in calls), calls


class _Payload:
    """Unpickling this would create ``marker``: a stand-in for code in a malicious checkpoint."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_checkpoint_with_code_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hook": _Payload(marker)}, evil)
    assert not marker.exists()
    with pytest.raises(LabError, match=r"evil\.ckpt.*cannot be read.*UnpicklingError"):
        load_checkpoint_file(evil)
    with pytest.raises(LabError, match="cannot be read"):
        load_weights(torch.nn.Linear(2, 2), evil)
    assert not marker.exists()


# ---------------------------------------------------------------------------- atomic writes
WRITE_PATTERNS = (r"open\([^)]*['\"][wa]b?['\"]", r"\.write_text\(", r"\.write_bytes\(", r"\.to_csv\(\s*[^)\s]",
                  r"savefig\(", r"torch\.save\(", r"np\.savez?(_compressed)?\(", r"json\.dump\(", r"\.to_parquet\(")
# (file, text on the line): writes into a temporary file of atomic_path, or into a stream
ALLOWED = {("atomic.py", ""), ("splits.py", "open(tmp, \"wb\")"), ("splits.py", "np.savez(fh"),
           ("jsc.py", "open(tmp, \"wb\")"), ("jsc.py", "np.savez(fh"),
           ("tiny_images.py", "open(tmp, \"wb\")"), ("tiny_images.py", "np.savez(fh"),
           ("cifar10.py", "open(tmp, \"wb\")"), ("cifar10.py", "np.savez(fh"),
           ("tiny_images.py", 'tarfile.open(folder / ARCHIVE, "w:gz")'),  # test-only synthetic image set
           ("outputs.py", "frame.to_csv(buf"), ("notebook.py", "df.to_csv(index=False)"),
           ("errors.py", 'open(os.devnull, "w")')}  # stdout after a broken pipe: writes go nowhere


def plain_writes(paths, root: Path = ROOT) -> list[str]:
    """``file:line: text`` of every write that matches a pattern and is neither atomic nor allowed."""
    offenders = []
    for path in paths:
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if any(re.search(p, code) for p in WRITE_PATTERNS):
                if path.name == "atomic.py" or any(path.name == f and t and t in code for f, t in ALLOWED):
                    continue
                if re.search(r"atomic\.|Image\.fromarray", code):  # atomic helpers; test image folder
                    continue
                offenders.append(f"{path.relative_to(root)}:{i}: {line.strip()}")
    return offenders


def test_no_plain_file_writes_in_lab_utils():
    """Every user-visible file goes through lab_utils.atomic (temp file + rename)."""
    offenders = plain_writes(SOURCES)
    assert not offenders, "\n".join(offenders)


def test_the_write_rule_sees_a_plain_write(tmp_path):
    fake = tmp_path / "x.py"
    fake.write_text('def f(p):\n    p.write_text("x")\n    atomic.write_text(p, "x")  # fine\n'
                    '    open(p, "wb")  # not fine\n')
    assert plain_writes([fake], root=tmp_path) == ['x.py:2: p.write_text("x")', 'x.py:4: open(p, "wb")  # not fine']
