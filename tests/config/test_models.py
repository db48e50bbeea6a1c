from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from worker.config.models import builtin_table, load_table, parse_table
from worker.config.settings import SettingsError
from worker.state import check_config


def test_builtin_table_uses_the_simulator_without_upstream() -> None:
    table = builtin_table(make_settings())
    entry = table.entries["qwq-32b"]
    assert entry.primary.adapter == "simulator" and entry.context_window == 24000
    assert table.resolve("@cf/qwen/qwq-32b") is entry and table.resolve("Qwen/QwQ-32B") is entry
    assert table.resolve("nope") is None


def test_builtin_table_uses_upstream_url() -> None:
    entry = builtin_table(make_settings(upstream_url="http://up/v1/", upstream_api_key="k")).entries[
        "qwq-32b"
    ]
    assert (entry.primary.adapter, entry.primary.base_url, entry.primary.api_key) == (
        "openai",
        "http://up/v1",
        "k",
    )


def test_models_file(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models.qwq]\ncontext_window = 131072\n[[models.qwq.targets]]\nadapter = "openai"\n'
        'base_url = "https://api.deepinfra.com/v1/openai"\nmodel = "Qwen/QwQ-32B"\napi_key_env = "DI_KEY"\n'
    )
    table = load_table(make_settings(models_file=str(path)), environ={"DI_KEY": "secret"})
    assert table.entries["qwq"].primary.api_key == "secret"
    assert table.entries["qwq"].context_window == 131072


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[models.x]\n", "targets"),
        ('[models.x]\n[[models.x.targets]]\nadapter = "grpc"\n', "adapter must be one of"),
        ('[models.x]\n[[models.x.targets]]\nadapter = "openai"\n', "base_url"),
        (
            '[models.x]\ncontext_window = "big"\n[[models.x.targets]]\nadapter = "simulator"\n',
            "context_window",
        ),
        ("models = 3\n", "[models.<slug>]"),
        ("[models.x\n", "line 1"),
    ],
)
def test_malformed_models_file_names_the_problem(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_table(make_settings(models_file=str(path)))
    assert needle in str(info.value)


def test_parse_table_requires_models() -> None:
    with pytest.raises(SettingsError):
        parse_table({}, {})


def test_no_keys_refuses_to_start_unless_told() -> None:
    with pytest.raises(SettingsError, match="refusing to start"):
        check_config(make_settings(api_keys=""))
    check_config(make_settings(api_keys="", allow_no_auth=1))


def test_targets_carry_tool_mode_and_raw_completions() -> None:
    target = {"adapter": "openai", "base_url": "http://up/v1"}
    plain = parse_table({"models": {"m": {"targets": [target]}}}, {}).entries["m"].primary
    assert (plain.tool_mode, plain.raw_completions) == ("native", True)
    custom = {**target, "tool_mode": "prompt", "raw_completions": False}
    parsed = parse_table({"models": {"m": {"targets": [custom]}}}, {}).entries["m"].primary
    assert (parsed.tool_mode, parsed.raw_completions) == ("prompt", False)
    with pytest.raises(SettingsError, match="tool_mode must be one of"):
        parse_table({"models": {"m": {"targets": [{**target, "tool_mode": "magic"}]}}}, {})
    with pytest.raises(SettingsError, match="raw_completions"):
        parse_table({"models": {"m": {"targets": [{**target, "raw_completions": "no"}]}}}, {})


def test_routing_fields_and_several_keys(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(
        '[models.qwq]\nstrategy = "weighted"\n'
        '[[models.qwq.targets]]\nadapter = "workers-ai"\nbase_url = "https://api.cloudflare.com/client/v4"\n'
        'account_id_env = "CF_ACCOUNT"\nmodel = "@cf/qwen/qwq-32b"\napi_keys_env = "CF_TOKENS"\nweight = 3\n'
        "connect_timeout = 2.5\nfirst_byte_timeout = 300\nidle_timeout = 60\ncontext_window = 24000\n"
        "price_input_per_m = 0.66\nprice_output_per_m = 1.0\n"
        '[[models.qwq.targets]]\nadapter = "gateway"\nbase_url = "https://edge.example"\nmodel = "qwq-32b"\n'
    )
    environ = {"CF_ACCOUNT": "acc1", "CF_TOKENS": "t1, t2,,t3"}
    entry = load_table(make_settings(models_file=str(path)), environ=environ).entries["qwq"]
    first, second = entry.targets
    assert entry.strategy == "weighted"
    assert first.account_id == "acc1" and first.keys == ("t1", "t2", "t3") and first.weight == 3.0
    assert (first.connect_timeout, first.first_byte_timeout, first.idle_timeout) == (2.5, 300.0, 60.0)
    assert (first.context_window, first.price_input_per_m, first.price_output_per_m) == (24000, 0.66, 1.0)
    assert second.adapter == "gateway" and second.keys == () and second.weight == 1.0


KEYED = (
    '[models.qwq-32b]\n[[models.qwq-32b.targets]]\nadapter = "simulator"\n'
    '[[models.qwq-32b.targets]]\nadapter = "openai"\nbase_url = "https://upstream.example/v1"\n'
    '{field} = "{variable}"\n'
)


@pytest.mark.parametrize("field", ["api_key_env", "api_keys_env", "account_id_env"])
@pytest.mark.parametrize(("environ", "state"), [({}, "unset"), ({"SOME_VAR": ""}, "empty")])
def test_a_named_variable_that_is_unset_or_empty_stops_start_up(
    tmp_path: Path, field: str, environ: dict[str, str], state: str
) -> None:
    path = tmp_path / "models.toml"
    path.write_text(KEYED.format(field=field, variable="SOME_VAR"))
    with pytest.raises(SettingsError) as caught:
        load_table(make_settings(models_file=str(path)), environ=environ)
    message = str(caught.value)
    # The model, the target (the second one), the field and the variable, on the field's line.
    assert message.startswith(f"MODELS_FILE {path}, line 7: [[models.qwq-32b.targets]] #2: field '{field}'")
    assert f"variable SOME_VAR, which is {state}" in message and "\n" not in message


def test_a_key_list_variable_without_keys_stops_start_up_and_values_never_show(tmp_path: Path) -> None:
    path = tmp_path / "models.toml"
    path.write_text(KEYED.format(field="api_keys_env", variable="KEY_LIST"))
    with pytest.raises(SettingsError, match="KEY_LIST, which holds no key"):
        load_table(make_settings(models_file=str(path)), environ={"KEY_LIST": " , ,"})
    path.write_text(KEYED.format(field="api_key_env", variable="ONE_KEY"))
    with pytest.raises(SettingsError) as caught:
        load_table(make_settings(models_file=str(path)), environ={"ONE_KEY": "   "})
    assert "ONE_KEY, which is empty" in str(caught.value)
    table = load_table(make_settings(models_file=str(path)), environ={"ONE_KEY": "sk-secret"})
    assert table.entries["qwq-32b"].targets[1].keys == ("sk-secret",)
    path.write_text(KEYED.format(field="api_keys_env", variable=""))  # an empty field names nothing
    assert (
        load_table(make_settings(models_file=str(path)), environ={}).entries["qwq-32b"].targets[1].keys == ()
    )
