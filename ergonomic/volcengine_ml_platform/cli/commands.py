"""The repository commands of ``mlp``: one function per subcommand, each a thin call of the documented
``Model`` API followed by printing."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import default_config_file, masked, normalize_endpoint, resolve_settings, write_config
from ..errors import ValidationError
from .args import json_arg, pairs, read_text_file
from .output import Column, Printer, as_plain, field, printable

if TYPE_CHECKING:
    from ..models.inference_service import InferenceService
    from ..models.model import Model
    from ..transfer.progress import TransferProgress

Command = Callable[[argparse.Namespace], int]

MODEL_COLUMNS: list[Column] = [
    ("MODEL ID", field("ModelID")),
    ("NAME", field("ModelName")),
    ("VERSIONS", field("ModelVersionsCount")),
    ("LATEST", field("LatestVersion")),
    ("CREATED", field("CreateTime")),
]
VERSION_COLUMNS: list[Column] = [
    ("VERSION", field("ModelVersion")),
    ("VERSION ID", field("ModelVersionID")),
    ("FORMAT", field("ModelFormat")),
    ("TYPE", field("ModelType")),
    ("SOURCE", field("SourceType")),
    ("CREATED", field("CreateTime")),
    ("PATH", field("Path")),
]
JOB_COLUMNS: list[Column] = [
    ("JOB ID", field("JobID")),
    ("MODEL VERSION ID", field("ModelVersionID")),
    ("TYPE", field("JobType")),
    ("STATUS", field("JobStatus")),
    ("ENDED/TASKS", lambda r: f"{r.get('EndedTaskCount', '')}/{r.get('TaskCount', '')}"),
    ("CREATED", field("CreateTime")),
]
TASK_COLUMNS: list[Column] = [
    ("TASK ID", field("TaskID")),
    ("JOB ID", field("JobID")),
    ("FLAVOR", lambda r: r.get("TaskArgs", {}).get("FlavorID")),
    ("PRECISION", lambda r: r.get("TaskArgs", {}).get("ConvertPrecision")),
    ("STATUS", field("TaskStatus")),
    ("CREATED", field("CreateTime")),
]


def _measured(row: Mapping[str, Any], key: str) -> str:
    """``8:1.23`` per measured batch size (batch: value), from a task's Result."""
    found = (row.get("Result") or {}).get("Measurements") or []
    return " ".join(f"{m.get('BatchSize')}:{m.get(key)}" for m in found)


RESULT_COLUMNS: list[Column] = [
    ("TASK ID", field("TaskID")),
    ("FLAVOR", lambda r: r.get("TaskArgs", {}).get("FlavorID")),
    ("PRECISION", lambda r: r.get("TaskArgs", {}).get("ConvertPrecision")),
    ("STATUS", field("TaskStatus")),
    ("VERSION", lambda r: (r.get("Result") or {}).get("ModelVersionID", "")),
    ("BATCH:P50 MS", lambda r: _measured(r, "LatencyMsP50")),
    ("BATCH:P99 MS", lambda r: _measured(r, "LatencyMsP99")),
    ("BATCH:SAMPLES/S", lambda r: _measured(r, "SamplesPerSecond")),
    ("MESSAGE", lambda r: r.get("Message", "")),
]
SERVICE_COLUMNS: list[Column] = [
    ("SERVICE ID", field("ServiceID")),
    ("NAME", field("ServiceName")),
    ("STATUS", lambda r: r.get("ServiceDeployment", {}).get("Status")),
    ("REPLICAS", lambda r: r.get("ServiceDeployment", {}).get("Replicas")),
    ("MODEL VERSION ID", lambda r: r.get("ServiceDeployment", {}).get("Model", {}).get("ModelVersionID")),
    ("ENDPOINT", lambda r: r.get("ServiceDeployment", {}).get("EndpointURL")),
    # Why it is as it is: what serves a Pending service again, why one Failed.
    ("MESSAGE", lambda r: r.get("ServiceDeployment", {}).get("StatusMessage")),
]


