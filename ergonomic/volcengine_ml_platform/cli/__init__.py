"""``mlp``: every documented method of ``volcengine_ml_platform.models`` from the shell, plus the local
platform (``mlp serve``, ``mlp account``).

Output is a table by default and the documented JSON envelope with ``-o json``. Errors go to stderr
with the service's Code and RequestId and a non-zero exit status (2 for bad input, 1 otherwise);
no traceback unless ``--debug``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import logging
import os
import re
import sys
import warnings
from collections.abc import Callable
from typing import Any, NoReturn, TextIO

from .. import __version__, schema
from .._log_secrets import RedactEverySecret
from ..errors import MLPlatformError, MLPlatformWarning, ValidationError
from ..models._names import IF_EXISTS
from . import commands as c
from .output import json_text, printable

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C

# A ValidationError's ``field`` is the documented API's name (a Python argument such as ``page_size``) or
# the wire's (``JobID``); the error names the mlp argument the user typed for it, as each command spells
# it (``--limit``; ``DEST`` of ``versions download`` for ``local_path``). These are the fields whose
# argument's dest is not their snake_case name.
DESTS_FOR_FIELD: dict[str, tuple[str, ...]] = {
    "local_path": ("path", "dest"),
    "model_name": ("name",),
    "model_format": ("format",),
    "model_type": ("type",),
    "model_metrics": ("metrics",),
    "model_category": ("category",),
    "page_size": ("limit",),
    "allow_patterns": ("include",),
    "ignore_patterns": ("exclude",),
    "model_version": ("version",),
    "flavor_id": ("flavor",),
    "flavor_id_list": ("flavor",),
    "replica": ("replicas",),
    "image_id": ("image",),
}


def _snake(name: str) -> str:
    """``JobID`` -> ``job_id``, ``ModelVersion`` -> ``model_version``, ``page_size`` unchanged."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name.replace("ID", "Id")).lower()


def _given(value: object) -> bool:
    # ``--limit 0`` was given; an absent option is None (False for a flag, [] for a repeatable one).
    return value is not None and value is not False and value != []


def _argument_for(field: str | None, args: argparse.Namespace) -> str | None:
    """The mlp argument (``--limit``, ``DEST``) that carried ``field`` in this command, if any: the
    innermost part of the field's path (``job_params[0].FlavorIDList``: ``--flavor``, unless the user
    gave ``--job-params``) that names an argument of the command, preferably one the user gave."""
    labels: dict[str, str] = getattr(args, "argument_labels", {})
    parts = [_snake(part.split("[", 1)[0]) for part in (field or "").split(".")]
    dests = [dest for name in reversed(parts) for dest in (*DESTS_FOR_FIELD.get(name, ()), name)]
    known = [dest for dest in dests if dest in labels]
    given = [dest for dest in known if _given(getattr(args, dest, None))]
    # An argument the user gave; else (a required one left out, such as --name) the first that fits.
    return labels[(given or known)[0]] if known else None


# The JSON arguments' usual mix-ups (the two tensor config forms, metrics as JSON strings), by the
# validation message, with what to write instead.
HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"^tensor_config\.\S*\.Shape: expected object"),
        'a perf job\'s Shape is a range of batch shapes, {"MinShape": [1, 4], "MaxShape": [16, 4]}, '
        "not a version's list with -1 (see examples/iris-onnx/perf_tensor_config.json)",
    ),
    (
        re.compile(r"^tensor_config\.\S*\.Shape: expected array"),
        "a version's Shape is a list of dimensions, -1 for any, e.g. [-1, 4] "
        "(see examples/iris-onnx/tensor_config.json); MinShape/MaxShape ranges are for perf jobs",
    ),
    (
        re.compile(r"^model_metrics(\[\d+\]\.(Params|MetricsData): expected string|: expected array)"),
        'metrics are a list of {"MetricsType": ..., "Params": "...", "MetricsData": "..."} whose Params '
        'and MetricsData are JSON strings, e.g. "{\\"accuracy\\": 0.91}"',
    ),
)


