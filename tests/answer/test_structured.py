"""Structured output checks: schemas compiled once, clear mismatches, bad schemas are the client's 400."""

from __future__ import annotations

import pytest

from worker.answer.structured import StructuredOutputMismatch, check_answer, compile_schema
from worker.core.errors import BadRequest

SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


def test_same_schema_is_compiled_once() -> None:
    reordered = {"required": ["n"], "properties": {"n": {"type": "integer"}}, "type": "object"}
    assert compile_schema(SCHEMA) is compile_schema(dict(SCHEMA)) is compile_schema(reordered)


def test_fitting_answer_passes() -> None:
    assert check_answer(compile_schema(SCHEMA), '{"n": 3}', cut_off=False) is None


def test_mismatch_names_the_place() -> None:
    error = check_answer(compile_schema(SCHEMA), '{"n": "three"}', cut_off=False)
    assert isinstance(error, StructuredOutputMismatch)
    assert error.status == 500 and error.code == "structured_output_mismatch"
    assert "at /n" in error.message and error.detail == [
        {"path": "/n", "message": error.detail[0]["message"]}
    ]


def test_invalid_json_and_cut_off_say_so() -> None:
    broken = check_answer(compile_schema(SCHEMA), '{"n": ', cut_off=False)
    assert broken is not None and broken.status == 500 and "not valid JSON" in broken.message
    cut = check_answer(compile_schema(SCHEMA), '{"n": ', cut_off=True)
    assert cut is not None and cut.status == 400 and cut.code == "max_tokens_too_small"
    assert "max_tokens" in cut.message


def test_invalid_schema_is_a_400() -> None:
    with pytest.raises(BadRequest, match="guided_json is not a valid JSON schema"):
        compile_schema({"type": 12})


def test_a_mismatch_names_the_field_the_client_gave_the_schema_in() -> None:
    error = check_answer(compile_schema(SCHEMA), '{"n": "three"}', cut_off=False, field="response_format")
    assert error is not None and "the response_format schema at /n" in error.message
    default = check_answer(compile_schema(SCHEMA), '{"n": "three"}', cut_off=False)
    assert default is not None and "the guided_json schema" in default.message


def test_a_broken_schema_is_named_by_its_field() -> None:
    with pytest.raises(BadRequest) as refused:
        compile_schema({"type": 12}, "response_format")
    assert "/response_format is not a valid JSON schema" in refused.value.message