def model_for(args: argparse.Namespace) -> Model:
    # The client (httpx, the generated models) is imported by the commands that use it, so that
    # `mlp --help`, `mlp --version` and the server commands start without it.
    from ..embedded import serve_services
    from ..models.model import Model

    serve_services(False)  # this command ends within the second: `mlp serve` serves the services
    return Model(endpoint=args.endpoint, region=args.region, data_dir=args.data_dir, profile=args.profile)


def printer(args: argparse.Namespace) -> Printer:
    return Printer(args.output)


def _page(args: argparse.Namespace) -> dict[str, Any]:
    return {"offset": args.offset, "page_size": args.limit, "sort_order": args.sort_order}


def _listing(
    args: argparse.Namespace,
    one_page: Callable[[], Any],
    every: Callable[[], Iterable[Any]],
    columns: list[Column],
) -> int:
    """One page, or with ``--all`` every item of every page."""
    if args.all:
        printer(args).everything([as_plain(item) for item in every()], columns)
    else:
        printer(args).listing(one_page(), columns)
    return 0


def _model(m: Model, args: argparse.Namespace) -> str:
    """The MODEL argument as an ID: an ID as given, or the one model of that name."""
    return m.resolve_model_id(args.model_id)


def _model_version(m: Model, args: argparse.Namespace) -> tuple[str, str]:
    model_id = _model(m, args)
    return model_id, m.resolve_version(model_id, args.version)


# ---- models ----------------------------------------------------------------------------------------


def models_register(args: argparse.Namespace) -> int:
    tags = [{"Key": k, "Value": v} for k, v in pairs(args.tag, "--tag").items()] or None
    from .progress import ProgressBar  # rich, only for commands that move files

    bar = ProgressBar("uploading", enabled=None if args.progress == "auto" else args.progress == "on")
    m = model_for(args)
    model_id = m.resolve_model_id(args.model_id) if args.model_id else None
    try:
        resp = m.register(
            args.path,
            model_id=model_id,
            model_name=args.name,
            model_format=args.format,
            model_type=args.type,
            description=args.description,
            tensor_config=json_arg(args.tensor_config, "--tensor-config"),
            model_metrics=json_arg(args.metrics, "--metrics"),
            model_category=args.category,
            dataset_id=args.dataset_id,
            source_type=args.source_type,
            model_tags=tags,
            if_exists=args.if_exists,
            allow_patterns=args.include,
            ignore_patterns=args.exclude,
            progress=bar,
        )
    finally:
        bar.close()
    printer(args).result(resp)
    return 0


def models_list(args: argparse.Namespace) -> int:
    m = model_for(args)
    filters = {"model_name_contains": args.name_contains, "id_contains": args.id_contains}
    return _listing(
        args,
        lambda: m.list_models(**filters, sort_by=args.sort_by, **_page(args)),
        lambda: m.iter_models(**filters, sort_by=args.sort_by, sort_order=args.sort_order),
        MODEL_COLUMNS,
    )


def models_show(args: argparse.Namespace) -> int:
    m = model_for(args)
    printer(args).result(m.get_model(_model(m, args)))
    return 0


def models_rename(args: argparse.Namespace) -> int:
    m = model_for(args)
    printer(args).result(m.update_model(_model(m, args), model_name=args.new_name))
    return 0


def models_delete(args: argparse.Namespace) -> int:
    m = model_for(args)
    printer(args).result(m.unregister_all_versions(_model(m, args)))
    return 0


# ---- versions --------------------------------------------------------------------------------------


def versions_list(args: argparse.Namespace) -> int:
    m = model_for(args)
    model_id = _model(m, args)
    if args.all and args.version is None:
        every = m.iter_model_versions(model_id, sort_by=args.sort_by, sort_order=args.sort_order)
        printer(args).everything([as_plain(item) for item in every], VERSION_COLUMNS)
        return 0
    resp = m.get_model_versions(model_id, args.version, sort_by=args.sort_by, **_page(args))
    printer(args).listing(resp, VERSION_COLUMNS)
    return 0


def versions_show(args: argparse.Namespace) -> int:
    m = model_for(args)
    printer(args).result(m.get_model_version(*_model_version(m, args)))
    return 0


