"""The committed generated code matches the .proto files, and the check notices when not."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def _genproto() -> ModuleType:
    spec = importlib.util.spec_from_file_location("genproto", ROOT / "scripts" / "genproto.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["genproto"] = module
    spec.loader.exec_module(module)
    return module


def test_generated_code_is_up_to_date() -> None:
    stale = _genproto().stale_files()
    assert stale == [], f"run `python scripts/genproto.py`: stale {stale}"


def test_the_check_notices_a_changed_proto(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gen = _genproto()
    copy = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", copy)
    target = copy / "yiwang" / "v1" / "log.proto"
    target.write_text(target.read_text(encoding="utf-8") + "\nmessage Extra { string x = 1; }\n", encoding="utf-8")
    monkeypatch.setattr(gen, "PROTO_ROOT", copy)
    monkeypatch.setattr(gen, "PACKAGE_DIR", copy / "yiwang" / "v1")
    assert "log_pb2.py" in gen.stale_files()


def test_every_rpc_of_node_service_is_in_the_contract() -> None:
    from yiwang.v1 import node_service_pb2

    service = node_service_pb2.DESCRIPTOR.services_by_name["NodeService"]
    assert sorted(m.name for m in service.methods) == [
        "ActOnCase",
        "AnswerReview",
        "FileCase",
        "GetCase",
        "GetHeads",
        "GetItem",
        "GetStats",
        "ListCases",
        "ListItems",
        "ListReviews",
    ]
