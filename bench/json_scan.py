"""The request-body depth check is linear in the body, whatever it holds (nothing here asserts):
time per byte of `within_depth` on bodies built to make a backtracking scan quadratic (`[` x 40 then
unclosed escaped quotes), on ordinary rows and on rows whose text holds escaped quotes, from 20 KB to 2 MB. Linear: the ratio of
the time per byte at 2 MB to that at 20 KB stays near 1 (a quadratic scan makes it about 100).

    .venv/bin/python bench/json_scan.py
"""

from __future__ import annotations

import json
import time

from workbench.serve._schema import within_depth

SIZES = (20_000, 200_000, 2_000_000)


def _hostile(size: int) -> bytes:
    return b"[" * 40 + b'\\"' * ((size - 40) // 2)


def _rows(row: dict[str, object], size: int) -> bytes:
    one = len(json.dumps(row)) + 2
    return json.dumps([row] * max(1, size // one)).encode()


def _ordinary(size: int) -> bytes:
    return _rows({"island": "Torgersen", "bill_length_mm": 39.1, "sex": None, "year": 2007}, size)


def _escaped(size: int) -> bytes:
    return _rows({"island": "Torgersen", "bill_length_mm": 39.1, "note": 'a "quoted" [word]', "year": 2007}, size)


def _ns_per_byte(body: bytes, repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        within_depth(body, 32)
        best = min(best, time.perf_counter() - start)
    return best * 1e9 / len(body)


def main() -> None:
    print(f"{'body':<10}{'size':>12}{'ns/byte':>10}{'ms':>10}")
    for name, make in (("hostile", _hostile), ("ordinary", _ordinary), ("escapes", _escaped)):
        per_byte = []
        for size in SIZES:
            body = make(size)
            ns = _ns_per_byte(body)
            per_byte.append(ns)
            print(f"{name:<10}{len(body):>12,}{ns:>10.1f}{ns * len(body) / 1e6:>10.2f}")
        print(f"{name}: time per byte at 2 MB / at 20 KB = {per_byte[-1] / per_byte[0]:.2f} (linear: about 1)")


if __name__ == "__main__":
    main()
