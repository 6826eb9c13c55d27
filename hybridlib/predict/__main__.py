"""``python -m hybridlib.predict FILE.cif [FILE ...]``: every trained model on your crystals.

Reads any number of CIF files, predicts them with the models stored in the run registry
(nothing is trained) and prints one table (``--out`` also writes it as CSV). A file that
cannot be read or used is reported on stderr and as a row with its ``error``; the others are
still predicted, and the exit status is 1. Exit status 2: a requested model is not in the
registry (the message says how to create it).
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import pandas as pd

#: Columns printed on the terminal (the CSV keeps them all).
SHOWN = ["input", "formula", "model", "target", "prediction", "unit", "uncertainty",
         "too_many_sites", "in_training_data", "dft_value", "unseen_elements"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hybridlib.predict",
        description="Predict formation energy and band gap of crystals (CIF files) with every "
                    "trained model of the book, read from the run registry (never trains).")
    parser.add_argument("files", nargs="+", metavar="FILE.cif", help="CIF files to predict")
    parser.add_argument("--models", nargs="+", metavar="NAME",
                        help="experiments to use (default: every model of the book)")
    parser.add_argument("--profile", help="ci, book or full (default: $HYBRIDLIB_PROFILE)")
    parser.add_argument("--registry", metavar="DIR",
                        help="run registry folder (default: $HYBRIDLIB_CACHE_DIR/runs)")
    parser.add_argument("--seeds", nargs="+", type=int, metavar="K",
                        help="seeds whose stored runs form each model's ensemble "
                             "(default: 0 1 2)")
    parser.add_argument("--out", metavar="TABLE.csv", help="also write the table as CSV")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    from . import ENSEMBLE_SEEDS, InputError, MissingRunError, Predictor
    from .inputs import from_cif_file

    args = _parser().parse_args(argv)
    start = time.perf_counter()
    warnings.filterwarnings("ignore", message="No Pauling electronegativity")
    try:
        predictor = Predictor(args.models, args.profile, registry=args.registry,
                              seeds=args.seeds if args.seeds else ENSEMBLE_SEEDS)
    except (MissingRunError, KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    loaded = time.perf_counter()
    materials, failed = [], []
    for path in args.files:
        try:
            found = from_cif_file(path)
            for material in found:
                predictor.check(material)
            materials += found
        except InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed.append({"input": path, "error": str(exc)})
    table = predictor.predict(materials) if materials else pd.DataFrame(columns=SHOWN)
    if failed:
        table = pd.concat([table.assign(error=""), pd.DataFrame(failed)], ignore_index=True)
    with pd.option_context("display.width", 200, "display.max_rows", None,
                           "display.max_colwidth", 40, "display.float_format", "{:.4f}".format):
        print(table[[c for c in [*SHOWN, "error"] if c in table]].to_string(index=False))
    if args.out:
        table.to_csv(args.out, index=False)
    print(f"{len(materials)} structure(s) x {len(predictor.models)} model(s): models loaded in "
          f"{loaded - start:.1f} s, predicted in {time.perf_counter() - loaded:.1f} s"
          + (f"; {len(failed)} file(s) failed" if failed else ""), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
