"""The `hello` application: a greeting, the version that answered, and which replica did.

Used unchanged by both backends: the local backend puts this folder on PYTHONPATH, the kind
backend mounts it into the Ray pods from a ConfigMap.
"""

import asyncio
import os

from ray import serve


@serve.deployment
class Hello:
    def __init__(self):
        self.greeting = "Hello"
        self.work_s = 0.0

    def reconfigure(self, user_config: dict):
        # Called on start and whenever only `user_config` changes: no replica restart.
        self.greeting = user_config.get("greeting", "Hello")
        # Time each request takes, as a model's would (the autoscaling lesson); 0 unless set.
        self.work_s = user_config.get("work_ms", 0) / 1000

    async def __call__(self, request):
        if self.work_s:
            await asyncio.sleep(self.work_s)  # waiting, not computing: replicas do not share the CPU for it
        return {
            "message": f"{self.greeting} from RayService!",
            "version": os.environ.get("APP_VERSION", "v1"),
            "replica": serve.get_replica_context().replica_id.unique_id,
            "pid": os.getpid(),
        }


app = Hello.bind()
