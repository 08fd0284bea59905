"""The ``atomsight`` command line."""

from __future__ import annotations

import argparse
import logging
import math
import os
import sys
import time
import traceback
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .analysis.gold import GOLD_LATTICE_CONSTANT, ZONES
from .analysis.graphene import BOND_LENGTH
from .io.formats import describe_formats
from .network.tiling import DEFAULT_TILE


def _inspect(args: argparse.Namespace) -> int:
    from .io.inspection import plot_store, summarize_store

    print(summarize_store(args.store))
    out = args.out or Path(args.store).with_suffix(".png")
    print(f"plot         {plot_store(args.store, out, count=args.count)}")
    return 0


def _preview(args: argparse.Namespace) -> int:
    from .config import load_config, system_config
    from .layout import ResultsLayout
    from .microscope.preview import plot_training_images

    system = system_config(load_config(args.config, *args.configfile), args.system)
    layout = ResultsLayout(args.results)
    stores = layout.existing_shard_stores(args.system, system, "train")
    out = plot_training_images(stores, system, name=args.system, out=args.out or layout.preview(args.system),
                               count=args.count, seed=args.seed)
    print(f"wrote {out}")
    return 0


def _evaluate_grid(args: argparse.Namespace) -> int:
    from .config import load_config, system_config
    from .evaluation.grid import evaluate_grid
    from .layout import ResultsLayout

    system = system_config(load_config(args.config, *args.configfile), args.system)
    layout = ResultsLayout(args.results)
    out = args.out or Path(layout.grid(args.system))
    results = evaluate_grid(
        system, model_path=args.model or layout.training(args.system, "model.keras"),
        test_stores=layout.existing_shard_stores(args.system, system, "test"),
        train_stores=layout.existing_shard_stores(args.system, system, "train"), out=out,
    )
    print(f"cells with noise-free contrast >= {results['contrast_threshold']:g}, pooled (model | baseline):")
    for entry in results["summary"]:
        if entry["model"] is None:
            print(f"  {entry['dose']:>9g} e/Å²: no cell")
            continue
        model, baseline = entry["model"], entry["baseline"]
        print(f"  {entry['dose']:>9g} e/Å²: {entry['cells']}/{entry['cells_total']} cells, F1 {model['f1']:.3f} |"
              f" {baseline['f1']:.3f}, worst cell F1 {model['min_cell_f1']:.3f} | {baseline['min_cell_f1']:.3f},"
              f" RMSE {model['rmse']:.3f} | {baseline['rmse']:.3f} Å")
    print(f"wrote {out}/grid.csv, grid.json and grid_*.png")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from .io.atomic import check_output_folder
    from .models import resolve_model
    from .models.card import read_card
    from .network.preflight import check_inputs

    check_output_folder(args.out)
    card = read_card(resolve_model(args.model))
    passed, refused = check_inputs(card, args.images, sampling=args.sampling)
    for refusal in refused:
        print(f"atomsight predict: skipped {refusal.reason}", file=sys.stderr)
    if args.series and refused:
        return 2  # a focal series is whole or nothing
    if not passed:
        return 2
    from .network.predict import load_predictor, predict_images

    predictor = load_predictor(args.model, precision=args.precision, trust_saved_model=args.trust_saved_model)
    identity = predictor.identity
    print(f"model {identity['name']}: {Path(identity['folder']) / identity['file']} (its files' SHA-256 as its card"
          f" lists), computing in {identity['precision']}")
    registrar = None if args.register_with is None else load_predictor(args.register_with, precision=args.precision)
    runs = [passed] if args.series else [[path] for path in passed]
    failed, done = len(refused), 0
    for paths in runs:
        start = time.perf_counter()
        try:
            tables = predict_images(predictor, paths, sampling=args.sampling, out=args.out, tile=args.tile,
                                    augment=args.augment, series=args.series, aligned=args.aligned,
                                    register_with=registrar)
        except (ValueError, OSError) as error:
            print(f"atomsight predict: skipped {error}", file=sys.stderr)
            failed += 1
            continue
        for table in tables:
            print(_summary_line(table, time.perf_counter() - start))
        done += 1
    return 0 if not failed else 1 if done else 2  # 1: some inputs skipped, the others done


