//! `/metrics`: Prometheus text with request counts and latencies labelled by route template.

use crate::common;

use axum::http::{Method, StatusCode, header};
use common::{TestApp, request};
use serde_json::json;

#[tokio::test]
async fn counts_requests_by_route_template() {
    let app = TestApp::new();
    app.product(json!({"id": "p1", "title": "Tee", "price": "1"}))
        .await;
    for _ in 0..2 {
        assert_eq!(
            app.get("/v1/products/p1", &app.reader).await.status,
            StatusCode::OK
        );
    }
    app.get("/v1/products/nope", &app.reader).await;
    app.get("/v1/no/such/route/secret-token", &app.reader).await;
    app.send(request(Method::GET, "/v1/products", None, None))
        .await;

    let reply = app.get("/metrics", &app.reader).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "text/plain; version=0.0.4"
    );
    let text = reply.text();
    for line in [
        r#"vitrine_http_requests_total{method="POST",route="/v1/products",status="201"} 1"#,
        r#"vitrine_http_requests_total{method="GET",route="/v1/products/{id}",status="200"} 2"#,
        r#"vitrine_http_requests_total{method="GET",route="/v1/products/{id}",status="404"} 1"#,
        r#"vitrine_http_requests_total{method="GET",route="unmatched",status="404"} 1"#,
        r#"vitrine_http_requests_total{method="GET",route="/v1/products",status="401"} 1"#,
        r#"vitrine_http_request_duration_seconds_count{method="GET",route="/v1/products/{id}",status="200"} 2"#,
    ] {
        assert!(text.contains(line), "missing {line} in\n{text}");
    }
    assert!(text.contains("# TYPE vitrine_http_request_duration_seconds histogram"));
    assert!(text.contains("vitrine_http_request_duration_seconds_bucket{"));
    // Raw paths never become labels.
    assert!(!text.contains("/v1/products/p1"), "{text}");
    assert!(!text.contains("secret-token"), "{text}");
}

#[tokio::test]
async fn each_router_counts_on_its_own() {
    let first = TestApp::new();
    let second = TestApp::new();
    first.get("/v1/products", &first.reader).await;
    let text = second.get("/metrics", &second.reader).await.text();
    assert!(!text.contains(r#"route="/v1/products""#), "{text}");
}
