//! The real thing: the router served over TCP on an ephemeral port, spoken to in plain HTTP/1.1.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;

use common::TestApp;
use tokio::net::TcpListener;

fn http_get(addr: std::net::SocketAddr, path: &str, key: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_over_tcp() {
    let app = TestApp::new();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server = tokio::spawn(axum::serve(listener, app.router.clone()).into_future());

    let key = app.reader.clone();
    let (health, products) = tokio::task::spawn_blocking(move || {
        (
            http_get(addr, "/healthz", ""),
            http_get(addr, "/v1/products", &key),
        )
    })
    .await
    .expect("client thread");

    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(
        health.ends_with(r#"{"status":"ok","database":"ok"}"#),
        "{health}"
    );
    assert!(products.starts_with("HTTP/1.1 200"), "{products}");
    assert!(products.contains(r#""total":0"#), "{products}");
    server.abort();
}