def _summary_line(table: Path, seconds: float) -> str:
    """One line on an image a model was applied to: its size and pixel size, what was found, where it went."""
    from .detections import read_table

    found = read_table(table)
    image = (found.metadata or {}).get("image", {})
    source = image.get("source")
    source = ", ".join(source) if isinstance(source, list) else source
    height, width = image.get("shape", ["?", "?"])[:2]
    frame = "" if image.get("frame") is None else f" frame {image['frame']}"
    classes = ", ".join(f"{n} {name}" for name, n in Counter(found.classes or []).items()) or "nothing"
    return (f"{source}{frame}: {height} x {width} pixels at {image.get('sampling_A', 0):g} Å/pixel"
            f" ({image.get('sampling_source', '?')}): {classes} -> {table} (+ .json, _probabilities.npy,"
            f" _overlay.png), {seconds:.1f} s")


def _track(args: argparse.Namespace) -> int:
    from .analysis.sequence import track_movies
    from .io.atomic import check_output_folder
    from .io.movies import check_movie_path, movie_files
    from .models import resolve_model
    from .models.card import read_card
    from .network.preflight import check_image

    check_output_folder(args.out)
    files = movie_files(args.movies)
    movies = [files] if args.frames_from_files else files
    firsts = [movie[0] if isinstance(movie, list) else movie for movie in movies]
    for path in firsts:
        check_movie_path(Path(path))
    card = read_card(resolve_model(args.model))
    for path in firsts:  # before the model loads; the frames' own problems are the movie reader's to report
        check_image(card, Path(path), sampling=args.sampling)
    for path in track_movies(args.model, movies, sampling=args.sampling, out=args.out,
                             max_displacement=args.max_displacement, site_radius=args.site_radius, tile=args.tile):
        print(f"wrote {path}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from .models import SHIPPED, shipped_models
    from .models.card import describe_card

    cards = shipped_models()
    if not cards:
        print(f"no shipped models in {SHIPPED}")
    for name, card in cards.items():
        print(describe_card(name, card))
    return 0


def _release(args: argparse.Namespace) -> int:
    from .config import load_config, system_config
    from .export.release import release

    system = system_config(load_config(args.config, *args.configfile), args.system)
    out = release(system, name=args.name or args.system, system_name=args.system, model_path=args.model,
                  history_path=args.history, metrics_path=args.metrics, out=args.out, grid_path=args.grid)
    print(f"wrote {out}")
    return 0


def _analyze_each(name: str, analyze, paths: Sequence[Path]) -> int:
    """Run ``analyze(path)`` on each file; print what it wrote or the error naming the file; 2 if any failed."""
    failed = 0
    for path in paths:
        try:
            written = analyze(path)
        except (ValueError, FileNotFoundError, OSError) as error:
            print(f"atomsight analyze {name}: error: {error}", file=sys.stderr)
            failed += 1
            continue
        for target in written:
            print(f"wrote {target}")
    return 2 if failed else 0


def _analyze_graphene(args: argparse.Namespace) -> int:
    from .analysis.graphene_files import analyze_graphene_file

    return _analyze_each("graphene", lambda path: analyze_graphene_file(
        path, out=args.out, cutoff=args.cutoff, bond_length=args.bond_length, max_ring=args.max_ring), args.positions)


def _analyze_gold(args: argparse.Namespace) -> int:
    from .analysis.gold_files import analyze_gold_file
    from .analysis.gold_movies import write_movie_summaries

    status = _analyze_each("gold", lambda path: analyze_gold_file(
        path, out=args.out, cutoff=args.cutoff, lattice_constant=args.lattice_constant, zone=args.zone),
        args.positions)
    for target in write_movie_summaries(args.positions, out=args.out, lattice_constant=args.lattice_constant,
                                        zone=args.zone):
        print(f"wrote {target}")
    return status


def _positive(text: str) -> float:
    """An option's value: a finite number above 0 (argparse names the option and the value otherwise)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number above 0")
    return value


def _add_model_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--model`` of every command that applies a model."""
    parser.add_argument("--model", required=True,
                        help="a shipped model's name (`atomsight models` lists them), e.g. graphene, or a model"
                             " folder, e.g. results/models/graphene")


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``atomsight`` command."""
    parser = argparse.ArgumentParser(
        prog="atomsight", description="Find and classify atoms in HRTEM images with a network trained on simulations."
    )
    parser.add_argument("--version", action="version", version=f"atomsight {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show atomsight's progress log and TensorFlow's own log lines (hidden otherwise)")
    commands = parser.add_subparsers(dest="command", required=True)

    inspect = commands.add_parser("inspect", help="summarise an exit-wave store and plot a few exit waves")
    inspect.add_argument("store", type=Path, help="a shard store, e.g. results/exitwaves/graphene/train/shard-000.zarr")
    inspect.add_argument("--out", type=Path, help="PNG to write (default: the store's path with .png)")
    inspect.add_argument("--count", type=int, default=4, help="structures to plot (default: 4)")
    inspect.set_defaults(run=_inspect)

    models = commands.add_parser("models", help="list the models that ship with atomsight, with their cards")
    models.set_defaults(run=_models)

    release = commands.add_parser("release", help="write a trained network and its card as a shipped model folder")
    release.add_argument("config", type=Path, help="the configuration it was trained with, e.g. config.yaml")
    release.add_argument("system", help="its system, e.g. graphene")
    release.add_argument("--configfile", type=Path, action="append", default=[],
                         help="a file merged over CONFIG, as with snakemake --configfile (repeatable)")
    release.add_argument("--model", type=Path, required=True,
                         help="the trained network: model.keras of a finished run, or backup/latest.weights.h5 of a"
                              " running one")
    release.add_argument("--history", type=Path, required=True, help="the run's history.csv")
    release.add_argument("--metrics", type=Path, required=True, help="metrics.json of its evaluation on the test split")
    release.add_argument("--grid", type=Path, help="summary JSON of its evaluation over a grid of conditions")
    release.add_argument("--name", help="the model's name (default: the system's)")
    release.add_argument("--out", type=Path, required=True, help="the model folder, e.g. src/atomsight/models/graphene")
    release.set_defaults(run=_release)

    preview = commands.add_parser("preview", help="write a PNG of training images with labels and drawn microscopes")
    preview.add_argument("config", type=Path, help="the workflow configuration, e.g. config.yaml")
    preview.add_argument("system", help="a system of the configuration, e.g. graphene")
    preview.add_argument("--configfile", type=Path, action="append", default=[],
                         help="a file merged over CONFIG, as with snakemake --configfile (repeatable)")
    preview.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")
    preview.add_argument("--out", type=Path, help="PNG to write (default: RESULTS/preview/SYSTEM.png)")
    preview.add_argument("--count", type=int, default=8, help="images to show (default: 8)")
    preview.add_argument("--seed", type=int, default=0, help="seed of the drawn microscopes (default: 0)")
    preview.set_defaults(run=_preview)

    grid = commands.add_parser(
        "evaluate-grid", help="score a model and a classical baseline on test images over a grid of defocus x Cs"
                              " and doses"
    )
    grid.add_argument("config", type=Path, help="the workflow configuration, e.g. config.yaml")
    grid.add_argument("system", help="a system of the configuration, e.g. graphene")
    grid.add_argument("--configfile", type=Path, action="append", default=[],
                      help="a file merged over CONFIG, as with snakemake --configfile (repeatable); the grid is"
                           " the system's evaluation.grid section")
    grid.add_argument("--results", type=Path, default=Path("results"),
                      help="results folder holding exitwaves/SYSTEM/{train,test} (default: results)")
    grid.add_argument("--model", type=Path,
                      help="a trained .keras model or an exported model folder (default:"
                           " RESULTS/training/SYSTEM/model.keras)")
    grid.add_argument("--out", type=Path, help="folder of the results (default: RESULTS/eval/SYSTEM/grid)")
    grid.set_defaults(run=_evaluate_grid)

    predict = commands.add_parser("predict", help="find atoms or columns in images with a shipped or trained model")
    predict.add_argument("images", type=Path, nargs="+",
                         help=f"images, or folders of them: {describe_formats()}; all predicted in one run with the"
                              " model loaded once; a file of several frames is predicted frame by frame, or for a"
                              " focal-series model (gold-counting) is one series")
    predict.add_argument("--sampling", type=_positive,
                         help="pixel size of the images [Å/pixel]; default: each file's own calibration, which"
                              " this overrides (warning if they differ by more than 1 %%); needed for files"
                              " without one")
    _add_model_argument(predict)
    predict.add_argument("--out", type=Path, required=True, help="folder of the results")
    predict.add_argument("--tile", type=int, default=DEFAULT_TILE,
                         help="largest tile side for large images [pixels at the model's sampling] (default:"
                              f" {DEFAULT_TILE});"
                              " tiles overlap by twice the network's receptive field, so they join without seams;"
                              " larger tiles are faster and need more memory")
    predict.add_argument("--augment", action="store_true",
                         help="test-time augmentation: average the maps over the 8 symmetries of the square (8 times"
                              " the cost) and add each detection's position spread to the CSV (sigma_x_A, sigma_y_A"
                              " [Å], n_augment)")
    predict.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16"), default="auto",
                         help="Keras dtype policy the network computes in (default: auto, its training precision"
                              " where the CPU or GPU computes it, float32 where bfloat16 would be emulated, e.g. on"
                              " CPUs without AVX-512 BF16; the choice is logged): mixed_bfloat16 is 1.4x as fast"
                              " on CPUs with AVX-512 BF16 and changes a few detections near the threshold"
                              " (BENCHMARKS.md)")
    predict.add_argument("--series", action="store_true",
                         help="the images are the files of one focal series, in the order of the model's defoci"
                              " (atomsight models lists them): registered to each other, checked against the"
                              " model's number of images and for one pixel size")
    predict.add_argument("--aligned", action="store_true",
                         help="a focal series' frames are aligned already: do not register them (frames at very"
                              " different focus can misregister by a lattice vector, README)")
    predict.add_argument("--register-with", metavar="MODEL",
                         help="register a focal series' frames by the columns this single-image model of the"
                              " material finds in each (e.g. gold), not by the cross-correlation of the images,"
                              " which frames at very different focus can fool by a lattice vector")
    predict.add_argument("--trust-saved-model", action="store_true",
                         help="run the model folder's SavedModel instead of its model.keras (loaded in Keras' safe"
                              " mode): a SavedModel is a TensorFlow graph that may read and write files and run any"
                              " TensorFlow operation, so only for a folder you made or trust")
    predict.set_defaults(run=_predict)

    track = commands.add_parser("track", help="drift, tracks, site occupancy and events of image sequences")
    _add_model_argument(track)
    track.add_argument("movies", nargs="+",
                       help=f"movies, each a file of frames: {describe_formats()} (a TIFF one frame a page, a .npy"
                            " array (frames, H, W)); glob patterns such as 'frames/*.dm4' are expanded, sorted by name")
    track.add_argument("--frames-from-files", action="store_true",
                       help="read all MOVIES as the frames of one movie, in the order given, named after the"
                            " folder of the first; frames of another size or pixel size are skipped with a warning")
    track.add_argument("--sampling", type=_positive,
                       help="pixel size of the movies [Å/pixel]; default: each movie's own calibration, which this"
                            " overrides (warning if they differ by more than 1 %%); needed for files without one")
    track.add_argument("--out", type=Path, required=True, help="folder of the results")
    track.add_argument("--max-displacement", type=_positive, default=1.0,
                       help="largest move of an atom between consecutive frames on one track [Å] (default: 1.0)")
    track.add_argument("--site-radius", type=_positive, default=1.0,
                       help="tracks closer than this form one site [Å]; below half the site spacing (default: 1.0)")
    track.add_argument("--tile", type=int, default=DEFAULT_TILE,
                       help="largest tile side for large frames [pixels at the model's sampling] (default:"
                            f" {DEFAULT_TILE});"
                            " as predict's --tile")
    track.set_defaults(run=_track)

    analyze = commands.add_parser("analyze", help="analyse found positions: graphene bonds and rings, gold columns")
    analyses = analyze.add_subparsers(dest="analysis", required=True)
    graphene = analyses.add_parser(
        "graphene", help="bond lengths, rings (5/6/7/8) and planar strain of graphene from position CSVs"
    )
    graphene.add_argument("positions", type=Path, nargs="+",
                          help="CSVs with columns x_A, y_A [Å] (as predict writes them), optionally probability"
                               " and sigma_x_A, sigma_y_A [Å] for bond-length error bars")
    graphene.add_argument("--out", type=Path, required=True, help="folder of the results")
    graphene.add_argument("--cutoff", type=_positive, default=1.8,
                          help="atoms closer than this are bonded [Å] (default: 1.8)")
    graphene.add_argument("--bond-length", type=_positive, default=BOND_LENGTH,
                          help="bond length of unstrained graphene, the strain's reference [Å] (default: the"
                               f" configuration's, {BOND_LENGTH:g})")
    graphene.add_argument("--max-ring", type=int, default=9,
                          help="largest ring [atoms]; larger faces are holes or the outside (default: 9)")
    graphene.set_defaults(run=_analyze_graphene)
    gold = analyses.add_parser(
        "gold", help="column heights, column spacings and particle outline of gold particles from position CSVs"
    )
    gold.add_argument("positions", type=Path, nargs="+",
                      help="CSVs with columns x_A, y_A [Å] (as predict writes them, one per image or frame),"
                           " optionally class (height classes such as column-3 give the atoms) and probability;"
                           " the frames of a movie (<movie>_frame0000.csv, ...) are also gathered into"
                           " <movie>_gold_frames.csv and .png, one row per frame")
    gold.add_argument("--out", type=Path, required=True, help="folder of the results")
    gold.add_argument("--cutoff", type=_positive, default=3.2,
                      help="column pairs closer than this are listed [Å] (default: 3.2, above Au <110>'s 2.88)")
    gold.add_argument("--lattice-constant", type=_positive, default=GOLD_LATTICE_CONSTANT,
                      help="cubic lattice constant of the reference column distances [Å] (default: the"
                           f" configuration's gold, {GOLD_LATTICE_CONSTANT:g})")
    gold.add_argument("--zone", choices=ZONES, default="110",
                      help="zone axis the particle is seen along, for the reference column distances (default: 110;"
                           " 111: the triangular lattice of spacing a/√6)")
    gold.set_defaults(run=_analyze_gold)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``atomsight`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    else:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads: its INFO and WARNING lines
    try:
        return args.run(args)
    except (ValueError, OSError) as error:  # what a user can cause: the message names the file, key or value
        print(f"atomsight {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"atomsight {args.command}: interrupted; the files written so far are complete", file=sys.stderr)
        return 130
    except Exception:  # noqa: BLE001 - a bug: its traceback, and where to report it
        traceback.print_exc()
        print(f"atomsight {args.command}: internal error (atomsight {__version__}); please report it with the command"
              " line and the traceback above", file=sys.stderr)
        return 3


def run() -> None:
    """The ``atomsight`` executable: :func:`main`, then end the process at once.

    Everything a command writes is complete and closed when :func:`main` returns (files
    through temporary paths, renamed). Tearing the interpreter down after TensorFlow has run
    takes another second (1.1 s after a 2048 x 2048 ``predict``, a tenth of the run:
    BENCHMARKS.md), so the output streams and the logs are flushed and the process exits
    without it. Called in-process (tests, notebooks), :func:`main` returns as usual.
    """
    status = main()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    run()
