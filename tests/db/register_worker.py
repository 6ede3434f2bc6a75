"""Child process for the concurrent-registration test: registers N versions, prints their numbers."""

import asyncio
import sys

from alphaplus.registry.service import Registry
from db.pool import close_pools
from tests.db.conftest import make_lineage


async def main(model_name: str, n: int) -> None:
    registry = await Registry.open()
    for _ in range(n):
        reg = await registry.register_model_version(make_lineage(model_name), model={"w": 1})
        print(reg.version.version, flush=True)
    await close_pools()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
