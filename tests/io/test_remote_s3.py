"""Masks in object storage, counted against a real S3 server (moto's server mode, in this process):
the counts of a bucket prefix equal those of the same files on a local disk; the command line;
resume after an interruption; the cache and checkpoints know objects by ETag; the errors of a
missing bucket or object, denied access and a corrupt object name the s3:// URL."""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from helpers import stop_after

import fastweights
from fastweights import Counts
from fastweights.base._optional import MissingDependency
from fastweights.cli import main
from fastweights.engine import run
from fastweights.errors import InputError, Interrupted

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")
pytest.importorskip("s3fs")
requests = pytest.importorskip("requests")
Image = pytest.importorskip("PIL.Image")

BUCKET = "masks"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


class Server:
    def __init__(self, endpoint: str, local: Path) -> None:
        self.endpoint, self.local = endpoint, local
        self.client = boto3.client("s3", endpoint_url=endpoint, **CREDENTIALS)

    def options(self, key: str = "testing", secret: str = "testing") -> dict[str, Any]:
        client = {"endpoint_url": self.endpoint, "region_name": "us-east-1"}
        return {"key": key, "secret": secret, "client_kwargs": client}

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=key, Body=data)

    @contextmanager
    def authenticating(self) -> Iterator[None]:
        """moto checks credentials and IAM policies while this lasts (it accepts anything otherwise)."""
        requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"0").raise_for_status()
        try:
            yield
        finally:
            requests.post(f"{self.endpoint}/moto-api/reset-auth", data=b"inf").raise_for_status()


def write_data_set(folder: Path) -> None:
    """PNG (gray, palette, 16-bit) and .npy masks in two levels, with a hidden file and a non-mask
    that a folder's listing leaves out."""
    rng = np.random.default_rng(7)
    for index in range(24):
        mask = rng.integers(0, 6, (20, 28)).astype(np.uint8)
        mask[0, :2] = 255
        where = folder / ("sub" if index % 3 == 0 else "") / f"m_{index:03d}"
        where.parent.mkdir(parents=True, exist_ok=True)
        if index % 4 == 0:
            np.save(f"{where}.npy", mask.astype(np.uint16) if index % 8 == 0 else mask)
        elif index % 4 == 1:
            image = Image.fromarray(mask)
            image.putpalette([value for level in range(256) for value in (level, 0, 0)])
            image.save(f"{where}.png")
        elif index % 4 == 2:
            Image.fromarray(mask.astype(np.uint16)).save(f"{where}.png")  # 16-bit gray
        else:
            Image.fromarray(mask).save(f"{where}.png")
    (folder / ".hidden.png").write_bytes(b"not counted")
    (folder / "README.txt").write_text("not a mask")


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        local = tmp_path_factory.mktemp("local") / "masks"
        write_data_set(local)
        s3 = Server(f"http://{host}:{port}", local)
        s3.client.create_bucket(Bucket=BUCKET)
        for path in sorted(local.rglob("*")):
            if path.is_file():
                s3.put(f"set/{path.relative_to(local).as_posix()}", path.read_bytes())
        yield s3
    finally:
        server.stop()


def assert_same_counts(remote: Counts, local: Counts, url: str, folder: Path) -> None:
    """Every statistic equal; the sources the same objects, in the same order."""
    assert remote.sources == tuple(url + Path(name).relative_to(folder).as_posix() for name in local.sources)
    assert remote.num_classes == local.num_classes
    for name in ("pixels", "images", "image_pixels"):
        np.testing.assert_array_equal(getattr(remote, name), getattr(local, name))
    assert (remote.n_images, remote.n_pixels, remote.ignored) == (local.n_images, local.n_pixels, local.ignored)
    if local.per_image is None:
        assert remote.per_image is None
    else:
        assert remote.per_image is not None
        np.testing.assert_array_equal(remote.per_image, local.per_image)


