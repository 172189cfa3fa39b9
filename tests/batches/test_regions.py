"""Intended regions at activation are checked against the one region list and stored canonical: through the
API, the admin page and the CLI; a typo is refused with the list's nearest names in zh-CN and en."""

from __future__ import annotations

import subprocess

from sqlalchemy import func, select

from server.models import BatchRange
from server.regions import regions
from tests.batches.test_admin_pages import _signed_in, _token
from tests.batches.test_batches import _batch
from tests.jobs.helpers import CODELOOP


def test_spellings_resolve_to_the_canonical_name():
    found = regions()
    for spelling, canonical in [
        ("上海", "上海市"),
        ("Shanghai", "上海市"),
        ("广西", "广西壮族自治区"),
        ("Guangxi Zhuangzu Zizhiqu", "广西壮族自治区"),
        ("Xinjiang Uygur Zizhiqu", "新疆维吾尔自治区"),
        ("Nei Mongol", "内蒙古自治区"),
        ("香港", "香港特别行政区"),
        ("Hong Kong", "香港特别行政区"),
        ("闽", "福建省"),
        ("Shaanxi", "陕西省"),
        ("Shanxi", "山西省"),
        ("440000", "广东省"),
        ("广东省", "广东省"),
    ]:
        assert found.province(spelling).name == canonical, spelling
    jiangsu, anhui = found.province("江苏"), found.province("安徽")
    assert found.city("南京").name == "南京市" and found.city("Nanjing").name == "南京市"
    assert found.city("Suzhou") is None  # two cities share the name: the province decides
    assert found.city("Suzhou", jiangsu).name == "苏州市" and found.city("Suzhou", anhui).name == "宿州市"
    assert found.city("余姚", found.province("浙江")).name == "宁波市"  # a county-level city finds its city
    assert found.city("Ürümqi", found.province("新疆")).name == "乌鲁木齐市"
    assert found.city("恩施").name == "恩施土家族苗族自治州"
    assert found.own_city(found.province("北京")).name == "北京市"
    assert len(found.provinces) == 34 and all(r.code.isdigit() and len(r.code) == 6 for r in found.all)


def test_activation_regions_are_stored_canonical(client, auth, catalogue, sessions):
    made = _batch(client, auth, catalogue)
    body = {"first_serial": 0, "last_serial": 9, "regions": ["上海", "Jiangsu", "南京", "江苏省"]}
    assert client.post(f"/api/v1/batches/{made['id']}/activate", json=body, headers=auth).status_code == 201
    with sessions() as s:
        assert s.execute(select(BatchRange.regions)).scalar_one() == ["上海市", "江苏省", "南京市"]


def test_a_typo_is_refused_with_the_nearest_names(client, auth, catalogue, sessions):
    made = _batch(client, auth, catalogue)
    url = f"/api/v1/batches/{made['id']}/activate"
    body = {"first_serial": 0, "last_serial": 9, "regions": ["上海市", "江苏生"]}
    zh = client.post(url, json=body, headers={**auth, "Accept-Language": "zh-CN"})
    assert zh.status_code == 400
    error = zh.get_json()["error"]
    assert error["code"] == "VALIDATION_FAILED" and "江苏省" in error["details"]["nearest"]
    assert "未知的销售区域「江苏生」" in error["message"] and "江苏省" in error["message"]
    en = client.post(url, json={**body, "regions": ["Shangai"]}, headers={**auth, "Accept-Language": "en"})
    assert "unknown region 'Shangai'; did you mean 上海市" in en.get_json()["error"]["message"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(BatchRange)) == 0  # nothing changed


def test_the_admin_page_and_the_cli_check_regions_too(app, sessions, catalogue, cli_env, auth):
    made = _batch(app.test_client(), auth, catalogue)
    client = _signed_in(app, sessions)
    detail_url = f"/admin/batches/{made['id']}"
    form = {"kind": "activate", "first_serial": "0", "last_serial": "9", "regions": "上海，江苏生",
            "csrf_token": _token(client, detail_url)}  # fmt: skip
    refused = client.post(
        f"{detail_url}/ranges", data=form, follow_redirects=True, headers={"Accept-Language": "zh-CN"}
    )
    assert "未知的销售区域「江苏生」" in refused.get_data(as_text=True)
    cli = subprocess.run(
        [CODELOOP, "batch", "activate", str(made["id"]), "--first", "10", "--last", "19", "--region",
         "Guangdon"],
        env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 1 and "unknown region 'Guangdon'; did you mean 广东省" in cli.stderr
    ok = subprocess.run(
        [CODELOOP, "batch", "activate", str(made["id"]), "--first", "10", "--last", "19", "--region",
         "Guangdong"],
        env=cli_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    with sessions() as s:
        assert s.execute(select(BatchRange.regions)).scalar_one() == ["广东省"]
