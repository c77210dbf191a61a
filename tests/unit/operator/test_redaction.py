"""Every secret value the operator has read is masked in whatever it prints, the longest first."""

from __future__ import annotations

from azbatch_operator.logs import MASK, redact, remember_secret_values


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
