"""`python -m bench`: names the benchmarks there are, and runs only those."""

from __future__ import annotations

import pytest

from bench import __main__ as runner


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_the_usage_and_the_benchmarks(flag: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main([flag]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m bench [NAME ...] [-- ARGS ...]")
    assert "benchmarks: emulator, scale" in out


def test_an_unknown_benchmark_is_refused_with_the_ones_there_are(capsys: pytest.CaptureFixture[str]) -> None:
    assert runner.main(["bogus"]) == 2
    assert "unknown benchmark(s) ['bogus']; available: ['emulator', 'scale']" in capsys.readouterr().err
