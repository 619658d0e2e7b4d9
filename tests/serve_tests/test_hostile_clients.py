"""Clients that try to stall or trick a real server (uvicorn on 127.0.0.1): slow bodies, two framings of
one body, foreign Host names, form bodies posted cross-site, reloads without a key."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest
from serve_support import SUBPROCESS_ENV, FileSource

from workbench.serve import ServeSettings
from workbench.serve._contract import running_server

GOOD = [{"island": "Dream", "bill_length_mm": 40.0, "sex": "male", "year": 2008}]
pytestmark = pytest.mark.slow


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


def _read_all(sock: socket.socket, timeout_s: float) -> tuple[bytes, bool]:
    """What the server sends until it closes the connection (True) or `timeout_s` passes (False)."""
    sock.settimeout(timeout_s)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except TimeoutError:
        return data, False
    return data, True


def test_slow_bodies_hold_no_inference_slot_and_are_cut_off(fitted: tuple[Path, pd.DataFrame]) -> None:
    settings = ServeSettings(body_timeout_s=3.0)  # 64 slots, as served by default
    with running_server(FileSource(fitted[0]), settings, 60, SUBPROCESS_ENV) as url:
        host, port = _address(url)
        slow = []
        for _ in range(64):  # headers, then one body byte: every slot, were they counted before the body
            sock = socket.create_connection((host, port))
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"Content-Length: 1000\r\n\r\n["
            )
            slow.append(sock)
        time.sleep(0.3)
        statuses: Counter[int] = Counter()

        def normal() -> None:
            with httpx.Client(base_url=url, timeout=10) as client:
                for _ in range(5):
                    statuses[client.post("/predict", json=GOOD).status_code] += 1

        threads = [threading.Thread(target=normal) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert statuses == Counter({200: 40}), statuses
        answer, closed = _read_all(slow[0], timeout_s=10)  # past the 3 s body deadline
        assert answer.startswith(b"HTTP/1.1 408") and closed, answer[:200]
        for sock in slow:
            sock.close()
        metrics = httpx.get(url + "/metrics", timeout=5).text
        assert "workbench_slow_body_rejections_total 0" not in metrics


def test_two_framings_foreign_hosts_and_form_bodies_are_refused(fitted: tuple[Path, pd.DataFrame]) -> None:
    with running_server(FileSource(fitted[0]), ServeSettings(), 60, SUBPROCESS_ENV) as url:
        host, port = _address(url)
        body = json.dumps(GOOD).encode()
        with socket.create_connection((host, port)) as sock:
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
                + f"{len(body):x}\r\n".encode()
                + body
                + b"\r\n0\r\n\r\n"
            )
            answer, closed = _read_all(sock, timeout_s=5)
        assert answer.startswith(b"HTTP/1.1 400") and b"not both" in answer and closed, answer[:300]

        with httpx.Client(base_url=url, timeout=10) as client:
            assert client.post("/predict", json=GOOD, headers={"Host": f"localhost:{port}"}).status_code == 200
            assert client.get("/v2/health/ready", headers={"Host": f"[::1]:{port}"}).status_code == 200
            rebound = client.post("/predict", json=GOOD, headers={"Host": f"attacker.example:{port}"})
            assert rebound.status_code == 400 and "attacker" not in rebound.text
            assert client.get("/v2/health/live", headers={"Host": "attacker.example"}).status_code == 400
            for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
                refused = client.post("/predict", content=body, headers={"Content-Type": kind})
                assert refused.status_code == 415 and "application/json" in refused.json()["error"], kind
            assert client.post("/predict", content=body).status_code == 200  # no Content-Type: taken as JSON
            load = client.post("/v2/repository/models/penguins/load", headers={"Content-Type": "application/json"})
            assert load.status_code == 403  # no API key on this server: no reload over HTTP
            assert "workbench_host_rejections_total 2" in client.get("/metrics").text
