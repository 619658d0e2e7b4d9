"""Request metrics in the Prometheus text format, kept by an outermost ASGI middleware."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field

from workbench.serve._asgi import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BUCKETS", "Metrics", "MetricsMiddleware"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class Metrics:
    """Counters updated on the event loop (one thread), read by GET /metrics."""

    requests: dict[tuple[str, str, int], int] = field(default_factory=lambda: defaultdict(int))
    latency_buckets: dict[str, list[int]] = field(default_factory=dict)
    latency_sum: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    latency_count: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    in_flight: int = 0
    rejected_overload: int = 0
    rejected_slow_body: int = 0
    rejected_host: int = 0
    unhandled_errors: int = 0
    model_name: str = ""
    model_version: int = 0
    model_ready: bool = False
    model_fast_path: bool = False
    reloads: int = 0

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests[(route, method, status)] += 1
        buckets = self.latency_buckets.setdefault(route, [0] * len(BUCKETS))
        for i, bound in enumerate(BUCKETS):
            if seconds <= bound:
                buckets[i] += 1
        self.latency_sum[route] += seconds
        self.latency_count[route] += 1

    def render(self) -> str:
        lines = [
            "# HELP workbench_requests_total HTTP requests by route template, method and status.",
            "# TYPE workbench_requests_total counter",
        ]
        for (route, method, status), count in sorted(self.requests.items()):
            lines.append(f'workbench_requests_total{{route="{route}",method="{method}",status="{status}"}} {count}')
        lines += [
            "# HELP workbench_request_duration_seconds Time from request start to response end.",
            "# TYPE workbench_request_duration_seconds histogram",
        ]
        for route, buckets in sorted(self.latency_buckets.items()):
            for bound, count in zip(BUCKETS, buckets, strict=True):
                lines.append(f'workbench_request_duration_seconds_bucket{{route="{route}",le="{bound}"}} {count}')
            total = self.latency_count[route]
            lines.append(f'workbench_request_duration_seconds_bucket{{route="{route}",le="+Inf"}} {total}')
            lines.append(f'workbench_request_duration_seconds_sum{{route="{route}"}} {self.latency_sum[route]:.6f}')
            lines.append(f'workbench_request_duration_seconds_count{{route="{route}"}} {total}')
        lines += [
            "# HELP workbench_requests_in_flight Requests being handled now (health and metrics excluded).",
            "# TYPE workbench_requests_in_flight gauge",
            f"workbench_requests_in_flight {self.in_flight}",
            "# HELP workbench_overload_rejections_total Requests answered 503 because too many were in flight.",
            "# TYPE workbench_overload_rejections_total counter",
            f"workbench_overload_rejections_total {self.rejected_overload}",
            "# HELP workbench_slow_body_rejections_total Requests answered 408: the body did not arrive in time.",
            "# TYPE workbench_slow_body_rejections_total counter",
            f"workbench_slow_body_rejections_total {self.rejected_slow_body}",
            "# HELP workbench_host_rejections_total Requests answered 400: a Host name not on the allow-list.",
            "# TYPE workbench_host_rejections_total counter",
            f"workbench_host_rejections_total {self.rejected_host}",
            "# HELP workbench_unhandled_errors_total Requests that ended in the catch-all 500 handler.",
            "# TYPE workbench_unhandled_errors_total counter",
            f"workbench_unhandled_errors_total {self.unhandled_errors}",
            "# HELP workbench_model_reloads_total Successful model reloads.",
            "# TYPE workbench_model_reloads_total counter",
            f"workbench_model_reloads_total {self.reloads}",
            "# HELP workbench_model_ready 1 once the model is loaded and verified.",
            "# TYPE workbench_model_ready gauge",
            f"workbench_model_ready {int(self.model_ready)}",
            "# HELP workbench_model_fast_path 1 when requests skip pandas (a verified fast path serves them).",
            "# TYPE workbench_model_fast_path gauge",
            f"workbench_model_fast_path {int(self.model_fast_path)}",
        ]
        if self.model_name:
            lines += [
                "# HELP workbench_model_info The model being served.",
                "# TYPE workbench_model_info gauge",
                f'workbench_model_info{{name="{_escape(self.model_name)}",version="{self.model_version}"}} 1',
            ]
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Outermost: sees every answer, the limits' 413/503 and auth's 401 included."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(template, scope.get("method", ""), status, time.perf_counter() - start)
