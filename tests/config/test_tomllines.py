from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_settings
from worker.config.models import load_table
from worker.config.settings import SettingsError
from worker.config.tomllines import locate

SOURCE = """\
[models.qwq-32b]
context_window = 24000

[[models.qwq-32b.targets]]
adapter = "openai"
base_url = "http://a/v1"

[[ models."qwq-32b".targets ]]   # the second target
adapter = "openai"
weight = "heavy"
"""


def test_locates_a_field_of_the_nth_target() -> None:
    message = "[[models.qwq-32b.targets]] #2: field 'weight' must be float, got 'heavy'"
    assert locate(SOURCE, message) == 10


def test_locates_a_model_field_and_falls_back_to_the_header() -> None:
    assert locate(SOURCE, "[models.qwq-32b]: field 'context_window' must be int") == 2
    assert locate(SOURCE, "[[models.qwq-32b.targets]] #1: field 'account_id' is required") == 4
    assert locate(SOURCE, "[[models.qwq-32b.targets]] #1: adapter must be one of [...]") == 5
    assert locate(SOURCE, "model table: a [models.<slug>] section is required") is None


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (SOURCE, "line 10: [[models.qwq-32b.targets]] #2: field 'weight' must be float"),
        (
            '[models.m]\nstrategy = "random"\n[[models.m.targets]]\nadapter = "simulator"\n',
            "line 2: [models.m]: field 'strategy' must be one of",
        ),
        (
            '[models.m]\n[[models.m.targets]]\nadapter = "workers-ai"\nbase_url = "https://x"\n',
            "line 2: [[models.m.targets]] #1: field 'account_id' is required",
        ),
        (
            '[models.m]\n[[models.m.targets]]\nadapter = "openai"\nbase_url = "http://x"\napi_key = "sk-1"\n',
            "line 5: [[models.m.targets]] #1: field 'api_key' is not allowed",
        ),
        (
            '[models.m]\n[[models.m.targets]]\nadapter = "simulator"\nfirst_byte_timeout = -1\n',
            "line 4: [[models.m.targets]] #1: field 'first_byte_timeout' must not be negative",
        ),
    ],
)
def test_start_up_errors_name_the_line_and_field(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "models.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_table(make_settings(models_file=str(path)))
    assert needle in str(info.value) and str(path) in str(info.value)