def _usage_message(exc: ValidationError, args: argparse.Namespace) -> str:
    argument = _argument_for(exc.field, args)
    message = f"argument {argument}: {exc.message}" if argument else exc.message
    hints = [hint for pattern, hint in HINTS if pattern.search(exc.message)]
    return "; ".join([message, *hints])


def _label_arguments(parser: argparse.ArgumentParser) -> None:
    """Give every command the names its arguments are typed with (dest -> ``--option`` or ``METAVAR``),
    for ``_argument_for``."""
    labels: dict[str, str] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _label_arguments(sub)
        elif action.option_strings:
            labels[action.dest] = max(action.option_strings, key=len)
        elif isinstance(action.metavar, str):
            labels[action.dest] = action.metavar
        else:
            labels[action.dest] = action.dest
    parser.set_defaults(argument_labels=labels)


class Parser(argparse.ArgumentParser):
    """argparse with a "did you mean" for a mistyped command or choice."""

    def error(self, message: str) -> NoReturn:
        found = _INVALID_CHOICE.search(message)
        if found:
            choices = re.findall(r"'([^']*)'", found.group(2))
            close = difflib.get_close_matches(found.group(1), choices, n=1, cutoff=0.6)
            if not close:  # a prefix of one choice ("mlp ver" -> versions)
                close = [c for c in choices if c.startswith(found.group(1))][:1]
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)")


def enum_choice(values: list[str]) -> Callable[[str], str]:
    """An argparse ``type`` that accepts an enum value in any case (``--format onnx``) and gives the
    document's spelling; an unknown value passes unchanged, so ``choices`` reports it."""
    by_fold = {v.casefold(): v for v in values}

    def convert(text: str) -> str:
        return by_fold.get(text.casefold(), text)

    return convert


def _enum(parser: argparse.ArgumentParser, flag: str, *, enum: str, help: str, **kw: Any) -> None:
    """An option taking one value of the document's enum ``enum``, in any case."""
    values = schema.enum_values(enum)
    parser.add_argument(
        flag,
        type=enum_choice(values),
        choices=values,
        metavar=flag.lstrip("-").upper().replace("-", "_"),
        help=f"{help}; one of {', '.join(values)}",
        **kw,
    )


