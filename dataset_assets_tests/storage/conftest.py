"""Fixtures of the storage tests: a real S3 API (moto's server on 127.0.0.1), a fresh bucket per test,
memory:// locations, `where` (the same test on local disk and on S3), a private read cache, writer
processes, and the library as it was before versioned storage (to make genuine legacy artifacts)."""

from __future__ import annotations

import contextlib
import importlib
import logging
import multiprocessing
import multiprocessing.forkserver
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from dataset_assets_tests.storage import jobs, util  # noqa: E402
from dataset_assets_tests.storage.util import WRITER_TIMEOUT, fs_of, join  # noqa: E402

LEGACY_COMMIT = "d137890"  # the last commit before versioned storage: its library writes the single-directory layout


# --- writer processes: a fork server with TensorFlow preloaded (see jobs.py) ---------------------------


def _forkserver_context():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(jobs.PRELOAD)
    multiprocessing.forkserver.ensure_running()  # returns at once; the server imports TensorFlow meanwhile
    return ctx


_FRESH: list = []  # the fresh-interpreter writer, started at collection when a test needs it


def pytest_collection_modifyitems(session, config, items):
    # start the expensive imports (TensorFlow, ~8 CPU-s) early, in parallel with the first tests
    needed = set().union(*(getattr(item, "fixturenames", ()) for item in items)) if items else set()
    if "workers" in needed:
        _forkserver_context()
    if "fresh_writer" in needed and not _FRESH:
        import tempfile

        _FRESH.append(jobs.FreshWriter(Path(tempfile.mkdtemp(prefix="dataset-assets-fresh-writer-"))))


def pytest_sessionfinish(session, exitstatus):
    for writer in _FRESH:
        writer.stop()
        shutil.rmtree(writer.directory, ignore_errors=True)


# --- S3: moto's server ---------------------------------------------------------------------------------


