"""docs/notebooks/first_run.ipynb runs clean under the real `jupyter nbconvert --execute`
(a fresh ipykernel, as a reader's Jupyter runs it), in a temporary folder: its run's
summary, a plot against months and the fiscal-year table come out, and no error."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "docs" / "notebooks" / "first_run.ipynb"


def test_first_run_notebook_executes_with_nbconvert(tmp_path):
    copy = tmp_path / NOTEBOOK.name  # run from here: nothing written into the repo
    shutil.copy(NOTEBOOK, copy)
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
         "--ExecutePreprocessor.timeout=120", "--output", "executed.ipynb", str(copy)],
        cwd=tmp_path, capture_output=True, text=True, timeout=180)
    took = time.monotonic() - began
    assert done.returncode == 0, done.stderr[-3000:]
    cells = json.loads((tmp_path / "executed.ipynb").read_text())["cells"]
    outputs = [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    html = ["".join(o["data"]["text/html"]) for o in outputs if "text/html" in o.get("data", {})]
    assert any("RunResult" in h and "historical" in h and "FY2019" in h for h in html), html
    text = ["".join(o["data"]["text/plain"]) for o in outputs if "text/plain" in o.get("data", {})]
    assert any(t.startswith("RunResult(historical: 2018-10-01 to 2019-12-31, seed 0, scale 100")
               for t in text), text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the plot
    table = next(h for h in html if "unique_encountered" in h)
    assert "2019" in table and "2020" in table and "encounters" in table
    # the source notebook stays clean (no outputs committed, none added by the run)
    source = json.loads(NOTEBOOK.read_text())
    assert all(not c.get("outputs") for c in source["cells"] if c["cell_type"] == "code")
    print(f"notebook executed in {took:.1f} s")