def versions_update(args: argparse.Namespace) -> int:
    m = model_for(args)
    resp = m.update_model_version(
        *_model_version(m, args),
        description=args.description,
        tensor_config=json_arg(args.tensor_config, "--tensor-config"),
        model_metrics=json_arg(args.metrics, "--metrics"),
    )
    printer(args).result(resp)
    return 0


def versions_delete(args: argparse.Namespace) -> int:
    m = model_for(args)
    printer(args).result(m.unregister(*_model_version(m, args)))
    return 0


def versions_download(args: argparse.Namespace) -> int:
    from ..models._common import version_number
    from .progress import ProgressBar

    bar = ProgressBar("downloading", enabled=None if args.progress == "auto" else args.progress == "on")
    moved: list[TransferProgress] = []  # the last snapshot: what this download really transferred

    def progress(snapshot: TransferProgress) -> None:
        moved[:] = [snapshot]
        bar(snapshot)

    m = model_for(args)
    model_id, version = _model_version(m, args)
    try:
        files = m.download(model_id, version, args.dest, overwrite=args.force, progress=progress)
    finally:
        bar.close()
    done = moved[0].files_done if moved else len(files)
    nbytes = moved[0].bytes_done if moved else 0
    data = {
        "ModelID": model_id,
        "ModelVersion": version_number(version),
        "LocalPath": args.dest,
        "Files": [str(f) for f in files],
        "Downloaded": done,
        "AlreadyPresent": len(files) - done,
        "DownloadedBytes": nbytes,
    }
    printer(args).message(_download_summary(len(files), done, nbytes, args.dest), data)
    return 0


def _download_summary(total: int, done: int, nbytes: int, dest: str) -> str:
    if done == 0:
        return f"nothing to download: all {total} file(s) of the version are already in {dest}"
    kept = total - done
    already = f"; {kept} already there, kept" if kept else ""
    return f"downloaded {done} file(s), {_size(nbytes)}, to {dest}{already}"


def _size(nbytes: int) -> str:
    if nbytes < 1024:
        return f"{nbytes} bytes"
    size, unit = float(nbytes) / 1024, "KiB"
    for larger in ("MiB", "GiB"):
        if size < 1024:
            break
        size, unit = size / 1024, larger
    return f"{size:.1f} {unit}"


# ---- perf jobs and tasks -----------------------------------------------------------------------------


def perf_create(args: argparse.Namespace) -> int:
    job_params = json_arg(args.job_params, "--job-params")
    if job_params is None:
        if not args.flavor:
            raise ValidationError(
                "--flavor: give at least one flavor to run on (or --job-params)", field="--flavor"
            )
        params: dict[str, Any] = {"FlavorIDList": args.flavor}
        if args.convert_type:
            params["ConvertType"] = args.convert_type
        if args.precision:
            params["ConvertPrecisionList"] = args.precision
        job_params = [params]
    m = model_for(args)
    resp = m.create_perf_job(
        *_model_version(m, args),
        json_arg(args.tensor_config, "--tensor-config"),
        args.job_type,
        job_params,
    )
    if not args.wait:
        printer(args).result(resp)
        _note_embedded_perf(m, resp.result.job_id)
        return 0
    return _wait(args, resp.result.job_id)


def _note_embedded_perf(m: Model, job_id: str) -> None:
    """On the embedded platform an ``mlp`` command ends now and runs no perf work: the job stays
    Submitted until a process runs work on the data folder. Say which commands do."""
    settings = m._session.settings
    if settings.mode != "embedded":
        return
    print(
        "mlp: note: recorded; an `mlp` command runs no perf work once it ends: "
        f"`mlp perf wait {job_id}` runs the job and prints its results (or `mlp serve --data-dir "
        f"{settings.data_dir.value}` runs it in the background)",
        file=sys.stderr,
    )


def perf_wait(args: argparse.Namespace) -> int:
    return _wait(args, args.job_id)


