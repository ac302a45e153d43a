//! The Runtime API state machine through real sockets: the test plays the runtime while a
//! placeholder process (`sleep`) stands in for the runtime's process tree.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use lambda_rie_core::config::{Defaults, EmulatorConfig, FunctionConfig};
use lambda_rie_core::emulator::Emulator;

/// A minimal blocking HTTP/1.1 exchange: returns status, lowercase headers and body.
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines.next().unwrap()[9..12].parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn emulator() -> (Emulator, SocketAddr) {
    let mut f = FunctionConfig::new("f", vec!["sleep".into(), "60".into()], Defaults::FUNCTION);
    f.runtime_api_address = Some("127.0.0.1:0".parse().unwrap());
    let cfg = EmulatorConfig::new("127.0.0.1:0".parse().unwrap());
    let emu = Emulator::start(&cfg, vec![f]).await.expect("start");
    let invoke = emu.invoke_address();
    (emu, invoke)
}

/// The Runtime API of the environment the first invoke created (bounded wait).
async fn runtime_api(emu: &Emulator) -> SocketAddr {
    for _ in 0..500 {
        if let Some(env) = emu.schedulers()[0].environments().first() {
            return env.runtime_api_addr();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no environment was created");
}

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machine_and_misuse_answers() {
    let (emu, invoke) = emulator().await;
    let client = tokio::task::spawn_blocking(move || {
        http(
            invoke,
            "POST",
            "/2015-03-31/functions/function/invocations",
            br#"{"x":1}"#,
        )
    });
    let api = runtime_api(&emu).await;
    let (status, headers, body) = tokio::task::spawn_blocking(move || http(api, "GET", NEXT, b""))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"x":1}"#);
    assert_eq!(get(&headers, "content-type"), Some("application/json"));
    assert!(get(&headers, "lambda-runtime-deadline-ms").is_some());
    assert_eq!(
        get(&headers, "lambda-runtime-invoked-function-arn"),
        Some("arn:aws:lambda:us-east-1:012345678912:function:f")
    );
    let id = get(&headers, "lambda-runtime-aws-request-id")
        .unwrap()
        .to_owned();

    let blocking = move |method: &'static str, path: String, body: &'static [u8]| {
        tokio::task::spawn_blocking(move || http(api, method, &path, body))
    };
    // /init/error after /next: 403.
    let (s, _, b) = blocking("POST", "/2018-06-01/runtime/init/error".into(), b"{}")
        .await
        .unwrap();
    assert_eq!(s, 403);
    assert!(String::from_utf8_lossy(&b).contains("InvalidStateTransition"));
    // Wrong id: 400.
    let (s, _, b) = blocking(
        "POST",
        "/2018-06-01/runtime/invocation/nope/response".into(),
        b"1",
    )
    .await
    .unwrap();
    assert_eq!(s, 400);
    assert_eq!(
        b,
        b"{\"errorMessage\":\"Invalid request ID\",\"errorType\":\"InvalidRequestID\"}\n"
    );
    // The answer: 202, and the client gets it.
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let (s, _, b) = blocking("POST", path.clone(), br#"{"ok":true}"#)
        .await
        .unwrap();
    assert_eq!(s, 202);
    assert_eq!(b, b"{\"status\":\"OK\"}\n");
    let (status, headers, body) = client.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, br#"{"ok":true}"#);
    assert_eq!(get(&headers, "x-amzn-requestid"), Some(id.as_str()));
    // A second answer: 403 with AWS's text, for /response and /error alike.
    let (s, _, b) = blocking("POST", path, b"{}").await.unwrap();
    assert_eq!(s, 403);
    assert!(String::from_utf8_lossy(&b)
        .contains("State transition from RuntimeResponseSentState to InvocationResponse failed"));
    let (s, _, b) = blocking(
        "POST",
        format!("/2018-06-01/runtime/invocation/{id}/error"),
        b"{}",
    )
    .await
    .unwrap();
    assert_eq!(s, 403);
    assert!(String::from_utf8_lossy(&b).contains("to InvocationErrorResponse failed"));
    // Unknown path and wrong method.
    assert_eq!(
        blocking("GET", "/2018-06-01/runtime/nothing".into(), b"")
            .await
            .unwrap()
            .0,
        404
    );
    assert_eq!(blocking("POST", NEXT.into(), b"").await.unwrap().0, 405);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_error_answers_the_invoke_after_suppressed_init() {
    let (emu, invoke) = emulator().await;
    let client = tokio::task::spawn_blocking(move || {
        http(
            invoke,
            "POST",
            "/2015-03-31/functions/function/invocations",
            b"",
        )
    });
    let api = runtime_api(&emu).await;
    let body: &'static [u8] = br#"{"errorMessage":"boom","errorType":"Runtime.ImportModuleError"}"#;
    // Init phase and the suppressed init both fail.
    for _ in 0..2 {
        loop {
            let (s, _, _) = tokio::task::spawn_blocking(move || {
                http(api, "POST", "/2018-06-01/runtime/init/error", body)
            })
            .await
            .unwrap();
            if s == 202 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, headers, payload) = client.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(get(&headers, "x-amz-function-error"), Some("Unhandled"));
    assert_eq!(payload, body);
    emu.shutdown().await;
}
