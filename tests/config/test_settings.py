from __future__ import annotations

from pathlib import Path

import pytest

from worker.config.settings import Settings, SettingsError, load_settings

NONE = Path("/nonexistent/wrangler.toml")


def test_defaults() -> None:
    s = load_settings({}, wrangler_toml=NONE)
    assert s == Settings()
    assert s.port == 8787 and s.response_shape == "workers" and s.api_keys == ()


def test_env_beats_wrangler_vars_beats_defaults(tmp_path: Path) -> None:
    toml = tmp_path / "wrangler.toml"
    toml.write_text('[vars]\nPORT = 9000\nLOG_LEVEL = "debug"\nRESPONSE_SHAPE = "choices"\n')
    s = load_settings({"PORT": "9100", "API_KEYS": "a, b,,c"}, wrangler_toml=toml)
    assert s.port == 9100 and s.log_level == "debug" and s.response_shape == "choices"
    assert s.api_keys == ("a", "b", "c")


def test_wrangler_toml_is_the_working_directory_s_or_the_named_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An installed gateway has no source tree to look in: the file it reads is where it is started."""
    (tmp_path / "here").mkdir()
    (tmp_path / "here" / "wrangler.toml").write_text("[vars]\nPORT = 9001\n")
    (tmp_path / "named.toml").write_text("[vars]\nPORT = 9002\n")
    monkeypatch.chdir(tmp_path / "here")
    assert load_settings({}).port == 9001
    assert load_settings({"WRANGLER_TOML": str(tmp_path / "named.toml")}).port == 9002
    monkeypatch.chdir(tmp_path)  # none here: the built-in defaults, without a word
    assert load_settings({}) == Settings()


def test_models_file_with_upstream_url_is_refused_naming_both() -> None:
    env = {"MODELS_FILE": "models.toml", "UPSTREAM_URL": "https://upstream.example/v1"}
    with pytest.raises(SettingsError, match="MODELS_FILE and UPSTREAM_URL conflict") as caught:
        load_settings(env, wrangler_toml=NONE)
    assert "\n" not in str(caught.value)
    # Either alone is fine; an empty UPSTREAM_URL (as in wrangler.toml's [vars]) is no conflict.
    load_settings({**env, "UPSTREAM_URL": ""}, wrangler_toml=NONE)
    load_settings({"UPSTREAM_URL": env["UPSTREAM_URL"]}, wrangler_toml=NONE)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"PORT": "eighty"}, "PORT"),
        ({"ALLOW_NO_AUTH": "maybe"}, "ALLOW_NO_AUTH"),
        ({"RESPONSE_SHAPE": "xml"}, "RESPONSE_SHAPE"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle):
        load_settings(env, wrangler_toml=NONE)


def test_public_dict_masks_secrets() -> None:
    s = load_settings({"API_KEYS": "k1", "UPSTREAM_API_KEY": "sk-x"}, wrangler_toml=NONE)
    public = s.public_dict()
    assert public["api_keys"] == "***" and public["upstream_api_key"] == "***"
    assert "k1" not in str(public) and "sk-x" not in str(public)
