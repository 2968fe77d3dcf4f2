"""Two tiny "models" behind one application builder: `predict_app:build` with args {model: a|b}.

Each model is a fixed linear function, so answers are deterministic and easy to check:
model a (v1) predicts 2x + 1, model b (v2) predicts 3x - 1. Ask with GET /predict-a?x=4.
"""

import os

from ray import serve

MODELS = {
    "a": {"version": "v1", "slope": 2.0, "intercept": 1.0},
    "b": {"version": "v2", "slope": 3.0, "intercept": -1.0},
}


@serve.deployment
class Predictor:
    def __init__(self, model: str):
        if model not in MODELS:
            raise ValueError(f"unknown model {model!r}; choose one of {sorted(MODELS)}")
        self.model = model
        self.params = MODELS[model]

    async def __call__(self, request):
        try:
            x = float(request.query_params.get("x", "1"))
        except ValueError:
            return {"error": "x must be a number, e.g. ?x=4"}
        p = self.params
        return {
            "model": self.model,
            "model_version": p["version"],
            "x": x,
            "prediction": p["slope"] * x + p["intercept"],
            "replica": serve.get_replica_context().replica_id.unique_id,
            "pid": os.getpid(),
        }


def build(args: dict):
    """Application builder: Serve calls it with the `args` of the application in the config."""
    return Predictor.bind(args.get("model", "a"))
