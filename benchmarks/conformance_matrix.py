"""The conformance matrix of docs/deployment.md, regenerated: every model kind × every runtime here.

Trains each kind of tests/model_kinds.py for one epoch, exports every format, runs the bundle on
every runtime installed (nsb.eval.conformance) and rewrites the table between the markers in
docs/deployment.md, with the runtimes' versions. tests/test_conformance.py asserts the same cells in
CI; this script only writes them down. About five minutes on two cores:

    OMP_NUM_THREADS=1 python benchmarks/conformance_matrix.py [--check]   # --check: print, do not write
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the model kinds, as the tests import them

START, END = "<!-- conformance-matrix:start -->", "<!-- conformance-matrix:end -->"
MARK = {"pass": "✓", "fail": "✗", "skip": "—", "flagged": "≈"}


def main() -> None:
    from nsb.eval.bundle import Bundle
    from nsb.eval.conformance import GPU_RUNTIMES, RUNTIMES, check, versions
    from model_kinds import KINDS, make_bundle

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="print the table, leave docs/deployment.md alone")
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "deployment.md")
    args = parser.parse_args()

    notes: list[str] = []
    rows = []
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for i, kind in enumerate(KINDS):
            bundle, nir_refused = make_bundle(kind, Path(tmp) / f"k{i}")
            opened = Bundle(bundle)
            cells = []
            for runtime in RUNTIMES:
                cell = check(opened, runtime)
                failed |= cell.status == "fail"
                mark = MARK[cell.status]
                if cell.status != "pass":
                    reason = nir_refused if runtime == "nir-snntorch" and nir_refused else cell.detail
                    # a refusal's fix and the importer note are the same in every row: keep the reason
                    reason = reason.split(" (importer with")[0]
                    if cell.status == "skip":
                        reason = reason.split("; ")[0]
                    if reason not in notes:
                        notes.append(reason)
                    mark += f"<sup>{notes.index(reason) + 1}</sup>"
                cells.append(mark)
            rows.append((kind, cells))
            print(f"{kind}: {' '.join(cells)}", flush=True)

    header = "| model | " + " | ".join(spec.label for spec, _ in RUNTIMES.values()) + " |"
    lines = [header, "| --- |" + " :---: |" * len(RUNTIMES)]
    lines += [f"| {kind} | " + " | ".join(cells) + " |" for kind, cells in rows]
    lines.append("")
    lines.append("✓ passes the gate (fp32: 100 % of predictions, ≥ 99.99 % of spikes in every layer, or for a model "
                 "without spiking layers its outputs to relative L2 ≤ 1e-5; the TensorRT "
                 "columns: parsed, and an engine built / parsed up to the plugin lookup), ≈ a documented approximation of the "
                 "format or its consumer (flagged in the manifest; agreement reported, not gated), ✗ fails, — not "
                 "applicable.")
    lines.append("NIR → snnTorch: snnTorch's `import_from_nir` with the fixes of its two importer bugs (IF nodes, "
                 "snnTorch #452; the recurrent rewrite, nirtorch #51) applied, as docs/nir.md explains.")
    lines.append("")
    for n, note in enumerate(notes, start=1):
        lines.append(f"<sup>{n}</sup> {note}")
    lines.append("")
    stamp = datetime.date.today().isoformat()
    lines.append(f"Generated {stamp} by `benchmarks/conformance_matrix.py` on {platform.machine()} "
                 f"(Python {platform.python_version()}): "
                 + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".")
    lines.append("")
    lines.append("Runtimes that need a GPU are checked on the GPU machine (`benchmarks/gpu_check.sh`):")
    lines.append("")
    lines += [f"- {name}: `{command}`" for name, command in GPU_RUNTIMES.items()]
    table = "\n".join(lines)
    print("\n" + table)
    if not args.check:
        text = args.doc.read_text()
        if START not in text or END not in text:
            raise SystemExit(f"{args.doc} lacks the markers {START} … {END}")
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        args.doc.write_text(f"{head}{START}\n{table}\n{END}{tail}")
        print(f"\nwrote the matrix into {args.doc}")
    if failed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