def _wait(args: argparse.Namespace, job_id: str) -> int:
    """Wait for the job, print its tasks (figures, new versions, messages); exit 1 unless all succeeded."""
    if args.output != "json":
        print(f"mlp: waiting for perf job {job_id} ...", file=sys.stderr)
    try:
        tasks = model_for(args).wait_perf_job(job_id, timeout=args.timeout)
    except TimeoutError as exc:
        print(f"mlp: error: {exc}", file=sys.stderr)
        return 1
    printer(args).listing(tasks, RESULT_COLUMNS)
    statuses = {t["TaskStatus"] for t in as_plain(tasks)["Result"]["List"]}
    if statuses != {"Success"}:
        print(f"mlp: perf job {job_id} ended with tasks {', '.join(sorted(statuses))}", file=sys.stderr)
        return 1
    return 0


def perf_list(args: argparse.Namespace) -> int:
    m = model_for(args)
    model_id = m.resolve_model_id(args.model_id) if args.model_id else None
    version = m.resolve_version(model_id, args.version) if model_id and args.version else args.version
    filters = {"model_id": model_id, "model_version": version, "job_id": args.job_id}
    return _listing(
        args,
        lambda: m.list_perf_jobs(**filters, **_page(args)),
        lambda: m.iter_perf_jobs(**filters, sort_order=args.sort_order),
        JOB_COLUMNS,
    )


def perf_cancel(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).cancel_perf_job(args.job_id))
    return 0


def perf_tasks(args: argparse.Namespace) -> int:
    m = model_for(args)
    filters = {"task_id": args.task_id, "job_id": args.job_id}
    return _listing(
        args,
        lambda: m.list_perf_tasks(**filters, **_page(args)),
        lambda: m.iter_perf_tasks(**filters, sort_order=args.sort_order),
        TASK_COLUMNS,
    )


def perf_update_task(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).update_perf_task(args.task_id, args.status))
    return 0


def perf_cancel_task(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).cancel_perf_task(args.task_id))
    return 0


# ---- deploy and services --------------------------------------------------------------------------------


def _note_embedded_serving(m: Model) -> None:
    """On the embedded platform an ``mlp`` command records service actions but serves nothing (it ends
    now): when no other process serves the data folder either, say so and how to serve it."""
    settings = m._session.settings
    if settings.mode != "embedded":
        return
    from ..embedded import embedded_app

    platform = embedded_app(settings.data_dir.value, settings.region.value).state.platform
    if not platform.services_served():
        print(
            "mlp: note: recorded, but no process serves the services of this data folder (an `mlp` "
            f"command does not: it ends now); run `mlp serve --data-dir {settings.data_dir.value}` to "
            "serve them (it keeps them served, and `mlp services ...` commands see them Running), or "
            "deploy from a Python program, which serves them until it exits",
            file=sys.stderr,
        )


def deploy(args: argparse.Namespace) -> int:
    m = model_for(args)
    service = m.deploy(
        *_model_version(m, args),
        args.service_name,
        flavor=args.flavor,
        image_id=args.image,
        envs=pairs(args.env, "--env", "NAME=VALUE") or None,
        replica=args.replicas,
        description=args.description,
    )
    printer(args).result(service.refresh())
    _note_embedded_serving(m)
    return 0


def _service(m: Model, ref: str) -> InferenceService:
    """The service with the ID ``ref``, else the one named ``ref`` (names are unique per account)."""
    from ..errors import NotFoundError

    try:
        return m.get_service(ref)
    except (NotFoundError, ValidationError) as exc:
        named = [s for s in m.iter_services(service_name_contains=ref) if s.service_name == ref]
        if len(named) != 1:
            if isinstance(exc, NotFoundError):
                raise NotFoundError(
                    f"no service has the ID or the name {ref!r}",
                    **exc.service_fields(),
                ) from None
            raise
        return m.get_service(str(named[0].service_id))


def services_list(args: argparse.Namespace) -> int:
    m = model_for(args)
    return _listing(
        args,
        lambda: m.list_services(service_name_contains=args.name_contains, **_page(args)),
        lambda: m.iter_services(service_name_contains=args.name_contains, sort_order=args.sort_order),
        SERVICE_COLUMNS,
    )


def services_show(args: argparse.Namespace) -> int:
    printer(args).result(_service(model_for(args), args.service_id).last)
    return 0


