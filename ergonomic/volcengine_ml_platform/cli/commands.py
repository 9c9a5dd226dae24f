"""The repository commands of ``mlp``: one function per subcommand, each a thin call of the documented
``Model`` API followed by printing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import resolve_settings
from ..errors import ValidationError
from ..models._common import version_number
from ..models.model import Model
from .args import json_arg, pairs
from .output import Column, Printer, field
from .progress import ProgressBar

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
SERVICE_COLUMNS: list[Column] = [
    ("SERVICE ID", field("ServiceID")),
    ("NAME", field("ServiceName")),
    ("STATUS", lambda r: r.get("ServiceDeployment", {}).get("Status")),
    ("REPLICAS", lambda r: r.get("ServiceDeployment", {}).get("Replicas")),
    ("MODEL VERSION ID", lambda r: r.get("ServiceDeployment", {}).get("Model", {}).get("ModelVersionID")),
    ("ENDPOINT", lambda r: r.get("ServiceDeployment", {}).get("EndpointURL")),
]


def model_for(args: argparse.Namespace) -> Model:
    return Model(endpoint=args.endpoint, region=args.region, data_dir=args.data_dir)


def printer(args: argparse.Namespace) -> Printer:
    return Printer(args.output)


def _page(args: argparse.Namespace) -> dict[str, Any]:
    return {"offset": args.offset, "page_size": args.limit, "sort_order": args.sort_order}


# ---- models ----------------------------------------------------------------------------------------


def models_register(args: argparse.Namespace) -> int:
    tags = [{"Key": k, "Value": v} for k, v in pairs(args.tag, "--tag").items()] or None
    bar = ProgressBar("uploading", enabled=None if args.progress == "auto" else args.progress == "on")
    try:
        resp = model_for(args).register(
            args.path,
            model_id=args.model_id,
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
            progress=bar,
        )
    finally:
        bar.close()
    printer(args).result(resp)
    return 0


def models_list(args: argparse.Namespace) -> int:
    resp = model_for(args).list_models(
        model_name_contains=args.name_contains,
        id_contains=args.id_contains,
        sort_by=args.sort_by,
        **_page(args),
    )
    printer(args).listing(resp, MODEL_COLUMNS)
    return 0


def models_show(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).get_model(args.model_id))
    return 0


def models_rename(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).update_model(args.model_id, model_name=args.new_name))
    return 0


def models_delete(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).unregister_all_versions(args.model_id))
    return 0


# ---- versions --------------------------------------------------------------------------------------


def versions_list(args: argparse.Namespace) -> int:
    resp = model_for(args).get_model_versions(
        args.model_id, args.version, sort_by=args.sort_by, **_page(args)
    )
    printer(args).listing(resp, VERSION_COLUMNS)
    return 0


def versions_show(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).get_model_version(args.model_id, args.version))
    return 0


def versions_update(args: argparse.Namespace) -> int:
    resp = model_for(args).update_model_version(
        args.model_id,
        args.version,
        description=args.description,
        tensor_config=json_arg(args.tensor_config, "--tensor-config"),
        model_metrics=json_arg(args.metrics, "--metrics"),
    )
    printer(args).result(resp)
    return 0


def versions_delete(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).unregister(args.model_id, args.version))
    return 0


def versions_download(args: argparse.Namespace) -> int:
    bar = ProgressBar("downloading", enabled=None if args.progress == "auto" else args.progress == "on")
    try:
        files = model_for(args).download(args.model_id, args.version, args.dest, progress=bar)
    finally:
        bar.close()
    data = {
        "ModelID": args.model_id,
        "ModelVersion": version_number(args.version),
        "LocalPath": args.dest,
        "Files": [str(f) for f in files],
    }
    printer(args).message(f"downloaded {len(files)} file(s) to {args.dest}", data)
    return 0


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
    resp = model_for(args).create_perf_job(
        args.model_id,
        args.version,
        json_arg(args.tensor_config, "--tensor-config"),
        args.job_type,
        job_params,
    )
    printer(args).result(resp)
    return 0


def perf_list(args: argparse.Namespace) -> int:
    resp = model_for(args).list_perf_jobs(
        model_id=args.model_id, model_version=args.version, job_id=args.job_id, **_page(args)
    )
    printer(args).listing(resp, JOB_COLUMNS)
    return 0


def perf_cancel(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).cancel_perf_job(args.job_id))
    return 0


def perf_tasks(args: argparse.Namespace) -> int:
    resp = model_for(args).list_perf_tasks(task_id=args.task_id, job_id=args.job_id, **_page(args))
    printer(args).listing(resp, TASK_COLUMNS)
    return 0


def perf_update_task(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).update_perf_task(args.task_id, args.status))
    return 0


def perf_cancel_task(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).cancel_perf_task(args.task_id))
    return 0


# ---- deploy and services --------------------------------------------------------------------------------


def deploy(args: argparse.Namespace) -> int:
    service = model_for(args).deploy(
        args.model_id,
        args.version,
        args.service_name,
        flavor=args.flavor,
        image_id=args.image,
        envs=pairs(args.env, "--env", "NAME=VALUE") or None,
        replica=args.replicas,
        description=args.description,
    )
    printer(args).result(service.refresh())
    return 0


def services_list(args: argparse.Namespace) -> int:
    resp = model_for(args).list_services(service_name_contains=args.name_contains, **_page(args))
    printer(args).listing(resp, SERVICE_COLUMNS)
    return 0


def services_show(args: argparse.Namespace) -> int:
    printer(args).result(model_for(args).get_service(args.service_id).last)
    return 0


def _service_action(action: str) -> Command:
    def run(args: argparse.Namespace) -> int:
        service = model_for(args).get_service(args.service_id)
        resp = service.scale(args.replicas) if action == "scale" else getattr(service, action)()
        printer(args).result(resp)
        return 0

    return run


def services_predict(args: argparse.Namespace) -> int:
    """``--input`` is JSON (``{"name": nested list}``) or a file holding it; prints the outputs."""
    text = args.input
    if not text.lstrip().startswith("{"):
        try:
            text = Path(text).read_text(encoding="utf-8")
        except OSError as exc:
            raise ValidationError(
                f"--input: not JSON and not a readable file: {exc}", field="--input"
            ) from None
    try:
        inputs = json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"--input: not valid JSON: {exc}", field="--input") from None
    if not isinstance(inputs, dict):
        raise ValidationError("--input: a JSON object {input name: nested list}", field="--input")
    outputs = model_for(args).get_service(args.service_id).predict(inputs)
    plain = {name: array.tolist() for name, array in outputs.items()}
    if args.output == "json":
        printer(args).json({"outputs": plain})
    else:
        for name, array in outputs.items():
            sys.stdout.write(f"{name}  {list(array.shape)}  {json.dumps(plain[name])}\n")
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
    settings = resolve_settings(endpoint=args.endpoint, region=args.region, data_dir=args.data_dir)
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
