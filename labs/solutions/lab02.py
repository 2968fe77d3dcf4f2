# Solution to lab 02: a third application, `hola`, at /hola: the hello code with another greeting.
from helpers.manifests import load_manifest, with_serve_config

manifest = load_manifest(path)
serve_config = manifest.serve_config
serve_config["applications"] = [a for a in serve_config["applications"] if a["name"] != "hola"]  # run it twice: same
serve_config["applications"].append(
    {
        "name": "hola",
        "route_prefix": "/hola",
        "import_path": "hello_app:app",
        "deployments": [
            {
                "name": "Hello",
                "num_replicas": 1,
                "user_config": {"greeting": "Hola"},
                "ray_actor_options": {"num_cpus": 0.2},
            }
        ],
    }
)
with_serve_config(manifest, serve_config).save(path)
