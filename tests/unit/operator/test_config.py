import pytest

from azbatch_operator.config import ConfigError, OperatorConfig, load_config


def test_defaults_without_a_file() -> None:
    config = load_config(None, env={})
    assert config.resync_interval == 60.0
    assert config.account_allowlist is None


def test_unknown_settings_are_refused_by_name() -> None:
    with pytest.raises(ConfigError, match="resyncIntervall"):
        OperatorConfig.from_mapping({"resyncIntervall": 5})


def test_digest_key_must_be_long_enough(tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "key"
    key.write_bytes(b"short")
    with pytest.raises(ConfigError, match="too short"):
        load_config(None, env={"AZBATCH_DIGEST_KEY_FILE": str(key)})
    key.write_bytes(b"k" * 32)
    assert load_config(None, env={"AZBATCH_DIGEST_KEY_FILE": str(key)}).digest_key == b"k" * 32


def test_intervals_must_be_above_zero() -> None:
    # A zero interval would list every account's pools in a tight loop.
    for key in ("resyncInterval", "healthInterval", "activeRequeue", "healthNodeBudget"):
        with pytest.raises(ConfigError, match=f"{key} must be a number above 0"):
            OperatorConfig.from_mapping({key: 0})
    assert OperatorConfig.from_mapping({"resyncInterval": 0.5}).resync_interval == 0.5
