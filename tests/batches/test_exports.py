"""Print packages: streamed from the API, written by the CLI, built on a real RQ worker;
reprints are exact."""

import io
import subprocess
import sys
import zipfile
from pathlib import Path

from rq import SimpleWorker

from server.app import create_app
from tests.conftest import make_config

CODELOOP = str(Path(sys.executable).with_name("codeloop"))


def _batch(client, auth, catalogue, quantity=2500, paired=False):
    body = {
        "product_id": catalogue["product"],
        "campaign_id": catalogue["campaign"],
        "quantity": quantity,
        "paired": paired,
    }
    return client.post("/api/v1/batches", json=body, headers=auth).get_json()


def test_codes_csv_streams_codes_that_verify(app, client, auth, catalogue):
    made = _batch(client, auth, catalogue)
    response = client.get(f"/api/v1/batches/{made['id']}/codes.csv?from=10&to=20", headers=auth)
    assert response.status_code == 200 and response.is_streamed
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "seq,serial,code,url" and len(lines) == 11
    seq, serial, code, url = lines[1].split(",")
    decoded = app.extensions["codeloop"].codec.decode(code)
    assert (seq, serial, decoded.batch, decoded.serial) == ("11", "10", made["id"], 10)
    assert url == f"HTTPS://Q.EXAMPLE.CN/S/{code}"
    assert client.get(f"/api/v1/batches/{made['id']}/codes.csv?to=99999", headers=auth).status_code == 400


def test_package_zip_equals_the_cli_export_and_reprints_are_exact(client, auth, catalogue, cli_env, tmp_path):
    made = _batch(client, auth, catalogue, paired=True)
    zipped = client.get(f"/api/v1/batches/{made['id']}/package.zip?roll_size=1000", headers=auth)
    assert zipped.status_code == 200 and zipped.is_streamed
    archive = zipfile.ZipFile(io.BytesIO(zipped.data))
    names = set(archive.namelist())
    assert {"roll-00001.csv", "roll-00003.csv", "manifest.json", "SHA256SUMS", "proof.svg"} <= names
    assert (
        archive.read("roll-00001.csv").decode().splitlines()[0] == "seq,serial,code,url,inner_code,inner_url"
    )
    cli_env["CODELOOP_PUBLIC_URL"] = "https://q.example.cn"
    for out in ("a", "b"):
        result = subprocess.run(
            [
                CODELOOP,
                "batch",
                "export",
                str(made["id"]),
                "--out",
                str(tmp_path / out),
                "--roll-size",
                "1000",
            ],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
    for name in ("roll-00001.csv", "roll-00002.csv", "roll-00003.csv", "SHA256SUMS"):
        assert (
            (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes() == archive.read(name)
        )
    check = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=tmp_path / "a", capture_output=True, text=True
    )
    assert check.returncode == 0 and check.stdout.count(": OK") == len(list((tmp_path / "a").iterdir())) - 1


def test_images_zip_for_small_batches_only(client, auth, catalogue):
    small = _batch(client, auth, catalogue, quantity=12)
    archive = zipfile.ZipFile(
        io.BytesIO(client.get(f"/api/v1/batches/{small['id']}/images.zip?format=svg", headers=auth).data)
    )
    assert len(archive.namelist()) == 12 and all(n.endswith(".svg") for n in archive.namelist())
    big = _batch(client, auth, catalogue, quantity=10_001)
    refused = client.get(f"/api/v1/batches/{big['id']}/images.zip", headers=auth)
    assert refused.status_code == 400 and "10,000" in refused.get_json()["error"]["message"]


def test_images_zip_png_has_one_decodable_png_per_code(client, auth, catalogue):
    import zxingcpp
    from PIL import Image

    small = _batch(client, auth, catalogue, quantity=5)
    response = client.get(f"/api/v1/batches/{small['id']}/images.zip?format=png", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    names = sorted(archive.namelist())
    assert len(names) == 5 and all(n.endswith(".png") for n in names)
    for name in names:
        image = Image.open(io.BytesIO(archive.read(name)))
        assert image.format == "PNG"
        (decoded,) = zxingcpp.read_barcodes(image)
        assert decoded.text.endswith("/S/" + name.removesuffix(".png").split("-", 1)[1])


def test_export_on_a_real_worker_reports_progress(database_url, tmp_path, redis_url, catalogue, auth):
    app = create_app(make_config(database_url, tmp_path, redis_url=redis_url))
    client = app.test_client()
    made = _batch(client, auth, catalogue, quantity=3000)
    queued = client.post(f"/api/v1/batches/{made['id']}/exports", json={"roll_size": 1000}, headers=auth)
    assert queued.status_code == 202 and queued.get_json()["status"] == "queued"
    export_url = f"/api/v1/batches/{made['id']}/exports/{queued.get_json()['id']}"
    assert client.get(f"{export_url}/package.zip", headers=auth).status_code == 404  # not finished yet
    queues = app.extensions["codeloop"].queues
    SimpleWorker(queues.pick(), connection=queues.connection).work(burst=True)
    status = client.get(export_url, headers=auth).get_json()
    assert status["status"] == "done" and status["done_count"] == 3000
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"{export_url}/package.zip", headers=auth).data))
    assert {
        "roll-00001.csv",
        "roll-00002.csv",
        "roll-00003.csv",
        "manifest.json",
        "SHA256SUMS",
        "proof.svg",
    } == set(archive.namelist())
    from workers.exports import run_export

    assert run_export(queued.get_json()["id"]) is None  # a finished export is not redone


def test_cli_batch_commands(cli_env, catalogue, tmp_path):
    def run(*args):
        return subprocess.run([CODELOOP, *args], env=cli_env, capture_output=True, text=True, timeout=120)

    made = run(
        "batch",
        "create",
        "--product",
        str(catalogue["product"]),
        "--campaign",
        str(catalogue["campaign"]),
        "--quantity",
        "500",
    )
    assert made.returncode == 0 and "created batch 1: 500 codes" in made.stdout, made.stderr
    assert run("batch", "activate", "1", "--first", "0", "--last", "99", "--region", "上海市").returncode == 0
    overlap = run("batch", "activate", "1", "--first", "50", "--last", "150")
    assert overlap.returncode == 1 and "overlap" in overlap.stderr and "Traceback" not in overlap.stderr
    assert run("batch", "blacklist", "1", "--first", "0", "--last", "9", "--reason", "leaked").returncode == 0
    over = run(
        "batch",
        "create",
        "--product",
        str(catalogue["product"]),
        "--campaign",
        str(catalogue["campaign"]),
        "--quantity",
        "100000001",
    )
    assert over.returncode == 1 and "quantity must be a whole number from 1 to 100,000,000" in over.stderr
    unknown = run("batch", "export", "77", "--out", str(tmp_path / "x"))
    assert unknown.returncode == 1 and "NOT_FOUND" in unknown.stderr
