"""The one script that writes the generated protobuf code under proto/yiwang/v1.

`python scripts/genproto.py` regenerates the code next to the .proto files;
`python scripts/genproto.py --check` generates into a temporary folder and exits 1, naming the
stale files, when the committed code differs. Nothing else writes *_pb2*.py files.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
PACKAGE_DIR = PROTO_ROOT / "yiwang" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def _plugin(name: str) -> Path:
    """The mypy-protobuf plugin installed beside this interpreter (it may not be on PATH)."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise SystemExit(f"{name} not found next to {sys.executable}: run `make .venv` first")
    return path


def generate(out_root: Path) -> list[Path]:
    """Generate code for every .proto into out_root/yiwang/v1 and return the files written."""
    protos = sorted(PACKAGE_DIR.glob("*.proto"))
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *(str(p.relative_to(PROTO_ROOT)) for p in protos),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed: fix the .proto files named above and run again")
    return sorted(p for p in (out_root / "yiwang" / "v1").iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def committed_files() -> list[Path]:
    return sorted(p for p in PACKAGE_DIR.iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def stale_files() -> list[str]:
    """Names of generated files that differ from, are missing from or are extra in the tree."""
    with tempfile.TemporaryDirectory() as tmp:
        fresh = {p.name: p for p in generate(Path(tmp))}
        current = {p.name: p for p in committed_files()}
        names = sorted(set(fresh) | set(current))
        return [
            n
            for n in names
            if n not in fresh or n not in current or not filecmp.cmp(fresh[n], current[n], shallow=False)
        ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale generated code")
    ns = parser.parse_args()
    if ns.check:
        stale = stale_files()
        if stale:
            print("generated protobuf code is stale: " + ", ".join(stale), file=sys.stderr)
            print("run `python scripts/genproto.py` and commit the result", file=sys.stderr)
            return 1
        print("generated protobuf code is up to date")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate(Path(tmp))  # first, so a failing protoc leaves the committed code alone
        for old in committed_files():
            old.unlink()
        for path in fresh:
            shutil.copy2(path, PACKAGE_DIR / path.name)
            print(f"wrote {(PACKAGE_DIR / path.name).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
