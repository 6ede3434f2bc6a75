"""A local S3 endpoint for tests and benchmarks: moto's server on a free 127.0.0.1 port, never a cloud."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def local_s3_endpoint() -> Iterator[dict[str, str]]:
    """Run moto's S3 server for the block; yields the ``AWS_*`` environment a client, or a child
    process, needs to reach it (fake credentials, the endpoint, no instance-metadata lookups)."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield {
            "AWS_ACCESS_KEY_ID": "alphaplus-test",
            "AWS_SECRET_ACCESS_KEY": "alphaplus-test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": f"http://{host}:{port}",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    finally:
        server.stop()


def make_bucket(env: dict[str, str], name: str) -> None:
    """Create a bucket on the endpoint of ``env``."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"], region_name=env["AWS_DEFAULT_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"], aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    client.create_bucket(Bucket=name)
