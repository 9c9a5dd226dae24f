"""What renewing object-store credentials cost a small object's PUT and GET (obstore asks the provider
before every request; the provider answers from memory until the keys near their expiry).

    python bench/store_credentials.py                      # 3 rounds x 200 PUT+GET pairs per store
    python bench/store_credentials.py --rounds 5 --requests 400

Two ``S3Store`` on one moto server on 127.0.0.1 (OS-chosen port): fixed keys, and ``RenewingKeys``
(what a team-mode client gets from GetSTSToken). Rounds interleave the two, in alternating order, so
load from other processes falls on both alike; prints ms per request of each round, the medians and
their ratio. Shared machines are noisy: only the side-by-side figures mean anything.
"""

from __future__ import annotations

import argparse
import statistics
import time

from moto.server import ThreadedMotoServer

from volcengine_ml_platform.transfer.credentials import RenewingKeys, StoreKeys
from volcengine_ml_platform.transfer.s3 import S3Store

BUCKET = "bench-credentials"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per store")
    parser.add_argument("--requests", type=int, default=200, help="PUT+GET pairs per store and round")
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"

        def hour() -> StoreKeys:
            return StoreKeys("AK", "SK", None, time.time() + 3600)

        stores = {
            "fixed": S3Store(endpoint, "AK", "SK", None, region="us-east-1", addressing_style="path"),
            "renewing": S3Store(
                endpoint, "AK", "SK", None, region="us-east-1", addressing_style="path",
                renewing=RenewingKeys(hour(), hour),
            ),
        }  # fmt: skip
        stores["fixed"].client.create_bucket(Bucket=BUCKET)
        data = b"x" * 1024
        figures: dict[str, list[float]] = {name: [] for name in stores}
        for r in range(args.rounds):
            order = list(stores) if r % 2 == 0 else list(reversed(stores))
            for name in order:
                store = stores[name]
                start = time.perf_counter()
                for i in range(args.requests):
                    store.put_bytes(BUCKET, f"{name}/{r}/{i}", data)
                    store.get_bytes(BUCKET, f"{name}/{r}/{i}")
                figures[name].append((time.perf_counter() - start) / (2 * args.requests) * 1e3)
        for name, values in figures.items():
            rounds = ", ".join(f"{v:.3f}" for v in values)
            print(f"{name:9s} ms/request by round: {rounds}; median {statistics.median(values):.3f}")
        ratio = statistics.median(figures["renewing"]) / statistics.median(figures["fixed"])
        print(f"renewing / fixed (medians): {ratio:.3f}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
