"""Proof: every deployed-then-deleted service leaves serving/run/{sid}-N.json and serving/logs/{sid}-N.log
in the data folder for ever (mlp serve, real HTTP)."""
import time
from pathlib import Path

from mlp_testing import MlpServe, clean_env
from volcengine_ml_platform.models.model import Model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"


def test_deleted_services_leave_no_files(tmp_path: Path) -> None:
    with MlpServe(tmp_path / "data", env=clean_env(tmp_path)) as srv:
        keys = srv.default_keys()
        m = Model(endpoint=srv.url, access_key=keys.ak, secret_key=keys.sk)
        mid = m.register(str(EXAMPLE), model_name="x", model_format="ONNX", model_type="ONNX:1.23").result.model_id
        for i in range(5):
            svc = m.deploy(mid, "1", f"svc-{i}", flavor="ml.c1i.large")
            svc.wait_for("Running", timeout=60, interval=0.2)
            svc.predict({"features": [[5.1, 3.5, 1.4, 0.2]]})
            svc.delete()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(m.list_services().result.list_ or []):
            time.sleep(0.2)
        time.sleep(3)  # the supervisor stops the replicas
        serving = tmp_path / "data" / "serving"
        left = sorted(p.relative_to(serving).as_posix() for p in (serving / "run").iterdir()) + sorted(
            p.relative_to(serving).as_posix() for p in (serving / "logs").iterdir()
        )
        assert len(m.list_services().result.list_ or []) == 0
        assert left == [], f"{len(left)} files of 5 deleted services: {left}"
