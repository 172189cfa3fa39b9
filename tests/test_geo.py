"""GeoIP with the real data: the bundled GeoLite2 City file (default provider) and the ip2region xdb the
XdbSearchIP package ships (the `ip2region` provider), both giving the canonical names of server/regions.py."""

from __future__ import annotations

import pytest

from server.config import Config, ConfigError
from server.geo import make_geo

BEIJING, SHANGHAI, SHENZHEN, NANJING = "180.76.76.76", "101.226.4.6", "202.96.134.133", "114.114.114.114"
HONG_KONG, FOREIGN, UNKNOWN = "202.14.67.4", "8.8.8.8", "2.56.0.1"
PRIVATE = ("10.0.0.1", "192.168.1.10", "172.16.5.5", "127.0.0.1", "::1", "fe80::1", "100.64.0.1")
MALFORMED = ("not-an-ip", "999.1.2.3", "1.2.3", "", None)

# Provincial telecom operators' public DNS resolvers: the province each serves is the operator's own
# documentation; the city is where the resolver is documented (the provincial capital or the named city).
# The evaluation in docs/geoip.md is this table.
RESOLVERS = {
    "202.96.134.133": ("广东省", "深圳市"), "202.96.128.86": ("广东省", "广州市"),
    "202.96.209.133": ("上海市", "上海市"), "202.106.0.20": ("北京市", "北京市"),
    "61.139.2.69": ("四川省", "成都市"), "202.103.24.68": ("湖北省", "武汉市"),
    "61.128.128.68": ("重庆市", "重庆市"), "202.101.172.35": ("浙江省", "杭州市"),
    "202.99.96.68": ("天津市", "天津市"), "222.172.200.68": ("云南省", "昆明市"),
    "202.100.64.68": ("甘肃省", "兰州市"), "202.102.152.3": ("山东省", "济南市"),
    "222.246.129.80": ("湖南省", "长沙市"), "202.103.225.68": ("广西壮族自治区", "南宁市"),
    "202.100.192.68": ("海南省", "海口市"), "202.98.192.67": ("贵州省", "贵阳市"),
    "61.134.1.4": ("陕西省", "西安市"), "202.100.96.68": ("宁夏回族自治区", "银川市"),
    "218.2.2.2": ("江苏省", "南京市"), "202.96.64.68": ("辽宁省", "沈阳市"),
    "202.101.224.68": ("江西省", "南昌市"), "202.102.192.68": ("安徽省", "合肥市"),
    "218.85.152.99": ("福建省", "福州市"), "202.99.160.68": ("河北省", "石家庄市"),
    "202.99.192.66": ("山西省", "太原市"), "202.98.0.68": ("吉林省", "长春市"),
    "202.97.224.68": ("黑龙江省", "哈尔滨市"), "202.99.224.68": ("内蒙古自治区", "呼和浩特市"),
    "202.100.128.68": ("青海省", "西宁市"), "61.128.114.166": ("新疆维吾尔自治区", "乌鲁木齐市"),
    "202.98.224.68": ("西藏自治区", "拉萨市"), "222.85.85.85": ("河南省", "郑州市"),
}  # fmt: skip


@pytest.fixture(scope="module")
def maxmind():
    return make_geo("maxmind")


@pytest.fixture(scope="module")
def ip2region():
    return make_geo("ip2region")


def _names(place):
    return (place.country_code, place.country, place.province, place.city)


def test_known_addresses_in_canonical_names(maxmind):
    assert _names(maxmind.lookup(BEIJING)) == ("CN", "中国", "北京市", "北京市")
    assert _names(maxmind.lookup(SHANGHAI)) == ("CN", "中国", "上海市", "上海市")  # GeoLite says 上海
    assert _names(maxmind.lookup(SHENZHEN))[:3] == ("CN", "中国", "广东省")  # GeoLite says 广东
    assert _names(maxmind.lookup(NANJING)) == ("CN", "中国", "江苏省", "南京市")
    assert _names(maxmind.lookup(HONG_KONG)) == ("HK", "香港", "香港特别行政区", "香港特别行政区")
    place = maxmind.lookup(SHANGHAI)
    assert 30 < place.lat < 32 and 120 < place.lng < 122 and place.accuracy_km == 50


def test_foreign_private_unknown_and_malformed_addresses(maxmind):
    foreign = maxmind.lookup(FOREIGN)
    assert (foreign.country_code, foreign.country, foreign.province) == ("US", "美国", None)
    assert foreign.accuracy_km == 1000 and foreign.lat is not None
    for ip in (*PRIVATE, UNKNOWN, *MALFORMED):
        assert maxmind.lookup(ip) is None, ip


def test_ip2region_places_china_and_hands_the_rest_to_maxmind(ip2region):
    assert _names(ip2region.lookup(BEIJING)) == ("CN", "中国", "北京市", "北京市")
    assert _names(ip2region.lookup(SHANGHAI)) == ("CN", "中国", "上海市", "上海市")
    assert _names(ip2region.lookup(SHENZHEN)) == ("CN", "中国", "广东省", "深圳市")
    assert _names(ip2region.lookup(HONG_KONG)) == ("HK", "香港", "香港特别行政区", "香港特别行政区")
    nanjing = ip2region.lookup(NANJING)  # no coordinates in ip2region: the city's, with a city-sized radius
    assert nanjing.city == "南京市" and abs(nanjing.lat - 32.06) < 0.1 and nanjing.accuracy_km == 50
    assert ip2region.lookup(FOREIGN) == make_geo("maxmind").lookup(FOREIGN)
    assert ip2region.lookup("2400:da00::6666").country_code == "CN"  # IPv6: maxmind
    for ip in (*PRIVATE, UNKNOWN, *MALFORMED):
        assert ip2region.lookup(ip) is None, ip
    assert ip2region.status(ip2region.created)["provider"] == "ip2region"


def test_ip2region_places_chinese_resolvers_better(maxmind, ip2region):
    """The evaluation behind the option (docs/geoip.md): provinces and cities of 32 resolvers."""

    def score(provider):
        places = [provider.lookup(ip) for ip in RESOLVERS]
        provinces = sum(
            p is not None and p.province == RESOLVERS[ip][0] for ip, p in zip(RESOLVERS, places, strict=True)
        )
        cities = sum(
            p is not None and p.city == RESOLVERS[ip][1] for ip, p in zip(RESOLVERS, places, strict=True)
        )
        return provinces, cities

    (mm_provinces, mm_cities), (i2r_provinces, i2r_cities) = score(maxmind), score(ip2region)
    assert (mm_provinces, mm_cities) == (31, 26)
    assert (i2r_provinces, i2r_cities) == (32, 30)


def test_the_provider_is_configured(tmp_path):
    env = {"CODELOOP_INSTANCE_DIR": str(tmp_path)}
    assert Config.from_env({**env}).geoip_provider == "maxmind"
    assert Config.from_env({**env, "CODELOOP_GEOIP_PROVIDER": "ip2region"}).geoip_provider == "ip2region"
    with pytest.raises(ConfigError, match="CODELOOP_GEOIP_PROVIDER must be one of maxmind, ip2region"):
        Config.from_env({**env, "CODELOOP_GEOIP_PROVIDER": "baidu"})
    with pytest.raises(ConfigError, match="CODELOOP_IP2REGION_DB names no file"):
        Config.from_env({**env, "CODELOOP_GEOIP_PROVIDER": "ip2region", "CODELOOP_IP2REGION_DB": "/nope"})
