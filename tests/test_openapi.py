"""The generated OpenAPI document: every route with its models, errors and real security."""

from __future__ import annotations

ERROR = {"$ref": "#/components/schemas/Error"}


def _doc(client):
    return client.get("/api/v1/openapi.json").get_json()


def test_every_operation_documents_its_errors_and_security(client):
    doc = _doc(client)
    assert doc["openapi"].startswith("3.1") and doc["servers"] == [{"url": "/api/v1"}]
    assert set(doc["components"]["securitySchemes"]) == {"adminToken", "staffToken", "consumerToken"}
    for route, operations in doc["paths"].items():
        for method, op in operations.items():
            responses = op["responses"]
            assert responses["400"]["content"]["application/json"]["schema"] == ERROR, (route, method)
            assert "404" in responses, (route, method)
            if op["security"] and op["security"][0]:
                assert {"401", "403"} <= set(responses), (route, method)
            if method == "post" and route not in ("/consumers",) and "requestBody" in op:
                assert "application/json" in op["requestBody"]["content"] or "multipart/form-data" in str(op)


def test_scan_works_without_a_token_and_says_so(client):
    op = _doc(client)["paths"]["/scan/{code}"]["get"]
    assert {} in op["security"] and {"consumerToken": []} in op["security"]
    assert {"409", "410", "429"} <= set(op["responses"])


def test_campaign_and_store_fields_are_documented(client):
    schemas = _doc(client)["components"]["schemas"]
    campaign = schemas["CampaignIn"]
    assert {"name", "starts_at", "ends_at", "voucher_value_fen", "cap", "budget_fen"} <= set(
        campaign["required"]
    )
    assert {"clerk_claim_reward_fen", "store_fee_fen", "attribution_minutes"} <= set(campaign["properties"])
    assert {"name", "province", "city", "address", "lat", "lng", "owner"} <= set(
        schemas["StoreIn"]["properties"]
    )
    assert {"username", "password", "store"} <= set(schemas["ClerkIn"]["properties"])


def test_codes_csv_says_to_is_exclusive(client):
    params = _doc(client)["paths"]["/batches/{batch_id}/codes.csv"]["get"]["parameters"]
    to = next(p for p in params if p["name"] == "to")
    assert "exclusive" in to["description"]


def test_queued_export_documents_202(client):
    op = _doc(client)["paths"]["/batches/{batch_id}/exports"]["post"]
    assert op["responses"]["202"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Export"
    }


def test_a_body_that_does_not_fit_is_refused_in_the_envelope(client, app):
    from tests.store.world import build

    world = build(app.extensions["codeloop"].sessions)
    refused = client.post(
        "/api/v1/campaigns",
        json={"name": "x", "cap": "lots"},
        headers={**world.auth("admin"), "Accept-Language": "en"},
    )
    error = refused.get_json()["error"]
    assert refused.status_code == 400 and error["code"] == "VALIDATION_FAILED"
    assert error["details"]["field"] and error["message"].startswith("Invalid input: ")
    zh = client.post("/api/v1/campaigns", json=[1], headers=world.auth("admin")).get_json()["error"]
    assert zh["message"] == "输入有误：请求体须为 JSON 对象"
