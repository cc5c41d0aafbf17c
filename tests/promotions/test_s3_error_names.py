"""The S3 error names a fault may use: mocksrv's own S3 errors and every code moto's S3 raises,
each rendered in S3's XML with the status moto gives it (seen by boto3 over HTTP)."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from botocore.exceptions import ClientError

from mocksrv.services.promotions import exceptions as exc
from tests.support.promotions import DEVO, NEW, s3_client


def _moto_codes_from_source() -> set[str]:
    """The wire codes in moto's s3/exceptions.py, read from its source (not by importing it): a
    class-level `code = "X"`, or `super().__init__("X", message)` where that `__init__` is
    ServiceException's (code first), not one of the module's own classes."""
    spec = importlib.util.find_spec("moto.s3.exceptions")
    assert spec is not None and spec.origin is not None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}

    def own_init(cls: ast.ClassDef) -> bool:
        return any(isinstance(n, ast.FunctionDef) and n.name == "__init__" for n in cls.body)

    def code_first(cls: ast.ClassDef) -> bool:
        """Whether super().__init__ in cls reaches ServiceException.__init__(code, message)."""
        base = getattr(cls.bases[0], "id", None) if cls.bases else None
        while base in classes and not own_init(classes[base]):
            base = getattr(classes[base].bases[0], "id", None)
        return base not in classes

    codes = set()
    for cls in classes.values():
        for node in ast.walk(cls):
            if (
                isinstance(node, ast.Assign)
                and [getattr(t, "id", None) for t in node.targets] == ["code"]
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                codes.add(node.value.value)
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "__init__"
                and isinstance(node.func.value, ast.Call)
                and getattr(node.func.value.func, "id", None) == "super"
                and len(node.args) == 2
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and code_first(cls)
            ):
                codes.add(node.args[0].value)
    return codes


def _own_names() -> set[str]:
    return {
        name
        for name, cls in vars(exc).items()
        if isinstance(cls, type) and issubclass(cls, exc.S3Error) and cls is not exc.S3Error
    }


def test_names_are_moto_s3_codes_and_mocksrvs_own():
    moto = _moto_codes_from_source()
    assert {"NoSuchBucket", "NoSuchKey", "InvalidBucketName", "BucketNotEmpty"} <= moto
    assert set(exc.ERRORS) == moto | _own_names()
    assert len(moto) >= 40  # moto 5.x raises 48 distinct S3 codes


def test_mocksrvs_own_classes_win_and_every_name_renders_itself():
    for name in _own_names():
        assert exc.ERRORS[name] is getattr(exc, name)
    for name, cls in exc.ERRORS.items():
        err = cls()
        assert err.error_code == name and err.message, name
        assert f"<Code>{name}</Code>".encode() in err.to_xml("r-1")


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("NoSuchBucket", 404),
        ("NoSuchKey", 404),
        ("BucketAlreadyExists", 409),
        ("PreconditionFailed", 412),
        ("InvalidRange", 416),
        ("MethodNotAllowed", 405),
        ("InvalidObjectState", 403),
        ("InvalidBucketName", 400),
    ],
)
def test_status_is_the_one_moto_answers_with(name, status):
    assert exc.ERRORS[name].status == status


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory()


@pytest.mark.parametrize(
    ("name", "status", "message"),
    [
        ("NoSuchBucket", 404, "The specified bucket does not exist"),
        ("InvalidBucketName", 400, "The specified bucket is not valid."),
        ("AuthorizationQueryParametersError", 400, exc.AuthorizationQueryParametersError.message),
        ("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size"),
        ("BucketNotEmpty", 409, "The bucket you tried to delete is not empty"),
        ("SlowDown", 503, "Please reduce your request rate."),
    ],
)
def test_fault_added_over_the_admin_api_reaches_boto3(server, name, status, message):
    fault = {"match": {"api": "s3", "operation": "ListObjectsV2"}, "error": name, "times": 1}
    added = requests.post(f"{server.url}/__admin/faults", json=fault, timeout=5)
    assert added.status_code in (200, 201), added.text
    s3 = s3_client(server.url)
    try:
        with pytest.raises(ClientError) as info:
            s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)
        error, meta = info.value.response["Error"], info.value.response["ResponseMetadata"]
        assert (error["Code"], error["Message"], meta["HTTPStatusCode"]) == (name, message, status)
        assert (
            s3.list_objects_v2(Bucket=DEVO, Prefix=NEW)["ResponseMetadata"]["HTTPStatusCode"] == 200
        )
    finally:
        requests.delete(f"{server.url}/__admin/faults", timeout=5)


def test_unknown_name_is_refused_with_the_known_ones(server):
    fault = {"match": {"api": "s3"}, "error": "NoSuchBuckett"}
    r = requests.post(f"{server.url}/__admin/faults", json=fault, timeout=5)
    assert r.status_code == 400
    assert "'NoSuchBuckett' is not a promotions wire error" in r.text and "NoSuchBucket," in r.text


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_moto_is_imported_only_for_a_fault_naming_an_s3_error(tmp_path):
    agcod = tmp_path / "agcod.yaml"
    agcod.write_text("version: 1\nfaults:\n  - match: {api: agcod}\n    error: InsufficientFunds\n")
    s3 = tmp_path / "s3.yaml"
    s3.write_text("version: 1\nfaults:\n  - match: {api: s3}\n    error: NoSuchBucket\n")
    code = (
        "import sys\n"
        "from mocksrv.app import create_app\n"
        "from mocksrv.registry import load_files\n"
        "from mocksrv.settings import Settings\n"
        "create_app(Settings(port=0), load_files(['default', sys.argv[1]]))\n"
        "print('moto' in sys.modules)\n"
    )
    assert _run(code.replace("sys.argv[1]", repr(str(agcod)))) == "False"
    assert _run(code.replace("sys.argv[1]", repr(str(s3)))) == "True"
