//! `/openapi.json`: the generated document lists every route, the bearer scheme and the error
//! schema, and is the same document `vitrine_server::openapi()` returns.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use serde_json::Value;

const V1_PATHS: [&str; 33] = [
    "/v1/products",
    "/v1/products/{id}",
    "/v1/events",
    "/v1/events/batch",
    "/v1/shoppers/{id}/events",
    "/v1/keys",
    "/v1/keys/{id}",
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/models",
    "/v1/products/{id}/descriptions",
    "/v1/products/{id}/ads",
    "/v1/products/{id}/seo",
    "/v1/drafts",
    "/v1/drafts/{id}",
    "/v1/drafts/{id}/review",
    "/v1/drafts/{id}/edits",
    "/v1/jobs",
    "/v1/jobs/{id}",
    "/v1/jobs/{id}/items",
    "/v1/jobs/{id}/cancel",
    "/v1/jobs/{id}/events",
    "/v1/shoppers/{id}/recommendations",
    "/v1/trainings",
    "/v1/trainings/{run}",
    "/v1/trainings/{run}/cancel",
    "/v1/trainings/{run}/events",
    "/v1/images",
    "/v1/banners",
    "/v1/image-trainings",
    "/v1/image-trainings/{run}",
    "/v1/image-trainings/{run}/cancel",
    "/v1/image-trainings/{run}/events",
];

#[tokio::test]
async fn document_lists_every_route_and_the_bearer_scheme() {
    let app = TestApp::new();
    let reply = app.get("/openapi.json", &app.reader).await;
    assert_eq!(reply.status, StatusCode::OK);
    let doc: Value = reply.json();
    assert_eq!(
        doc,
        serde_json::to_value(vitrine_server::openapi()).unwrap()
    );
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    let paths = doc["paths"].as_object().unwrap();
    for path in V1_PATHS
        .iter()
        .chain(&["/healthz", "/metrics", "/openapi.json"])
    {
        assert!(paths.contains_key(*path), "{path} missing");
    }
    let documented_v1 = paths.keys().filter(|p| p.starts_with("/v1/")).count();
    assert_eq!(documented_v1, V1_PATHS.len());

    // Operation ids name client functions in generated SDKs, so they must be unique.
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| op["operationId"].as_str().unwrap())
        .collect();
    let operations = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), operations, "duplicate operationId in {ids:?}");

    let scheme = &doc["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(doc["security"][0]["bearerAuth"], Value::Array(vec![]));
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert!(error["properties"]["error"].is_object(), "{error}");

    let get_product = &paths["/v1/products/{id}"]["get"];
    assert_eq!(get_product["x-required-role"], "reader");
    assert_eq!(
        get_product["responses"]["404"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ErrorBody"
    );
    for status in ["401", "403", "500"] {
        assert!(get_product["responses"][status].is_object(), "{status}");
    }
    let create = &paths["/v1/products"]["post"];
    assert_eq!(create["x-required-role"], "merchant");
    for status in ["201", "400", "409", "413", "415", "422"] {
        assert!(create["responses"][status].is_object(), "{status}");
    }
    assert!(create["requestBody"]["content"]["application/json"].is_object());
    assert_eq!(paths["/v1/keys"]["post"]["x-required-role"], "admin");

    let chat = &paths["/v1/chat/completions"]["post"];
    assert_eq!(chat["x-required-role"], "reader");
    for status in ["200", "400", "401", "404", "429", "503", "504"] {
        assert!(chat["responses"][status].is_object(), "{status}");
    }
    let content = &chat["responses"]["200"]["content"];
    assert!(content["application/json"].is_object(), "{content}");
    assert!(content["text/event-stream"].is_object(), "{content}");
    assert!(chat["responses"]["429"]["headers"]["Retry-After"].is_object());
    for schema in [
        "ChatCompletionRequest",
        "ChatCompletion",
        "ChatCompletionChunk",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }

    let health = &paths["/healthz"]["get"];
    assert!(health.get("x-required-role").is_none());
    assert_eq!(
        health["security"],
        serde_json::json!([{}]),
        "health needs no key"
    );

    let list = &paths["/v1/products"]["get"];
    let params: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "limit",
        "offset",
        "q",
        "brand",
        "category",
        "currency",
        "min_price",
        "max_price",
    ] {
        assert!(params.contains(&name), "{name} missing from {params:?}");
    }
    let shopper = &paths["/v1/shoppers/{id}/events"]["get"]["parameters"];
    let names: Vec<&str> = shopper
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["id", "product", "kind", "limit", "offset"]);
}
