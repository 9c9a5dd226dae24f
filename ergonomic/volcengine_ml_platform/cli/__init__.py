"""``mlp``: every documented method of ``volcengine_ml_platform.models`` from the shell, plus the local
platform (``mlp serve``, ``mlp account``).

Output is a table by default and the documented JSON envelope with ``-o json``. Errors go to stderr
with the service's Code and RequestId and a non-zero exit status (2 for bad input, 1 otherwise);
no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from .. import schema
from ..errors import MLPlatformError, ValidationError
from . import commands as c

EXIT_ERROR = 1
EXIT_USAGE = 2

# A ValidationError's ``field`` is the documented API's name (a Python argument); the mlp argument a user
# typed for it, so the message says which one is wrong.
ARGUMENT_FOR_FIELD = {
    "local_path": "path",
    "model_name": "--name",
    "model_format": "--format",
    "model_type": "--type",
    "tensor_config": "--tensor-config",
    "model_metrics": "--metrics",
    "model_category": "--category",
    "dataset_id": "--dataset-id",
    "page_size": "--limit",
    "offset": "--offset",
}


def _usage_message(exc: ValidationError) -> str:
    name = (exc.field or "").split(".", 1)[0].split("[", 1)[0]
    argument = ARGUMENT_FOR_FIELD.get(name)
    return f"argument {argument}: {exc.message}" if argument else exc.message


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before or after the subcommand (``mlp -o json models list`` and
    ``mlp models list -o json``)."""
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--endpoint", default=default, help="platform URL (default: the embedded local platform)"
    )
    parser.add_argument("--region", default=default, help="region (default: VOLC_REGION or cn-beijing)")
    parser.add_argument("--data-dir", default=default, help="the embedded platform's data folder")
    parser.add_argument(
        "-o",
        "--output",
        choices=["table", "json"],
        default="table" if top else default,
        help="output format (default: table)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else default,
        help="log requests and show tracebacks",
    )


def _paging(parser: argparse.ArgumentParser, sort_by: list[str] | None = None) -> None:
    parser.add_argument("--offset", type=int, default=0, help="skip this many (default 0)")
    parser.add_argument("--limit", type=int, default=10, help="page size, 1-100 (default 10)")
    if sort_by:
        parser.add_argument("--sort-by", choices=sort_by, default=sort_by[0], help=f"default {sort_by[0]}")
    parser.add_argument(
        "--sort-order", choices=schema.enum_values("SortOrder"), default="Descend", help="default Descend"
    )


