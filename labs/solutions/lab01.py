# Solution to lab 01: the article's manifest, fixed.
# The keys live in a Secret you create once, outside any file:
#   kubectl create secret generic aws-credentials \
#     --from-literal=AWS_ACCESS_KEY_ID=... --from-literal=AWS_SECRET_ACCESS_KEY=...
SECRET_ENV = """
                - name: AWS_ACCESS_KEY_ID
                  valueFrom:
                    secretKeyRef: {name: aws-credentials, key: AWS_ACCESS_KEY_ID}
                - name: AWS_SECRET_ACCESS_KEY
                  valueFrom:
                    secretKeyRef: {name: aws-credentials, key: AWS_SECRET_ACCESS_KEY}"""

path.write_text(f"""\
apiVersion: ray.io/v1                      # was ray.io/v1alpha1
kind: RayService
metadata:
  name: ray-serve-app
spec:
  serveConfigV2: |                         # a YAML string, in Serve's snake_case schema
    applications:
      - name: hello
        route_prefix: /hello
        import_path: hello_app:app
        deployments:
          - name: Hello
            num_replicas: 2
            ray_actor_options:
              num_cpus: 0.2
  rayClusterConfig:
    rayVersion: "2.55.1"                   # not affected by CVE-2026-27482; same as the image tag
    headGroupSpec:
      rayStartParams: {{}}
      template:
        spec:
          containers:
            - name: ray-head
              image: rayproject/ray:2.55.1
              ports:
                - {{containerPort: 8000, name: serve}}
                - {{containerPort: 8265, name: dashboard}}
              env:{SECRET_ENV}
    workerGroupSpecs:
      - groupName: workers
        replicas: 1
        rayStartParams: {{}}
        template:
          spec:
            containers:
              - name: ray-worker
                image: rayproject/ray:2.55.1
                env:{SECRET_ENV.replace(chr(10) + "  ", chr(10) + "    ")}
""")
