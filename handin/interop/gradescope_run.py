"""What an exported bundle's ``run_autograder`` runs on Gradescope (see handin.interop.gradescope).

    python -m handin.interop.gradescope_run MODULE_DIR SUBMISSION_DIR OUT_DIR RESULTS_JSON

Picks the student's notebook from Gradescope's submission folder, grades it with the local
sandbox as ``handin grade`` does, and writes its results.json where Gradescope reads it.
Whatever goes wrong, a results.json with a score of 0 and a message is written: Gradescope
shows a submission with no results file as a failed autograder, with nothing for the student.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def pick_notebook(submission_dir: Path, starter_name: str) -> Path:
    notebooks = sorted(p for p in submission_dir.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not notebooks:
        raise LookupError("no notebook (.ipynb) in the submission: upload your notebook file")
    if len(notebooks) == 1:
        return notebooks[0]
    named = [p for p in notebooks if p.name == starter_name]
    if len(named) == 1:
        return named[0]
    raise LookupError(f"{len(notebooks)} notebooks in the submission and none is the one expected "
                      f"({starter_name}): upload only your notebook")


def main(argv: list[str]) -> int:
    module_dir, submission_dir, out_dir, results_path = (Path(a) for a in argv)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        from handin.grading import grade_batch
        from handin.spec import load_module
        from sandbox import get_backend

        spec = load_module(module_dir)
        notebook = pick_notebook(submission_dir, spec.starter.name)
        (result,) = grade_batch(spec, [notebook], backend=get_backend("local"), out_dir=out_dir, jobs=1)
    except Exception as exc:  # noqa: BLE001 - the student still gets a results file
        doc = {"score": 0.0, "output": f"The autograder could not grade this submission: {exc}", "tests": []}
        results_path.write_text(json.dumps(doc, indent=1))
        print(doc["output"], file=sys.stderr)
        return 0
    results_path.write_text(json.dumps(result, indent=1))
    print(f"{result['score']:g} / {result['max_score']:g}: {result['status']} ({result['status_reason']})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
