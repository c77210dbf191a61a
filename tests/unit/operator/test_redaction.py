"""Every secret value the operator has read is masked in whatever it prints, the longest first:
its own fields, kopf's and the SDKs' messages, tracebacks, and the Events kopf posts."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator

import kopf  # noqa: F401 - importing it installs kopf's Event poster on its object logger
import pytest
import structlog

from azbatch_operator.logs import MASK, configure, get_logger, redact, redact_handlers, remember_secret_values


def test_a_value_read_once_is_masked_wherever_it_appears_later() -> None:
    remember_secret_values(["s3cr3t-storage-key-41"])
    assert redact("auth failed for s3cr3t-storage-key-41 (twice: s3cr3t-storage-key-41)") == (
        f"auth failed for {MASK} (twice: {MASK})"
    )


def test_a_secret_inside_a_longer_one_does_not_leave_the_rest_showing() -> None:
    remember_secret_values(["tok-7f3a"])
    remember_secret_values(["tok-7f3a-and-its-signature-99"])  # told later, masked first
    assert redact("token tok-7f3a-and-its-signature-99 refused") == f"token {MASK} refused"
    assert redact("short tok-7f3a") == f"short {MASK}"


def test_values_too_short_to_be_secrets_and_non_strings_are_not_registered() -> None:
    remember_secret_values(["abc", 12345, None])
    assert redact("abc 12345") == "abc 12345"


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """`logs.configure` sets the process's logging up; the tests after this one get theirs back."""
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.configure(**config)


def _failure(secret: str) -> logging.LogRecord:
    """What kopf logs for a handler that raised: its own message, the exception, the traceback."""
    try:
        raise RuntimeError(f"upstream refused key {secret}")
    except RuntimeError:
        info = sys.exc_info()
    return logging.LogRecord("kopf.objects", logging.ERROR, __file__, 1, "Handler failed.", None, info)


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "console"])
def test_a_traceback_kopf_logs_is_masked_as_written(
    as_json: bool, logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "pr0tected-setting-value-77"
    remember_secret_values([secret])
    configure(json=as_json)
    logging.getLogger("kopf.objects").handle(_failure(secret))
    written = capsys.readouterr().err
    assert "RuntimeError" in written and "Traceback" in written  # the traceback is still there
    assert secret not in written
    assert f"upstream refused key {MASK}" in written


def test_a_line_of_the_operator_with_a_traceback_is_masked(
    logging_restored: None, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "acc0unt-key-in-an-error-12"
    remember_secret_values([secret])
    configure(json=True)
    try:
        raise ValueError(f"bad {secret}")
    except ValueError:
        get_logger(name="pool-a").exception("pass failed", detail=f"with {secret}")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert secret not in json.dumps(line)
    assert line["detail"] == f"with {MASK}" and f"ValueError: bad {MASK}" in line["exception"]


def test_kopfs_event_poster_writes_a_failed_handlers_message_masked() -> None:
    """kopf posts a handler's failure as a Kubernetes Event through its own logging handler,
    formatted with a plain formatter (message and traceback): the operator masks it at start-up."""
    secret = "st0rage-sas-token-in-a-trace-5"
    remember_secret_values([secret])
    objects = logging.getLogger("kopf.objects")
    poster = next(handler for handler in objects.handlers if type(handler).__name__ == "K8sPoster")
    poster.setFormatter(None)  # kopf as it comes (an operator run earlier in this process masked it)
    assert secret in poster.format(_failure(secret))

    redact_handlers(objects)

    posted = poster.format(_failure(secret))
    assert secret not in posted and f"upstream refused key {MASK}" in posted