def _progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        choices=["auto", "on", "off"],
        default="auto",
        help="progress bar on stderr (auto: only on a terminal)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlp", description="Volcengine ml_platform model repository")
    _common(parser, top=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def group(name: str, help: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        g = groups.add_parser(name, help=help, description=help)
        return g.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def leaf(
        sub: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        func: Callable[..., int],
        help: str,
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _common(p, top=False)
        p.set_defaults(func=func)
        return p

    formats, categories = schema.enum_values("ModelFormat"), schema.enum_values("ModelCategory")
    models = group("models", "register, list, show, rename and delete models")
    p = leaf(models, "register", c.models_register, "upload a model folder (or file) and register it")
    p.add_argument("path", help="the local model folder or file")
    p.add_argument("--name", help="model name (required for a new model)")
    p.add_argument("--model-id", help="add a version to this model instead of creating one")
    p.add_argument("--format", choices=formats, metavar="FORMAT", help=f"one of {', '.join(formats)}")
    p.add_argument("--type", metavar="FRAMEWORK:VERSION", help="e.g. ONNX:1.23, TensorFlow:2.4")
    p.add_argument("--description")
    p.add_argument("--tensor-config", metavar="JSON|FILE", help="tensor config as JSON or a JSON file")
    p.add_argument("--metrics", metavar="JSON|FILE", help="metrics list as JSON or a JSON file")
    p.add_argument(
        "--category", choices=categories, metavar="CATEGORY", help=f"one of {', '.join(categories)}"
    )
    p.add_argument("--dataset-id")
    p.add_argument("--source-type", choices=schema.enum_values("SourceType"), default="TOS")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a model tag (repeatable)")
    _progress(p)
    p = leaf(models, "list", c.models_list, "list and search models")
    p.add_argument("--name-contains")
    p.add_argument("--id-contains")
    _paging(p, schema.enum_values("ListModelsSortBy"))
    p = leaf(models, "show", c.models_show, "show one model")
    p.add_argument("model_id")
    p = leaf(models, "rename", c.models_rename, "rename a model")
    p.add_argument("model_id")
    p.add_argument("new_name")
    p = leaf(models, "delete", c.models_delete, "delete a model and all its versions")
    p.add_argument("model_id")

    versions = group("versions", "list, show, update, delete and download model versions")
    p = leaf(versions, "list", c.versions_list, "list a model's versions")
    p.add_argument("model_id")
    p.add_argument("--version", help="only this version number")
    _paging(p, schema.enum_values("ListModelVersionsSortBy"))
    for name, func, help in (
        ("show", c.versions_show, "show one version"),
        ("delete", c.versions_delete, "delete one version"),
    ):
        p = leaf(versions, name, func, help)
        p.add_argument("model_id")
        p.add_argument("version")
    p = leaf(versions, "update", c.versions_update, "update a version's description, tensor config, metrics")
    p.add_argument("model_id")
    p.add_argument("version")
    p.add_argument("--description")
    p.add_argument("--tensor-config", metavar="JSON|FILE")
    p.add_argument("--metrics", metavar="JSON|FILE")
    p = leaf(versions, "download", c.versions_download, "download a version's files into a folder")
    p.add_argument("model_id")
    p.add_argument("version")
    p.add_argument("dest", help="the destination folder")
    _progress(p)

    perf = group("perf", "performance and conversion jobs and their tasks")
    p = leaf(perf, "create", c.perf_create, "create a perf (or convert+perf) job on a version")
    p.add_argument("model_id")
    p.add_argument("version")
    p.add_argument(
        "--tensor-config",
        required=True,
        metavar="JSON|FILE",
        help="perf tensor config (Shape as MinShape/MaxShape)",
    )
    p.add_argument("--job-type", choices=schema.enum_values("JobType"), default="PERF_ONLY")
    p.add_argument("--flavor", action="append", metavar="FLAVOR_ID", help="a flavor to run on (repeatable)")
    p.add_argument("--convert-type")
    p.add_argument("--precision", action="append", help="a conversion precision (repeatable)")
    p.add_argument("--job-params", metavar="JSON|FILE", help="the full JobParamsList instead of --flavor ...")
    p = leaf(perf, "list", c.perf_list, "list perf jobs")
    p.add_argument("--model-id")
    p.add_argument("--version")
    p.add_argument("--job-id")
    _paging(p)
    p = leaf(perf, "cancel", c.perf_cancel, "cancel a job and its unfinished tasks")
    p.add_argument("job_id")
    p = leaf(perf, "tasks", c.perf_tasks, "list perf tasks")
    p.add_argument("--job-id")
    p.add_argument("--task-id")
    _paging(p)
    p = leaf(perf, "update-task", c.perf_update_task, "move a task to another status")
    p.add_argument("task_id")
    p.add_argument("status", choices=schema.enum_values("TaskStatus"))
    p = leaf(perf, "cancel-task", c.perf_cancel_task, "cancel one task")
    p.add_argument("task_id")

    p = groups.add_parser("deploy", help="deploy a version as an online inference service")
    _common(p, top=False)
    p.set_defaults(func=c.deploy)
    p.add_argument("model_id")
    p.add_argument("version")
    p.add_argument("service_name")
    p.add_argument("--flavor", default="ml.g1e.large", help="flavor name (default ml.g1e.large)")
    p.add_argument("--image", default="machinelearning/tfserving:tf-cuda10.1")
    p.add_argument(
        "--env", action="append", metavar="NAME=VALUE", help="an environment variable (repeatable)"
    )
    p.add_argument("--replicas", type=int, default=1)
    p.add_argument("--description")

    services = group("services", "list, show, start, stop, scale and delete services")
    p = leaf(services, "list", c.services_list, "list services")
    p.add_argument("--name-contains")
    _paging(p)
    service_commands: list[tuple[str, c.Command]] = [
        ("show", c.services_show),
        ("start", c.services_start),
        ("stop", c.services_stop),
        ("delete", c.services_delete),
    ]
    for name, command in service_commands:
        p = leaf(services, name, command, f"{name} a service")
        p.add_argument("service_id")
    p = leaf(services, "scale", c.services_scale, "change a service's replica count")
    p.add_argument("service_id")
    p.add_argument("replicas", type=int)
    p = leaf(services, "predict", c.services_predict, "run the service's model (KServe v2 over HTTP)")
    p.add_argument("service_id")
    p.add_argument(
        "--input", required=True, metavar="JSON|FILE", help='{"input name": nested list}, or a file'
    )

    resources = group("resources", "compute flavors")
    p = leaf(resources, "list", c.resources_list, "list the flavors")
    p.add_argument("--name-contains")

    config = group("config", "configuration")
    leaf(config, "show", c.config_show, "what is in effect and where each value came from (secrets masked)")

    from mlp_server.cli import add_commands

    add_commands(groups)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.debug:
        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    for name in ("endpoint", "region", "data_dir", "output"):  # server commands skip _common on leaves
        if not hasattr(args, name):
            setattr(args, name, None)
    try:
        code: int = args.func(args)
        return code
    except ValidationError as exc:
        print(f"mlp: error: {_usage_message(exc)}", file=sys.stderr)
        return EXIT_USAGE
    except MLPlatformError as exc:
        print(f"mlp: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mlp: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an environment problem: say what, not where
        if args.debug:
            raise
        print(
            f"mlp: unexpected error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
