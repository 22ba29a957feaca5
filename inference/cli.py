"""`incident-bot worker` and `incident-bot models ...`: the model side of the command line.

The bot's command line imports this module by name to build its parser, so it stays cheap to
import: the worker, the training code and torch load only when one of these commands runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inference.errors import ModelNotReady
from inference.model_names import (
    CHART_MODEL,
    FUSION_MODEL,
    PROMOTE_MIN_ACCURACY,
    TEXT_MODEL,
    TRAINABLE,
    passes,
)
from inference.registry import DEFAULT_REGISTRY, Registry, RegistryError, open_registry
from inference.settings import WorkerSettings


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `worker` and `models` to the `incident-bot` parser."""
    worker = commands.add_parser("worker", help="serve the models (KServe V1 HTTP API) from the model registry")
    worker.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    worker.add_argument("--port", type=int, default=9001, help="port to listen on (default 9001)")
    _add_models_parser(commands)


def run(args: argparse.Namespace) -> int:
    """Run `worker` or `models`, as parsed by the parser `add_parsers` built."""
    return _COMMANDS[args.command](args)


def _serve_worker(args: argparse.Namespace) -> int:
    # The worker loads torch and the models: imported only when it is the command that runs.
    import uvicorn

    from inference.app import build_worker

    # No access log: at hundreds of predictions a second it costs CPU the models need, and
    # /metrics counts every request by model and outcome.
    # log_config=None: uvicorn's records go through the logging the command line set up (JSON by
    # default), instead of its own text handlers.
    uvicorn.run(build_worker(WorkerSettings()), host=args.host, port=args.port, log_config=None, access_log=False)
    return 0


def _add_models_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = commands.add_parser("models", help="train, list, validate, promote and roll back models")
    models.add_argument("--registry", default=None,
                        help=f"registry folder or s3://bucket/prefix (default {DEFAULT_REGISTRY}, or MODEL_REGISTRY)")
    actions = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    train = actions.add_parser("train", help="train models from the project's data and publish them")
    train.add_argument("--model", choices=TRAINABLE, action="append", help="only this model (repeatable)")
    train.add_argument("--quick", action="store_true", help="small, fast models for tests and CI")
    train.add_argument("--seed", type=int, default=7)
    train.add_argument("--retrain", action="store_true",
                       help="train even if this data and settings were trained before")
    train.add_argument("--train-fraction", type=float, default=1.0,
                       help="incident-text only: train on this share of the texts, for a deliberately weaker version")
    train.add_argument("--no-promote", action="store_true", help="publish the versions without serving them")
    actions.add_parser("list", help="each model's versions with their evaluation metrics")
    validate = actions.add_parser("validate", help="check a version's evaluation metrics against a bar")
    validate.add_argument("name")
    validate.add_argument("version")
    validate.add_argument("--min-accuracy", type=float, default=PROMOTE_MIN_ACCURACY)
    promote = actions.add_parser("promote", help="serve a version (it must pass validation unless --force)")
    promote.add_argument("name")
    promote.add_argument("version")
    promote.add_argument("--min-accuracy", type=float, default=PROMOTE_MIN_ACCURACY)
    promote.add_argument("--force", action="store_true")
    rollback = actions.add_parser("rollback", help="go back to the version deployed before")
    rollback.add_argument("name")
    rollback.add_argument("--steps", type=int, default=1)


def _models(args: argparse.Namespace) -> int:
    default_registry = WorkerSettings().model_registry
    registry = open_registry(args.registry or default_registry)
    try:
        return _ACTIONS[args.models_command](args, registry)
    except (RegistryError, ModelNotReady) as exc:
        # ModelNotReady: a fusion version's pinned component cannot be loaded.
        print(f"incident-bot models: {exc}", file=sys.stderr)
        return 2


def _train(args: argparse.Namespace, registry: Registry) -> int:
    if not 0 < args.train_fraction <= 1:
        print("incident-bot models: --train-fraction must be in (0, 1]", file=sys.stderr)
        return 2
    # Training loads torch: imported here, so the parser and the other actions start quickly.
    from inference.training.run import (
        promote_if_fit,
        train_chart,
        train_fusion_model,
        train_text,
    )

    for name in args.model or TRAINABLE:
        if name == TEXT_MODEL:
            manifest, fresh = train_text(registry, quick=args.quick, seed=args.seed, retrain=args.retrain,
                                         train_fraction=args.train_fraction)
        elif name == CHART_MODEL:
            manifest, fresh = train_chart(registry, quick=args.quick, seed=args.seed, retrain=args.retrain)
        elif name == FUSION_MODEL:
            manifest, fresh = train_fusion_model(registry, quick=args.quick, seed=args.seed, retrain=args.retrain,
                                                 cache_dir=Path(WorkerSettings().model_cache_dir))
        else:  # pragma: no cover - argparse limits the choices
            raise AssertionError(name)
        if fresh and not args.no_promote:
            promoted = promote_if_fit(registry, manifest)
        else:
            promoted = registry.current(name) == manifest.version
        verb = "trained" if fresh else "already trained"
        print(f"{name} {manifest.version}: {verb}; accuracy {manifest.metrics.get('accuracy')}, "
              f"macro-F1 {manifest.metrics.get('macro_f1')}" + ("; serving" if promoted else ""))
    return 0


def _list(_args: argparse.Namespace, registry: Registry) -> int:
    names = registry.models()
    if not names:
        print("no models yet: run `incident-bot models train`")
    for name in names:
        current = registry.current(name)
        print(f"{name}")
        for manifest in registry.versions(name):
            m = manifest.metrics
            marker = "*" if manifest.version == current else " "
            print(f"  {marker} {manifest.version:<5} accuracy {m.get('accuracy', '-'):<7} "
                  f"macro-F1 {m.get('macro_f1', '-'):<7} on {m.get('examples', '?')} held-out  "
                  f"created {manifest.created_at:%Y-%m-%d %H:%M}  {manifest.notes}")
    return 0


def _validate(args: argparse.Namespace, registry: Registry) -> int:
    manifest = registry.manifest(args.name, args.version)
    ok = passes(manifest, args.min_accuracy)
    print(f"{args.name} {args.version}: accuracy {manifest.metrics.get('accuracy')} "
          f"{'passes' if ok else 'fails'} the bar of {args.min_accuracy}")
    return 0 if ok else 1


def _promote(args: argparse.Namespace, registry: Registry) -> int:
    manifest = registry.manifest(args.name, args.version)
    if not passes(manifest, args.min_accuracy) and not args.force:
        print(f"incident-bot models: {args.name} {args.version} fails validation (accuracy "
              f"{manifest.metrics.get('accuracy')} < {args.min_accuracy}); use --force to promote it anyway",
              file=sys.stderr)
        return 1
    registry.promote(args.name, args.version, actor="cli")
    print(f"{args.name} {args.version} is now the serving version (a running worker picks it up on "
          f"POST /v1/models/{args.name}/versions/{args.version}:load or at restart)")
    return 0


def _rollback(args: argparse.Namespace, registry: Registry) -> int:
    version = registry.rollback(args.name, args.steps, actor="cli")
    print(f"{args.name} rolled back {args.steps} deploy(s): {version} is now the serving version")
    return 0


_COMMANDS = {"worker": _serve_worker, "models": _models}
_ACTIONS = {"train": _train, "list": _list, "validate": _validate, "promote": _promote, "rollback": _rollback}