def output_option(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """``-o table|json``, before or after the subcommand."""
    parser.add_argument(
        "-o",
        "--output",
        type=enum_choice(["table", "json"]),
        choices=["table", "json"],
        default="table" if top else argparse.SUPPRESS,
        help="output format (default: table)",
    )


def _common(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before or after the subcommand (``mlp -o json models list`` and
    ``mlp models list -o json``)."""
    default: Any = None if top else argparse.SUPPRESS
    parser.add_argument(
        "--endpoint", default=default, help="platform URL (default: the embedded local platform)"
    )
    parser.add_argument("--region", default=default, help="region (default: VOLC_REGION or cn-beijing)")
    parser.add_argument(
        "--data-dir",
        default=default,
        help="the embedded platform's data folder (default $VOLC_ML_PLATFORM_DATA_DIR or "
        "~/.volc/ml_platform)",
    )
    parser.add_argument(
        "--profile", default=default, help="a profile of ~/.volc/config (default: VOLC_PROFILE)"
    )
    output_option(parser, top=top)
    parser.add_argument(
        "--debug",
        action="store_true",
        default=False if top else default,
        help="log requests and show tracebacks",
    )


def _paging(parser: argparse.ArgumentParser, sort_by: list[str] | None = None) -> None:
    parser.add_argument("--offset", type=int, default=0, help="skip this many (default 0)")
    parser.add_argument("--limit", type=int, default=10, help="page size, 1-100 (default 10)")
    parser.add_argument(
        "--all", action="store_true", help="every page, not just one (--offset and --limit then ignored)"
    )
    if sort_by:
        parser.add_argument(
            "--sort-by",
            type=enum_choice(sort_by),
            choices=sort_by,
            default=sort_by[0],
            help=f"one of {', '.join(sort_by)} (default {sort_by[0]})",
        )
    order = schema.enum_values("SortOrder")
    parser.add_argument(
        "--sort-order",
        type=enum_choice(order),
        choices=order,
        default="Descend",
        help=f"one of {', '.join(order)} (default Descend)",
    )


def _progress(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        type=enum_choice(["auto", "on", "off"]),
        choices=["auto", "on", "off"],
        default="auto",
        help="progress bar on stderr (auto: only on a terminal)",
    )


MODEL_HELP = "a model ID (m-...) or the name of exactly one model"
VERSION_HELP = "a version number, or 'latest'"


def _model_version(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model_id", metavar="MODEL", help=MODEL_HELP)
    parser.add_argument("version", metavar="VERSION", help=VERSION_HELP)


# The client's command groups; `mlp serve`, `mlp account` ... come from mlp_server.cli.
CLIENT_GROUPS = ("models", "versions", "perf", "deploy", "services", "resources", "config", "configure")
# Options of `mlp` itself that take a value (a value is not a command: `mlp --region perf models list`).
_VALUED = ("--endpoint", "--region", "--data-dir", "--profile", "--output")


def command_group(argv: list[str]) -> str | None:
    """The client command group ``argv`` names (``models`` in ``mlp -o json models list``), or None
    when it names another (or none, or might not: then every command is built)."""
    taking_value = False
    for token in argv:
        if taking_value:
            taking_value = False
        elif token == "--":
            return None
        elif token.startswith("--"):
            # argparse accepts any unambiguous prefix of an option (`--reg`)
            taking_value = "=" not in token and any(o.startswith(token) for o in _VALUED)
        elif token.startswith("-"):
            taking_value = token == "-o"
        else:
            return token if token in CLIENT_GROUPS else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole ``mlp`` parser; with ``only``, a client command group, just that group's commands
    (parsing that group's command lines alike, for less start-up work)."""

    def want(name: str) -> bool:
        return only is None or only == name

    parser = Parser(
        prog="mlp",
        description="Volcengine ml_platform model repository, and a local platform to run it on",
    )
    parser.add_argument("--version", action="version", version=f"mlp {__version__}")
    _common(parser, top=True)
    groups = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")

    def group(name: str, help: str) -> argparse._SubParsersAction[Parser]:
        g = groups.add_parser(name, help=help, description=help)
        return g.add_subparsers(dest="command", required=True, metavar="SUBCOMMAND")

    def leaf(
        sub: argparse._SubParsersAction[Parser],
        name: str,
        func: Callable[..., int],
        help: str,
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        _common(p, top=False)
        p.set_defaults(func=func)
        return p

    if want("models"):
        models = group("models", "register, list, show, rename and delete models")
        p = leaf(models, "register", c.models_register, "upload a model folder (or file) and register it")
        p.add_argument("path", help="the local model folder or file")
        p.add_argument("--name", help="model name (required for a new model)")
        p.add_argument("--model-id", metavar="MODEL", help=f"add a version to this model: {MODEL_HELP}")
        p.add_argument(
            "--if-exists",
            type=enum_choice(list(IF_EXISTS)),
            choices=IF_EXISTS,
            default="create",
            help="when a model with --name exists: create another model (default), add a new_version "
            "to it, or fail with an error",
        )
        _enum(p, "--format", enum="ModelFormat", help="model format (any case)")
        p.add_argument("--type", metavar="FRAMEWORK:VERSION", help="e.g. ONNX:1.23, TensorFlow:2.4")
        p.add_argument("--description", help="the version's description")
        p.add_argument("--tensor-config", metavar="JSON|FILE", help="tensor config as JSON or a JSON file")
        p.add_argument("--metrics", metavar="JSON|FILE", help="metrics list as JSON or a JSON file")
        _enum(p, "--category", enum="ModelCategory", help="model category")
        p.add_argument("--dataset-id", help="the dataset the model was trained on")
        _enum(p, "--source-type", enum="SourceType", default="TOS", help="where the files live (default TOS)")
        p.add_argument("--tag", action="append", metavar="KEY=VALUE", help="a model tag (repeatable)")
        p.add_argument(
            "--include", action="append", metavar="GLOB", help="upload only files matching (repeatable)"
        )
        p.add_argument(
            "--exclude", action="append", metavar="GLOB", help="do not upload files matching (repeatable)"
        )
        _progress(p)
        p = leaf(models, "list", c.models_list, "list and search models")
        p.add_argument("--name-contains", help="only models whose name contains this")
        p.add_argument("--id-contains", help="only models whose ID contains this")
        _paging(p, schema.enum_values("ListModelsSortBy"))
        p = leaf(models, "show", c.models_show, "show one model")
        p.add_argument("model_id", metavar="MODEL", help=MODEL_HELP)
        p = leaf(models, "rename", c.models_rename, "rename a model")
        p.add_argument("model_id", metavar="MODEL", help=MODEL_HELP)
        p.add_argument("new_name", help="the new name")
        p = leaf(models, "delete", c.models_delete, "delete a model and all its versions")
        p.add_argument("model_id", metavar="MODEL", help=MODEL_HELP)

    if want("versions"):
        versions = group("versions", "list, show, update, delete and download model versions")
        p = leaf(versions, "list", c.versions_list, "list a model's versions")
        p.add_argument("model_id", metavar="MODEL", help=MODEL_HELP)
        p.add_argument("--version", help="only this version number (or 'latest')")
        _paging(p, schema.enum_values("ListModelVersionsSortBy"))
        for name, func, help in (
            ("show", c.versions_show, "show one version"),
            ("delete", c.versions_delete, "delete one version (its number is never given again)"),
        ):
            p = leaf(versions, name, func, help)
            _model_version(p)
        p = leaf(
            versions, "update", c.versions_update, "update a version's description, tensor config, metrics"
        )
        _model_version(p)
        p.add_argument("--description", help="the new description")
        p.add_argument("--tensor-config", metavar="JSON|FILE", help="tensor config as JSON or a JSON file")
        p.add_argument("--metrics", metavar="JSON|FILE", help="metrics list as JSON or a JSON file")
        p = leaf(versions, "download", c.versions_download, "download a version's files into a folder")
        _model_version(p)
        p.add_argument("dest", help="the destination folder")
        p.add_argument(
            "--force", action="store_true", help="replace local files that differ from the version's"
        )
        _progress(p)

    if want("perf"):
        perf = group("perf", "performance and conversion jobs and their tasks")
        p = leaf(perf, "create", c.perf_create, "create a perf (or convert+perf) job on a version")
        _model_version(p)
        p.add_argument(
            "--tensor-config",
            required=True,
            metavar="JSON|FILE",
            help="perf tensor config (Shape as MinShape/MaxShape)",
        )
        _enum(p, "--job-type", enum="JobType", default="PERF_ONLY", help="default PERF_ONLY")
        p.add_argument(
            "--flavor", action="append", metavar="FLAVOR_ID", help="a flavor to run on (repeatable)"
        )
        p.add_argument("--convert-type", help="the conversion to run (CONVERT_PERF)")
        p.add_argument("--precision", action="append", help="a conversion precision (repeatable)")
        p.add_argument(
            "--job-params", metavar="JSON|FILE", help="the full JobParamsList instead of --flavor ..."
        )
        p.add_argument(
            "--wait", action="store_true", help="wait for the job to end, then print its tasks' results"
        )
        p.add_argument(
            "--timeout",
            type=float,
            default=600.0,
            metavar="SECONDS",
            help="how long --wait waits (default 600)",
        )
        p = leaf(perf, "wait", c.perf_wait, "wait for a job to end, then print its tasks' results")
        p.add_argument("job_id", help="the job's ID (pj-...)")
        p.add_argument(
            "--timeout", type=float, default=600.0, metavar="SECONDS", help="how long to wait (default 600)"
        )
        p = leaf(perf, "list", c.perf_list, "list perf jobs")
        p.add_argument(
            "--model-id", metavar="MODEL", help=f"only jobs of this model's --version: {MODEL_HELP}"
        )
        p.add_argument("--version", help="with --model-id: only jobs of this version")
        p.add_argument("--job-id", help="only this job")
        _paging(p)
        p = leaf(perf, "cancel", c.perf_cancel, "cancel a job and its unfinished tasks")
        p.add_argument("job_id", help="the job's ID (pj-...)")
        p = leaf(perf, "tasks", c.perf_tasks, "list perf tasks")
        p.add_argument("--job-id", help="only tasks of this job")
        p.add_argument("--task-id", help="only this task")
        _paging(p)
        p = leaf(perf, "update-task", c.perf_update_task, "move a task to another status")
        p.add_argument("task_id", help="the task's ID")
        statuses = schema.enum_values("TaskStatus")
        p.add_argument(
            "status", type=enum_choice(statuses), choices=statuses, help=f"one of {', '.join(statuses)}"
        )
        p = leaf(perf, "cancel-task", c.perf_cancel_task, "cancel one task")
        p.add_argument("task_id", help="the task's ID")

    if want("deploy"):
        deploy_help = "deploy a version as an online inference service"
        p = groups.add_parser(
            "deploy",
            help=deploy_help,
            description=f"{deploy_help}. A platform process serves it: `mlp serve`, or a Python program "
            "on the embedded platform until it exits. Without --endpoint this command only records it "
            "(it ends at once): run `mlp serve --data-dir DIR` on the data folder to serve it.",
        )
        _common(p, top=False)
        p.set_defaults(func=c.deploy)
        _model_version(p)
        p.add_argument("service_name", help="the new service's name")
        p.add_argument("--flavor", default="ml.g1e.large", help="flavor name (default ml.g1e.large)")
        p.add_argument(
            "--image",
            default="machinelearning/tfserving:tf-cuda10.1",
            help="the serving image (default machinelearning/tfserving:tf-cuda10.1)",
        )
        p.add_argument(
            "--env", action="append", metavar="NAME=VALUE", help="an environment variable (repeatable)"
        )
        p.add_argument("--replicas", type=int, default=1, help="how many replicas (default 1)")
        p.add_argument("--description", help="the service's description")

    if want("services"):
        services = group("services", "list, show, start, stop, scale and delete services")
        p = leaf(services, "list", c.services_list, "list services")
        p.add_argument("--name-contains", help="only services whose name contains this")
        _paging(p)
        service_commands: list[tuple[str, c.Command]] = [
            ("show", c.services_show),
            ("start", c.services_start),
            ("stop", c.services_stop),
            ("delete", c.services_delete),
        ]
        for name, command in service_commands:
            p = leaf(services, name, command, f"{name} a service")
            p.add_argument("service_id", help="the service's ID (s-...) or its name")
        p = leaf(services, "scale", c.services_scale, "change a service's replica count")
        p.add_argument("service_id", help="the service's ID (s-...) or its name")
        p.add_argument("replicas", type=int, help="the new replica count")
        p = leaf(services, "predict", c.services_predict, "run the service's model (KServe v2 over HTTP)")
        p.add_argument("service_id", help="the service's ID (s-...) or its name")
        p.add_argument(
            "--input", required=True, metavar="JSON|FILE", help='{"input name": nested list}, or a file'
        )

    if want("resources"):
        resources = group("resources", "compute flavors")
        p = leaf(resources, "list", c.resources_list, "list the flavors")
        p.add_argument("--name-contains", help="only flavors whose name contains this")

    if want("config"):
        config = group("config", "configuration")
        leaf(
            config, "show", c.config_show, "what is in effect and where each value came from (secrets masked)"
        )

    if want("configure"):
        configure_help = "save settings (keys, region, endpoint) to ~/.volc/config, optionally as a --profile"
        p = groups.add_parser("configure", help=configure_help, description=configure_help)
        _common(p, top=False)
        p.set_defaults(func=c.configure)
        p.add_argument("--access-key", help="the access key (prompted for on a terminal when absent)")
        p.add_argument(
            "--secret-key", help="the secret key (prompted for, hidden, on a terminal when absent)"
        )

    if only is None or only not in CLIENT_GROUPS:  # the local platform's commands
        from mlp_server.cli import add_commands

        from .remote_gc import remote_gc

        add_commands(groups, output_option, remote_gc)

    _label_arguments(parser)
    return parser


def _error_json(exc: MLPlatformError, message: str, args: argparse.Namespace) -> str:
    """The documented error envelope (``ResponseMetadata.Error``) for an error under ``-o json``."""
    error: dict[str, Any] = {"Code": exc.code or type(exc).__name__, "Message": message}
    if exc.code_n is not None:
        error["CodeN"] = exc.code_n
    if isinstance(exc, ValidationError) and exc.field:
        error["Field"] = _argument_for(exc.field, args) or exc.field
    meta: dict[str, Any] = {"Error": error}
    if exc.request_id:
        meta["RequestId"] = exc.request_id
    if exc.status_code is not None:
        meta["HTTPStatus"] = exc.status_code
    return json_text({"ResponseMetadata": meta}, indent=2)


def _report(exc: MLPlatformError, message: str, args: argparse.Namespace) -> None:
    """``message`` on stderr, or under ``-o json`` the error envelope (its Code, Message, RequestId)."""
    if args.output == "json":
        print(_error_json(exc, exc.message if message == str(exc) else message, args), file=sys.stderr)
    else:
        print(f"mlp: error: {printable(message, lines=True)}", file=sys.stderr)


def _quiet_broken_pipe() -> int:
    # The reader went away (``mlp models list | head -1``): nothing left to say, and Python must not
    # complain again when it flushes stdout at exit.
    with contextlib.suppress(OSError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        return _quiet_broken_pipe()
    except KeyboardInterrupt:  # before a command started (building the parser, parsing): quietly
        return EXIT_INTERRUPTED


def _print_library_warnings() -> None:
    """The library's warnings (:class:`MLPlatformWarning`: a misspelt config key, files left out of an
    upload) print as ``mlp: warning: ...``, like its log records; any other warning as Python prints it."""
    shown = warnings.showwarning
    if getattr(shown, "_mlp", False):
        return

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if issubclass(category, MLPlatformWarning):
            print(f"mlp: warning: {printable(str(message), lines=True)}", file=file or sys.stderr)
        else:
            shown(message, category, filename, lineno, file, line)

    show._mlp = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def _main(argv: list[str] | None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given == ["--version"]:  # what argparse's version action does, without building every parser
        print(f"mlp {__version__}")
        raise SystemExit(0)
    parser = build_parser(only=command_group(given))
    args = parser.parse_args(argv)
    # The command's own handler prints no secret of any library's records (botocore's at DEBUG).
    handler = logging.StreamHandler()
    handler.addFilter(RedactEverySecret())
    if args.debug:
        logging.basicConfig(
            level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s", handlers=[handler]
        )
    else:  # the library's warnings (a misspelt config key, a retry) are for the user to see
        logging.basicConfig(level=logging.WARNING, format="mlp: warning: %(message)s", handlers=[handler])
    _print_library_warnings()
    for name in ("endpoint", "region", "data_dir", "output"):  # server commands skip _common on leaves
        if not hasattr(args, name):
            setattr(args, name, None)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the BrokenPipeError handler
        return code
    except ValidationError as exc:
        _report(exc, _usage_message(exc, args), args)
        return EXIT_USAGE
    except MLPlatformError as exc:
        _report(exc, str(exc), args)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("mlp: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        raise
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