@pytest.mark.parametrize("threads", [1, 2])
def test_a_prefix_counts_as_the_same_local_folder(s3: Server, threads: int) -> None:
    local = fastweights.count(s3.local, ignore_index=255, per_image=True, threads=threads)
    url = f"s3://{BUCKET}/set/"
    remote = fastweights.count(url, ignore_index=255, per_image=True, threads=threads, storage_options=s3.options())
    assert remote.n_images == 24
    assert_same_counts(remote, local, url, s3.local)
    assert "testing" not in json.dumps(remote.to_dict())  # the credentials are never saved


def test_objects_globs_and_a_prefix_without_its_slash(s3: Server) -> None:
    options: dict[str, Any] = {"storage_options": s3.options(), "ignore_index": 255}
    one = fastweights.count(f"s3://{BUCKET}/set/m_001.png", **options)
    local = fastweights.count(s3.local / "m_001.png", ignore_index=255)
    assert_same_counts(one, local, f"s3://{BUCKET}/set/", s3.local)
    pattern = fastweights.count(f"s3://{BUCKET}/set/sub/*.npy", **options)
    assert pattern.sources == (f"s3://{BUCKET}/set/sub/m_000.npy", f"s3://{BUCKET}/set/sub/m_012.npy")
    whole = fastweights.count(f"s3://{BUCKET}/set", **options)
    assert whole.n_images == 24
    # The same object named twice counts once, as a local file does.
    twice = fastweights.count([f"s3://{BUCKET}/set/sub/", f"s3://{BUCKET}/set/sub/m_000.npy"], **options)
    assert twice.n_images == 8


