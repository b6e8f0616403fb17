"""Starts appid-local as a user would, on a free port with a fresh data directory."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

BINARY = os.environ.get("APPID_LOCAL_BIN", "target/debug/appid-local")


class LocalServer:
    """One appid-local process; its stdout is read for the URL, its stderr kept as the log."""

    def __init__(self, data_dir: Path, log_path: Path, env: dict[str, str], cores: set[int] | None = None):
        self.data_dir = data_dir
        self.log_path = log_path
        self.env = env
        self.cores = cores
        self.process = None
        self.url = None
        self.banner = ""

    def start(self):
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [BINARY, "--listen", "127.0.0.1:0", "--data-dir", str(self.data_dir)],
            stdout=subprocess.PIPE,
            stderr=log,
            env=self.env,
            text=True,
            preexec_fn=(lambda: os.sched_setaffinity(0, self.cores)) if self.cores else None,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.banner += line
            match = re.search(r"listening on (http://\S+)", line)
            if match:
                self.url = match.group(1)
                return self
        self.stop()
        raise RuntimeError(f"appid-local did not start: {self.banner}{self.log()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=10)
        if self.process and self.process.stdout:
            self.process.stdout.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(admin_token: str | None = None, data_dir: Path | None = None, cores: set[int] | None = None,
             **settings) -> LocalServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("APPID_")}
        env["RUST_LOG"] = "trace"
        # Suites that fail authentication on purpose, many times from 127.0.0.1, run without the
        # guessing guard; the test that pins the guard turns it on.
        env["APPID_AUTH_FAILURES_PER_MINUTE"] = "0"
        env.update({f"APPID_{name.upper()}": str(value) for name, value in settings.items()})
        if admin_token is not None:
            env["APPID_ADMIN_TOKEN"] = admin_token
        server = LocalServer(data_dir or tmp_path / "data", tmp_path / "server.log", env, cores)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
