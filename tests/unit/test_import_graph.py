"""What start-up loads: heavy packages stay out of the paths that do not use them.

Each case runs in a fresh interpreter and lists the top-level packages it ended up with; a new
top-level import of a heavy package (or of the server from the client) fails here. Times are
measured by ``bench/startup.py``, not asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Never needed to import the client, parse `mlp` arguments or list models.
NEVER = [
    "numpy",
    "onnxruntime",
    "onnx",
    "rich",
    "click",
    "pygments",
    "pathspec",
    "boto3",
    "botocore",
    "yaml",
    "cryptography",
    "uvicorn",
    "alembic",
    "psycopg",
]
# The local platform and request validation: only the embedded platform (or a request) loads them.
SERVER = ["sqlalchemy", "starlette", "mlp_server"]
VALIDATION = ["jsonschema", "referencing"]

REPORT = """
import json, sys
names = json.loads(sys.argv[1])
print(json.dumps(sorted(n for n in names if n in sys.modules)))
"""


def loaded(code: str, names: list[str], env: dict[str, str]) -> list[str]:
    """Which of ``names`` are in ``sys.modules`` after ``code`` ran in a fresh interpreter."""
    done = subprocess.run(
        [sys.executable, "-c", code + REPORT, json.dumps(names)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    found: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return found


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC", "ML_PLATFORM", "MLP_"))}
    clean.update(
        HOME=str(tmp_path),
        VOLC_CONFIG_FILE=str(tmp_path / "no-config"),
        VOLC_ML_PLATFORM_DATA_DIR=str(tmp_path / "data"),
    )
    return clean


def test_importing_the_model_module_loads_neither_server_nor_validation_nor_heavy_packages(
    env: dict[str, str],
) -> None:
    code = "import volcengine_ml_platform.models.model\n"
    assert loaded(code, [*NEVER, *SERVER, *VALIDATION, "asyncio"], env) == []


# The HTTP stack: imported by the first Model (its session), not by importing the model module.
HTTP = ["httpx", "httpcore", "ssl", "_ssl", "certifi", "attr", "attrs", "urllib.request", "http.client"]
CLIENT_HTTP = ["volcengine_ml_platform.session", "volcengine_ml_platform.auth", "ml_platform_client.client"]
# The transfer layer: loaded by the first upload or download, never by a read.
TRANSFER = [
    "volcengine_ml_platform.storage",
    "volcengine_ml_platform.transfer.manager",
    "volcengine_ml_platform.transfer.folder",
    "volcengine_ml_platform.transfer.integrity",
    "concurrent.futures",
]


def test_importing_the_model_module_loads_no_http_stack(env: dict[str, str]) -> None:
    code = "import volcengine_ml_platform.models.model\n"
    assert loaded(code, [*HTTP, *CLIENT_HTTP, *TRANSFER], env) == []
    # The generated models' package and the names its clients are imported as still resolve.
    code = (
        "import volcengine_ml_platform.models.model\n"
        "import ml_platform_client, ml_platform_client.client as real\n"
        "from ml_platform_client import Client, AuthenticatedClient\n"
        "assert Client is real.Client and AuthenticatedClient is real.AuthenticatedClient\n"
        "assert ml_platform_client.__getattr__.__module__ == 'ml_platform_client'\n"
        "try:\n    ml_platform_client.Nothing\nexcept AttributeError:\n    pass\n"
        "else:\n    raise AssertionError('an unknown name resolved')\n"
    )
    assert loaded(code, ["httpx", "attrs"], env) == ["attrs", "httpx"]


def test_the_first_model_loads_the_http_stack(env: dict[str, str]) -> None:
    # What the import no longer loads, the first Model does: the cost moved, it did not vanish.
    code = (
        "from volcengine_ml_platform.models.model import Model\n"
        "Model(endpoint='http://127.0.0.1:9', access_key='AK', secret_key='SK')\n"
    )
    assert loaded(code, ["httpx", "ssl", "volcengine_ml_platform.session"], env) == [
        "httpx",
        "ssl",
        "volcengine_ml_platform.session",
    ]


def test_importing_the_model_module_loads_no_generated_operation(env: dict[str, str]) -> None:
    # Each generated operation and its models (attrs classes, costly to build) are imported when a
    # request first needs them: a list loads the list's, not every operation's.
    operations = [
        "ml_platform_client.api.models.list_models",
        "ml_platform_client.api.models.create_model",
        "ml_platform_client.api.services.start_service",
        "ml_platform_client.models.list_models_request",
        "ml_platform_client.models.create_model_request",
        "ml_platform_client.models.model_summary",
    ]
    assert loaded("import volcengine_ml_platform.models.model\n", operations, env) == []
    code = (
        "from volcengine_ml_platform.models import _requests as rq\n"
        "rq.models(None, None, 0, 10, 'CreateTime', 'Descend')\n"
    )
    assert loaded(code, operations, env) == [
        "ml_platform_client.api.models.list_models",
        "ml_platform_client.models.list_models_request",
    ]


def test_a_remote_model_loads_no_server(env: dict[str, str]) -> None:
    code = (
        "from volcengine_ml_platform.models.model import Model\n"
        "Model(endpoint='http://127.0.0.1:9', access_key='AK', secret_key='SK')\n"
    )
    assert loaded(code, [*NEVER, *SERVER, *VALIDATION], env) == []


def test_mlp_version_loads_no_client(env: dict[str, str]) -> None:
    code = (
        "from volcengine_ml_platform.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
    )
    names = [*NEVER, *VALIDATION, "sqlalchemy", "starlette", "httpx", "ml_platform_client", "attrs"]
    # Printed before any parser is built: not the local platform's commands either.
    names += ["mlp_server", "mlp_server.cli", "volcengine_ml_platform.cli.remote_gc"]
    assert loaded(code, names, env) == []


def test_embedded_mlp_models_list_loads_only_what_it_needs(env: dict[str, str]) -> None:
    code = "from volcengine_ml_platform.cli import main\nassert main(['models', 'list']) == 0\n"
    loaded(code, [], env)  # the first run initialises the data folder
    found = loaded(
        code,
        [
            *NEVER,
            *SERVER,
            # Valid arguments and requests are vouched for without jsonschema (schema_quick).
            *VALIDATION,
            "sqlalchemy.dialects.postgresql",
            "mlp_server.workers.runner",
            "mlp_server.workers.measure",
            # Built when a service is first touched, not when the platform opens.
            "mlp_server.serving.supervisor",
            # Only the `models` commands are built (and `mlp serve`'s arguments are not).
            "mlp_server.cli",
            # Answered by the quick reads (mlp_server.quick_reads) with the SQLite driver alone: no
            # SQLAlchemy (core or ORM), no web framework, no Alembic to see the schema is at its head.
            "sqlalchemy.orm",
            "anyio",
            "mlp_server.app",
            "mlp_server.store",
            "mlp_server.platform",
            *TRANSFER,
        ],
        env,
    )
    assert found == ["mlp_server"]


def test_embedded_model_and_version_reads_on_a_folder_with_models_load_no_sqlalchemy(
    env: dict[str, str],
) -> None:
    register = (
        "import os, pathlib\n"
        "from volcengine_ml_platform.models.model import Model\n"
        "folder = pathlib.Path(os.environ['VOLC_ML_PLATFORM_DATA_DIR']).parent / 'files'\n"
        "folder.mkdir()\n"
        "(folder / 'model.onnx').write_bytes(b'onnx')\n"
        "Model().register(str(folder), model_name='one', model_format='ONNX', model_type='ONNX:1.23')\n"
    )
    assert "sqlalchemy" in loaded(register, ["sqlalchemy"], env)  # a write opens the full platform
    code = (
        "from volcengine_ml_platform.cli import main\n"
        "assert main(['models', 'list']) == 0\n"
        "assert main(['models', 'show', 'one']) == 0\n"
        "assert main(['versions', 'list', 'one']) == 0\n"
        "assert main(['versions', 'show', 'one', 'latest']) == 0\n"
    )
    assert loaded(code, [*SERVER, "sqlalchemy.orm", "anyio", "alembic"], env) == ["mlp_server"]
    # AsyncModel's reads take the same quick reads, on the caller's loop.
    code = (
        "import asyncio\n"
        "from volcengine_ml_platform.models.model import AsyncModel\n"
        "async def main():\n"
        "    async with AsyncModel() as m:\n"
        "        one = await m.get_model_by_name('one')\n"
        "        assert (await m.list_models())['Result']['Total'] == 1\n"
        "        assert (await m.get_model_versions(one.model_id))['Result']['Total'] == 1\n"
        "asyncio.run(main())\n"
    )
    assert loaded(code, [*SERVER, "sqlalchemy.orm", "anyio", "alembic"], env) == ["mlp_server"]


def test_a_command_line_of_mlp_keeps_the_garbage_collector_for_long_work(env: dict[str, str]) -> None:
    # The console entry pauses the collector while the command starts, then freezes what start-up made
    # and turns the collector back on (_console.START_SECONDS); main() called in-process leaves it.
    code = (
        "import gc, sys, time\n"
        "from volcengine_ml_platform import _console\n"
        "_console.START_SECONDS = 0.2\n"
        "import volcengine_ml_platform.cli as cli\n"
        "def command(argv=None):\n"
        "    assert not gc.isenabled()\n"
        "    time.sleep(1.0)\n"
        "    assert gc.isenabled() and gc.get_freeze_count() > 0\n"
        "    print('[]')\n"
        "    return 0\n"
        "cli.main = command\n"
        "_console.run()\n"
    )
    assert loaded(code, [], env) == []


def test_main_called_in_process_leaves_the_garbage_collector_alone(env: dict[str, str]) -> None:
    code = (
        "import gc\n"
        "from volcengine_ml_platform.cli import main\n"
        "assert main(['models', 'list']) == 0\n"
        "assert gc.isenabled() and gc.get_freeze_count() == 0\n"
    )
    assert loaded(code, [], env) == []


def test_httpx_command_line_client_still_loads_when_used(env: dict[str, str]) -> None:
    # The placeholder for httpx._main (see volcengine_ml_platform._httpx_cli) gives the real module.
    code = (
        "import sys\n"
        "import volcengine_ml_platform.models.model, httpx, httpx._main as placeholder\n"
        "assert 'click' not in sys.modules\n"
        "assert callable(placeholder.print_response)\n"
        "from httpx._main import print_response\n"
        "assert sys.modules['httpx._main'].print_response is print_response\n"
    )
    assert loaded(code, ["click", "rich"], env) == ["click", "rich"]


def test_a_folder_store_loads_no_s3_stack(env: dict[str, str], tmp_path: Path) -> None:
    # The upload of a registration to a local platform's folder store: boto3 and obstore took seconds
    # of a first registration's time when 8 clients shared 2 cores.
    (tmp_path / "objects").mkdir()
    code = (
        "from volcengine_ml_platform.auth import Credentials\n"
        "from volcengine_ml_platform.storage import object_store_for\n"
        f"object_store_for({(tmp_path / 'objects').as_uri()!r}, region='cn-beijing',"
        " credentials=Credentials('AK', 'SK'))\n"
    )
    assert loaded(code, [*NEVER, "obstore", "volcengine_ml_platform.transfer.s3"], env) == []


def test_the_s3_store_loads_asyncio_only_for_a_large_object(env: dict[str, str]) -> None:
    # Ranged GETs run on an event loop (transfer/_loop.py); small objects and uploads never need it.
    code = "import volcengine_ml_platform.transfer.s3\n"
    assert loaded(code, ["asyncio", "volcengine_ml_platform.transfer._loop"], env) == []