class RequestLog(logging.Handler):
    """The request lines the moto server handled ("GET /bucket/key HTTP/1.1" ...), from its werkzeug log."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self._lock2 = threading.Lock()

    def emit(self, record):
        with self._lock2:
            self.lines.append(record.getMessage())

    def mark(self, settle: float = 0.15) -> int:
        """Position in the log once requests in flight have been logged."""
        time.sleep(settle)
        with self._lock2:
            return len(self.lines)

    def gets(self, since: int, keys: set[str] | None = None, settle: float = 0.15) -> list[str]:
        """Object keys ("bucket/key") fetched with GET since `since` (listings excluded), optionally only `keys`."""
        time.sleep(settle)
        with self._lock2:
            lines = self.lines[since:]
        out = []
        for line in lines:
            start = line.find('"GET /')
            if start < 0:
                continue
            target = line[start + 5 :].split(" ", 1)[0]
            path, _, query = target.partition("?")
            key = urllib.parse.unquote(path.lstrip("/"))
            if "/" not in key or "list-type" in query or "uploads" in query:
                continue  # a bucket-level request (listing), not an object download
            if keys is None or key in keys:
                out.append(key)
        return out


@dataclass
class S3Server:
    endpoint: str
    requests: RequestLog

    @property
    def options(self) -> dict:
        """storage_options that reach this server without any AWS_* environment variable."""
        return {"endpoint_url": self.endpoint, "key": "testing", "secret": "testing", "client_kwargs": {"region_name": "us-east-1"}}


@pytest.fixture(scope="session")
def s3_server():
    from moto.server import ThreadedMotoServer

    log = RequestLog()
    werkzeug = logging.getLogger("werkzeug")
    werkzeug.setLevel(logging.INFO)
    werkzeug.addHandler(log)
    werkzeug.propagate = False  # recorded, not printed
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    util.S3_OPTIONS.update(endpoint_url=endpoint, key="testing", secret="testing")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            mp.delenv(name, raising=False)
        yield S3Server(endpoint, log)
    server.stop()
    werkzeug.removeHandler(log)


class Nowhere:
    """An endpoint that counts connections and answers every request 403 (no retries): the wrong place to go."""

    def __init__(self):
        import socket

        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.endpoint = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            self.connections += 1
            try:
                conn.settimeout(1)
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            finally:
                conn.close()

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


@pytest.fixture
def env_points_nowhere(s3_server):
    """AWS_ENDPOINT_URL names an endpoint that never answers (and counts who tries): only explicit storage_options
    reach the S3 server. Tests assert `nowhere.connections == 0`: nothing went by the environment.

    s3fs instances are cached by their arguments, not by the environment: the cache is emptied before (so none made
    with the good endpoint is reused) and after (so none bound to the dead one outlives the test).
    """
    import s3fs

    nowhere = Nowhere()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ENDPOINT_URL", nowhere.endpoint)
        s3fs.S3FileSystem.clear_instance_cache()
        yield nowhere
    s3fs.S3FileSystem.clear_instance_cache()
    nowhere.close()


@pytest.fixture
def bucket(s3_server):
    """A fresh, empty bucket: its name (without s3://)."""
    name = f"t-{uuid.uuid4().hex[:20]}"
    fs, _ = fs_of("s3://")
    fs.mkdir(name)
    yield name
    with contextlib.suppress(Exception):
        fs, _ = fs_of("s3://")
        fs.rm(name, recursive=True)


@pytest.fixture
def memory_url():
    """A fresh `memory://<uuid>/art` (removed from fsspec's in-memory store at teardown)."""
    from fsspec.implementations.memory import MemoryFileSystem

    top = uuid.uuid4().hex
    yield f"memory://{top}/art"
    prefix = f"/{top}"
    for key in [k for k in MemoryFileSystem.store if k == prefix or k.startswith(prefix + "/")]:
        MemoryFileSystem.store.pop(key, None)
    MemoryFileSystem.pseudo_dirs[:] = [d for d in MemoryFileSystem.pseudo_dirs if not (d == prefix or d.startswith(prefix + "/"))]


@dataclass
class Where:
    kind: str  # "local" | "s3"
    base: str  # a local directory, or s3://<bucket>

    def __call__(self, *parts: str) -> str:
        return join(self.base, *parts)


@pytest.fixture(params=["local", "s3"])
def where(request, tmp_path):
    """A base location on local disk (a str path) or in a fresh S3 bucket (s3://<bucket>)."""
    if request.param == "local":
        base = tmp_path / "store"
        base.mkdir()
        return Where("local", str(base))
    return Where("s3", f"s3://{request.getfixturevalue('bucket')}")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path_factory, monkeypatch) -> Path:
    """Each test gets its own remote read cache (DATASET_ASSETS_CACHE) and home, never ~/.cache or ~/.dataset_assets."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("DATASET_ASSETS_CACHE", str(cache))
    monkeypatch.setenv("DATASET_ASSETS_HOME", str(tmp_path_factory.mktemp("home")))
    return cache


# --- writers --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def job_env(s3_server, tmp_path_factory) -> dict:
    """The environment of every writer process (their own read cache and home, not the test's)."""
    return {
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "DATASET_ASSETS_WRITER_TIMEOUT": WRITER_TIMEOUT,
        "DATASET_ASSETS_CACHE": str(tmp_path_factory.mktemp("writer-cache")),
        "DATASET_ASSETS_HOME": str(tmp_path_factory.mktemp("writer-home")),
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


@pytest.fixture(scope="session")
def fresh_writer():
    """A writer in a brand-new `sys.executable -c` interpreter (one job; started during collection)."""
    if not _FRESH:
        import tempfile

        _FRESH.append(jobs.FreshWriter(Path(tempfile.mkdtemp(prefix="dataset-assets-fresh-writer-"))))
    return _FRESH[0]


@pytest.fixture(scope="session")
def workers(job_env, tmp_path_factory) -> jobs.Workers:
    """Starts writer jobs, each in a process of its own (children of a fork server with TensorFlow loaded)."""
    ctx = _forkserver_context()
    yield jobs.Workers(ctx, tmp_path_factory.mktemp("jobs"), dict(job_env))
    server = getattr(multiprocessing.forkserver, "_forkserver", None)
    with contextlib.suppress(Exception):
        server._stop()


# --- the library before versioned storage ---------------------------------------------------------------


@pytest.fixture(scope="session")
def old_library(tmp_path_factory):
    """dataset_assets as of commit LEGACY_COMMIT, imported as `legacy_dataset_assets` (its imports are relative)."""
    root = Path(__file__).resolve().parents[2]
    target = tmp_path_factory.mktemp("oldlib")
    archive = subprocess.run(["git", "-C", str(root), "archive", LEGACY_COMMIT, "dataset_assets"], capture_output=True, timeout=60)
    assert archive.returncode == 0, f"cannot read the pre-versioning library from git ({LEGACY_COMMIT}): {archive.stderr.decode()}"
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True, timeout=60)
    shutil.move(str(target / "dataset_assets"), str(target / "legacy_dataset_assets"))
    sys.path.insert(0, str(target))
    try:
        module = importlib.import_module("legacy_dataset_assets")
    finally:
        sys.path.remove(str(target))
    assert Path(module.__file__).resolve().is_relative_to(target)
    return module