def _service_action(action: str) -> Command:
    def run(args: argparse.Namespace) -> int:
        m = model_for(args)
        service = _service(m, args.service_id)
        resp = service.scale(args.replicas) if action == "scale" else getattr(service, action)()
        printer(args).result(resp)
        if action in ("start", "scale"):
            _note_embedded_serving(m)
        return 0

    return run


def services_predict(args: argparse.Namespace) -> int:
    """``--input`` is JSON (``{"name": nested list}``) or a file holding it; prints the outputs."""
    text = args.input
    if not text.lstrip().startswith("{"):
        text = read_text_file(Path(text), "--input")
    try:
        inputs = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"--input: not valid JSON: {exc}", field="--input") from None
    if not isinstance(inputs, dict):
        raise ValidationError("--input: a JSON object {input name: nested list}", field="--input")
    outputs = _service(model_for(args), args.service_id).predict(inputs)
    plain = {name: array.tolist() for name, array in outputs.items()}
    if args.output == "json":
        printer(args).json({"outputs": plain})
    else:
        for name, array in outputs.items():
            sys.stdout.write(f"{printable(name)}  {list(array.shape)}  {json.dumps(plain[name])}\n")
    return 0


services_start = _service_action("start")
services_stop = _service_action("stop")
services_scale = _service_action("scale")
services_delete = _service_action("delete")


def resources_list(args: argparse.Namespace) -> int:
    resp = model_for(args).list_resources(name_contains=args.name_contains)
    if args.output == "json":
        printer(args).json(resp)
        return 0
    rows = [
        {"Group": group, **flavor} for group, flavors in resp["Result"]["List"].items() for flavor in flavors
    ]
    from .output import table

    cols: list[Column] = [
        (name.upper(), field(name)) for name in ("Group", "Id", "vCPU", "Memory", "GPUType", "GPUNum")
    ]
    table(rows, cols)
    return 0


# ---- configuration ------------------------------------------------------------------------------------


def config_show(args: argparse.Namespace) -> int:
    settings = resolve_settings(
        endpoint=args.endpoint, region=args.region, data_dir=args.data_dir, profile=args.profile
    )
    rows = settings.describe()
    if args.output == "json":
        printer(args).json({name: {"value": shown, "source": source} for name, shown, source in rows})
        return 0
    from .output import table

    table(
        [{"n": n, "v": v, "s": s} for n, v, s in rows],
        [("SETTING", field("n")), ("VALUE", field("v")), ("SOURCE", field("s"))],
    )
    return 0


def _ask(prompt: str, *, secret: bool) -> str | None:
    """A value typed at the terminal; None when stdin is not one (scripts pass options)."""
    if not sys.stdin.isatty():
        return None
    answer = getpass.getpass(f"{prompt}: ") if secret else input(f"{prompt}: ")
    return answer.strip() or None


def configure(args: argparse.Namespace) -> int:
    """Save keys, region and endpoint to the config file (top level, or under ``--profile``)."""
    path = default_config_file()
    values = {
        "ak": args.access_key or _ask("Access key", secret=False),
        "sk": args.secret_key or _ask("Secret key", secret=True),
        "region": args.region,
        "endpoint": args.endpoint,
    }
    if values["endpoint"]:
        normalize_endpoint(values["endpoint"], where="--endpoint")
    if bool(values["ak"]) != bool(values["sk"]):
        raise ValidationError("--access-key and --secret-key go together", field="--secret-key")
    changes = {k: v for k, v in values.items() if v}
    if not changes:
        raise ValidationError(
            "nothing to save: give --access-key/--secret-key, --region or --endpoint", field="--access-key"
        )
    write_config(path, changes, profile=args.profile)
    where = f"profile {args.profile!r} of {path}" if args.profile else str(path)
    shown = {k: masked(v) if k in ("ak", "sk") else v for k, v in changes.items()}
    printer(args).message(
        f"saved {', '.join(sorted(changes))} to {where}",
        {"ConfigFile": str(path), "Profile": args.profile, "Saved": shown},
    )
    return 0