def test_slices_big_objects_and_shards_count_as_local_files(s3: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"s3://{BUCKET}/set/"
    options: dict[str, Any] = {"ignore_index": 255, "per_image": True}
    remote: dict[str, Any] = {"storage_options": s3.options(), **options}
    # Each row its own image: read through RemoteInput.images, not the batch path.
    sliced = fastweights.count(f"{url}sub/", stack_axis=0, **remote)
    assert sliced.n_images == 8 * 20
    assert_same_counts(sliced, fastweights.count(s3.local / "sub", stack_axis=0, **options), url, s3.local)
    shard = fastweights.count(url, shard="1/3", **remote)
    assert 0 < shard.n_images < 24
    assert_same_counts(shard, fastweights.count(s3.local, shard="1/3", **options), url, s3.local)
    monkeypatch.setattr(run, "CHUNK_BYTES", 0)  # every object a big input, counted on the calling thread
    assert_same_counts(fastweights.count(url, **remote), fastweights.count(s3.local, **options), url, s3.local)


def test_a_dask_cluster_reads_the_objects_of_its_tasks(s3: Server) -> None:
    distributed = pytest.importorskip("distributed")
    url = f"s3://{BUCKET}/set/"
    with distributed.Client(processes=False, n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
        remote = fastweights.count(url, ignore_index=255, client=client, storage_options=s3.options())
    assert remote.params["dask"]["tasks"] > 1
    assert_same_counts(remote, fastweights.count(s3.local, ignore_index=255), url, s3.local)


def test_an_http_folder_counts_as_the_local_one(s3: Server) -> None:
    """An http(s) page of links is a prefix too; its objects' sizes come from one request each."""
    pytest.importorskip("aiohttp")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as aiohttp's pooled connections expect

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(s3.local)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sub/"
        remote = fastweights.count(url, ignore_index=255, per_image=True)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    local = fastweights.count(s3.local / "sub", ignore_index=255, per_image=True)
    assert_same_counts(remote, local, url, s3.local / "sub")


def test_the_command_line_with_storage_options(s3: Server, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["count", str(s3.local), "--ignore-index", "255", "--format", "json", "-q"]) == 0
    local = json.loads(capsys.readouterr().out)
    argv = ["count", f"s3://{BUCKET}/set/", "--ignore-index", "255", "--format", "json", "-q"]
    argv += ["--storage-option", "key=testing", "--storage-option", "secret=testing"]
    client = {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}
    argv += ["--storage-option", f"client_kwargs={json.dumps(client)}"]
    assert main(argv) == 0
    remote = json.loads(capsys.readouterr().out)
    for key in ("pixels", "images", "image_pixels", "n_images", "n_pixels", "ignored", "weights"):
        assert remote[key] == local[key]
    assert remote["sources"][0] == f"s3://{BUCKET}/set/m_001.png"
    with pytest.raises(SystemExit) as usage:
        main(["count", f"s3://{BUCKET}/set/", "--storage-option", "key"])
    assert usage.value.code == 2 and "'key': expected KEY=VALUE" in capsys.readouterr().err


def test_an_interrupted_count_resumes_from_its_checkpoint(s3: Server, tmp_path: Path) -> None:
    url = f"s3://{BUCKET}/set/"
    state = tmp_path / "state.json"
    options: dict[str, Any] = {"ignore_index": 255, "per_image": True, "threads": 1, "storage_options": s3.options()}
    full = fastweights.count(url, **options)
    with pytest.raises(Interrupted):
        fastweights.count(url, checkpoint=state, checkpoint_every=1e-9, progress=stop_after(5), **options)
    saved = json.loads(state.read_text())
    done = len(saved["state"]["inputs"])
    assert 5 <= done < 24
    assert saved["state"]["inputs"][0]["stamp"][1].startswith("etag:")
    assert "testing" not in state.read_text()
    resumed = fastweights.count(url, checkpoint=state, **options)
    assert resumed == full and resumed.params["resumed"] == done and not state.exists()


def test_a_changed_object_is_refused_on_resume_and_counted_again_by_the_cache(s3: Server, tmp_path: Path) -> None:
    for index in range(6):
        s3.put(f"changing/{index}.npy", _npy(np.full((4, 4), index, np.uint8)))
    url, options = f"s3://{BUCKET}/changing/", s3.options()
    cache = tmp_path / "cache.sqlite"
    first = fastweights.count(url, cache=cache, storage_options=options)
    assert first.params["cache"] == {"reused": 0, "counted": 6}
    again = fastweights.count(url, cache=cache, storage_options=options)
    assert again == first and again.params["cache"] == {"reused": 6, "counted": 0}

    state = tmp_path / "state.json"
    with pytest.raises(Interrupted):
        fastweights.count(url, threads=1, checkpoint=state, progress=stop_after(1), storage_options=options)
    # The same size, other content: only the ETag tells.
    s3.put("changing/0.npy", _npy(np.full((4, 4), 9, np.uint8)))
    with pytest.raises(ValueError, match=rf"s3://{BUCKET}/changing/0\.npy: changed since the checkpoint.*ETag"):
        fastweights.count(url, threads=1, checkpoint=state, storage_options=options)

    changed = fastweights.count(url, cache=cache, storage_options=options)
    assert changed.params["cache"] == {"reused": 5, "counted": 1}
    assert changed.pixels[9] == 16 and changed.pixels[0] == 0


def test_a_missing_bucket_prefix_or_object_is_named(s3: Server) -> None:
    options = s3.options()
    with pytest.raises(FileNotFoundError, match=r"s3://no-such-bucket/x/: .*bucket does not exist"):
        fastweights.count("s3://no-such-bucket/x/", storage_options=options)
    with pytest.raises(FileNotFoundError, match=rf"s3://{BUCKET}/nothing/: no such object or prefix"):
        fastweights.count(f"s3://{BUCKET}/nothing/", storage_options=options)
    with pytest.raises(FileNotFoundError, match=rf"s3://{BUCKET}/set/\*\.tif: no object matches"):
        fastweights.count(f"s3://{BUCKET}/set/*.tif", storage_options=options)
    with pytest.raises(InputError, match=rf"s3://{BUCKET}/set/README\.txt: unknown extension"):
        fastweights.count(f"s3://{BUCKET}/set/README.txt", storage_options=options)
    s3.put("tiff/a.tif", b"II*\x00")
    with pytest.raises(InputError, match=rf"s3://{BUCKET}/tiff/a\.tif: \.tif masks are read from local files only"):
        fastweights.count(f"s3://{BUCKET}/tiff/", storage_options=options)
    s3.put("empty/a.npy", b"")
    with pytest.raises(InputError, match=rf"s3://{BUCKET}/empty/a\.npy: 0-byte file"):
        fastweights.count(f"s3://{BUCKET}/empty/", storage_options=options)


def test_a_corrupt_object_is_named_and_can_be_skipped(s3: Server) -> None:
    good = (s3.local / "m_001.png").read_bytes()
    s3.put("corrupt/a.png", good)
    s3.put("corrupt/b.png", good[:-30] + bytes(30))  # damaged image data
    s3.put("corrupt/c.npy", b"\x93NUMPY\x01\x00garbage")
    url = f"s3://{BUCKET}/corrupt/"
    options: dict[str, Any] = {"storage_options": s3.options(), "ignore_index": 255}
    with pytest.raises(InputError, match=rf"s3://{BUCKET}/corrupt/b\.png: "):
        fastweights.count(url, **options)
    with pytest.warns(UserWarning, match="skipped 2 of 3"):
        skipped = fastweights.count(url, on_error="skip", **options)
    assert skipped.n_images == 1
    assert [name for name, _ in skipped.errors] == [f"s3://{BUCKET}/corrupt/b.png", f"s3://{BUCKET}/corrupt/c.npy"]
    assert ".npy" in skipped.errors[1][1]


def test_denied_access_is_named(s3: Server) -> None:
    s3.put("private/ok.npy", _npy(np.zeros((2, 2), np.uint8)))
    s3.put("private/secret/no.npy", _npy(np.ones((2, 2), np.uint8)))
    iam = boto3.client("iam", endpoint_url=s3.endpoint, **CREDENTIALS)
    iam.create_user(UserName="reader")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            # s3:List*: moto 5.2 checks a listing against "s3:ListObjectsV2", AWS against "s3:ListBucket"
            {"Effect": "Allow", "Action": ["s3:List*", "s3:GetObject"], "Resource": "*"},
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{BUCKET}/private/secret/*"},
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="read", PolicyDocument=json.dumps(policy))
    access = iam.create_access_key(UserName="reader")["AccessKey"]
    url = f"s3://{BUCKET}/private/"
    with s3.authenticating():
        with pytest.raises(PermissionError, match=rf"{url}: access denied when listing it"):
            fastweights.count(url, storage_options=s3.options("unknown-key", "unknown-secret"))
        reader = s3.options(access["AccessKeyId"], access["SecretAccessKey"])
        with pytest.raises(InputError, match=rf"{url}secret/no\.npy: cannot be read: access denied"):
            fastweights.count(url, storage_options=reader)
        assert fastweights.count(f"{url}ok.npy", storage_options=reader).n_pixels == 4


def test_a_missing_fsspec_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "fsspec", None)
    with pytest.raises(MissingDependency, match=r's3://b/x/.*pip install "fastweights\[remote\]"'):
        fastweights.count("s3://b/x/")
    with pytest.raises(TypeError, match="storage_options"):
        fastweights.count(tmp_path, storage_options=["anon"])  # type: ignore[arg-type]


def test_a_protocol_without_its_package_or_unknown_is_named() -> None:
    with pytest.raises(ValueError, match=r"nosuch://x/y: Protocol not known"):
        fastweights.count("nosuch://x/y")
    if importlib.util.find_spec("gcsfs") is not None:
        pytest.skip("gcsfs is installed: gs:// has its package here")
    with pytest.raises(MissingDependency, match=r"gs://b/x/: .*gcsfs.*pip install"):
        fastweights.count("gs://b/x/")


def _npy(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()
