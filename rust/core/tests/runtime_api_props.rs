//! Property tests of a real Runtime API listener over its socket: requests with any method,
//! path (the real routes with random ids and tails, percent escapes, queries), headers and body
//! each get one well-formed HTTP answer, errors in AWS's `{"errorMessage", "errorType"}` shape;
//! answers to invocations a runtime holds reach the invocation; and the listener keeps serving.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use lambda_rie_core::invocation::{Delivery, Invocation, RuntimeReply};
use lambda_rie_core::runtime_api::RuntimeApi;
use proptest::prelude::*;
use tokio::sync::oneshot;

use common::wire::{exchange, parse_one, raw, Answer, ANSWER_DEADLINE};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

/// One listener for the whole run, served by a runtime of its own, and the answers sent to
/// the invocations the test delivered (kept so that the runtime's answers can be delivered).
struct Listener {
    _runtime: tokio::runtime::Runtime,
    api: RuntimeApi,
    replies: Mutex<Vec<(String, oneshot::Receiver<RuntimeReply>)>>,
    /// Held by each case: one runtime plays against the listener at a time, as on AWS.
    turn: Mutex<()>,
}

fn listener() -> &'static Listener {
    static LISTENER: OnceLock<Listener> = OnceLock::new();
    LISTENER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let addr: SocketAddr = "127.0.0.1:0".parse().expect("an address");
        let api = runtime
            .block_on(RuntimeApi::bind(addr, None))
            .expect("bind");
        // A runtime starts: init is open, extensions may register.
        drop(api.state().begin_init());
        api.state().extensions.open(Vec::new());
        Listener {
            _runtime: runtime,
            api,
            replies: Mutex::new(Vec::new()),
            turn: Mutex::new(()),
        }
    })
}

impl Listener {
    /// This test's turn with the listener.
    fn turn(&self) -> std::sync::MutexGuard<'_, ()> {
        self.turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Queue an invocation for `/next`, keeping the way its answer comes back.
    fn deliver(&self, payload: &'static [u8]) -> String {
        let (reply, rx) = oneshot::channel();
        let inv = Invocation::new(
            Bytes::from_static(payload),
            "arn:aws:lambda:us-east-1:012345678912:function:f".into(),
        );
        let id = inv.request_id.clone();
        self.api.state().deliver(Delivery {
            invocation: Arc::new(inv),
            deadline_ms: lambda_rie_core::clock::epoch_ms() + 60_000,
            reply,
        });
        self.replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((id.clone(), rx));
        id
    }

    /// The reply the runtime gave for `id`, if it gave one yet.
    fn reply(&self, id: &str) -> Option<RuntimeReply> {
        let mut replies = self
            .replies
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (_, rx) = replies.iter_mut().find(|(i, _)| i == id)?;
        rx.try_recv().ok()
    }

    /// Play the runtime taking an invocation: deliver one and `GET /next` it; its id.
    fn held_invocation(&self) -> Result<String, String> {
        let id = self.deliver(b"{\"held\": true}");
        let answer = exchange(self.api.addr(), &raw("GET", NEXT, &[], b""))?;
        if answer.status != 200 || answer.header("lambda-runtime-aws-request-id") != Some(&id) {
            return Err(format!("GET /next gave {answer:?}, not {id}"));
        }
        Ok(id)
    }
}

/// Where a generated path puts an invocation id.
#[derive(Debug, Clone)]
enum Id {
    /// An invocation the runtime took from `/next` and has not answered.
    Held,
    /// Any other text.
    Text(String),
}

/// Characters a request target may hold as they are, and percent escapes.
fn segment(max: usize) -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => "[A-Za-z0-9._~!$&'()*+,;=:@-]{1,4}",
        1 => any::<u8>().prop_map(|b| format!("%{b:02X}")),
        1 => Just("%".to_owned()),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|p| p.concat())
}

/// A method and a path: a real route with a random id (mostly POSTed, as runtimes answer),
/// a real route, a real prefix with a random tail, or anything; and the id the path holds.
fn target() -> impl Strategy<Value = (String, String, Option<Id>)> {
    const ROUTES: &[&str] = &[
        "/2018-06-01/runtime/invocation/next",
        "/2018-06-01/runtime/init/error",
        "/2018-06-01/runtime/restore/error",
        "/2018-06-01/runtime/restore/next",
        "/2020-01-01/extension/register",
        "/2020-01-01/extension/event/next",
        "/2020-01-01/extension/init/error",
        "/2020-01-01/extension/exit/error",
        "/2022-07-01/telemetry",
        "/2020-08-15/logs",
    ];
    const PREFIXES: &[&str] = &[
        "/2018-06-01/runtime/",
        "/2018-06-01/runtime/invocation/",
        "/2020-01-01/extension/",
        "/",
    ];
    let id = prop_oneof![
        2 => Just(Id::Held),
        1 => segment(12).prop_map(Id::Text),
        1 => "[0-9a-f-]{36}".prop_map(Id::Text),
    ];
    let answer_method = prop_oneof![3 => Just("POST".to_owned()), 1 => method()];
    let target = prop_oneof![
        3 => (method(), prop::sample::select(ROUTES)).prop_map(|(m, r)| (m, r.to_owned(), None)),
        4 => (answer_method, id, prop::sample::select(&["response", "error", "next", "", "response/x"][..]))
            .prop_map(|(m, id, end)| (m, "/2018-06-01/runtime/invocation/{id}/".to_owned() + end, Some(id))),
        2 => (method(), prop::sample::select(PREFIXES), segment(20))
            .prop_map(|(m, p, tail)| (m, format!("{p}{tail}"), None)),
        1 => (method(), segment(300)).prop_map(|(m, tail)| (m, format!("/{tail}"), None)),
    ];
    (target, prop::option::of(segment(8))).prop_map(|((m, p, id), query)| match query {
        Some(q) => (m, format!("{p}?{q}"), id),
        None => (m, p, id),
    })
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(&["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"][..])
            .prop_map(str::to_owned),
        1 => "[A-Z][A-Z_-]{0,11}".prop_filter("CONNECT takes an authority", |m| m != "CONNECT"),
    ]
}

/// Header names the Runtime API reads, and others; values of any bytes a header line carries.
fn headers() -> impl Strategy<Value = Vec<(String, Vec<u8>)>> {
    let name = prop_oneof![
        3 => prop::sample::select(&[
            "lambda-runtime-function-response-mode",
            "lambda-runtime-function-error-type",
            "lambda-runtime-function-xray-error-cause",
            "content-type",
            "lambda-extension-name",
            "lambda-extension-identifier",
            "lambda-extension-accept-feature",
            "lambda-extension-function-error-type",
        ][..]).prop_map(str::to_owned),
        1 => "x-[a-z0-9-]{1,16}",
    ];
    let value = prop_oneof![
        3 => prop::sample::select(&["streaming", "buffered", "accountId", "application/json", ""][..])
            .prop_map(|v| v.as_bytes().to_vec()),
        1 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}".prop_map(String::into_bytes),
        3 => prop::collection::vec(prop_oneof![8 => 0x21u8..0x7f, 1 => Just(b' '), 1 => 0x80u8..=0xff], 0..64)
            .prop_map(|mut v| { v.insert(0, b'v'); v }),
        1 => (1usize..20_000).prop_map(|n| vec![b'h'; n]),
    ];
    prop::collection::vec((name, value), 0..6)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..512),
        2 => prop::sample::select(BODIES).prop_map(<[u8]>::to_vec),
        1 => prop::collection::vec(any::<u8>(), 0..70_000),
    ]
}

/// Bodies the Extensions, Telemetry and Runtime APIs read.
const BODIES: &[&[u8]] = &[
            b"{\"events\": [\"INVOKE\", \"SHUTDOWN\"]}",
            b"{\"events\": [\"NOPE\"]}",
            b"{\"events\": 1}",
            b"{\"schemaVersion\": \"2022-12-13\", \"destination\": {\"protocol\": \"HTTP\", \"URI\": \"http://sandbox:4243\"}, \"types\": [\"platform\"]}",
            b"{\"errorMessage\": \"x\", \"errorType\": \"E\"}",
            b"",
];

/// Check an answer's status and body against what the Runtime API may say.
fn check_answer(answer: &Answer, method: &str, path: &str) -> Result<(), String> {
    let allowed = [200, 202, 400, 403, 404, 405, 410, 413];
    if !allowed.contains(&answer.status) {
        return Err(format!("status {} for {method} {path}", answer.status));
    }
    if method == "HEAD" {
        return Ok(());
    }
    if answer.status >= 400 {
        let value: serde_json::Value = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("error body is not JSON ({e}): {answer:?}"))?;
        let shaped = ["errorMessage", "errorType"]
            .iter()
            .all(|k| value.get(k).is_some_and(serde_json::Value::is_string));
        if !shaped || value.as_object().map(serde_json::Map::len) != Some(2) {
            return Err(format!("not AWS's error shape: {value}"));
        }
        if !answer.body.ends_with(b"\n") {
            return Err("an error body without its final newline".into());
        }
    }
    if answer.status == 202 && answer.body != b"{\"status\":\"OK\"}\n" {
        return Err(format!("202 with {answer:?}"));
    }
    Ok(())
}

/// What a `/response` or `/error` the listener accepted must have delivered.
fn check_delivered(
    reply: Option<RuntimeReply>,
    path: &str,
    body: &[u8],
    status: u16,
) -> Result<(), String> {
    let error = path
        .split('?')
        .next()
        .is_some_and(|p| p.ends_with("/error"));
    match (reply, status) {
        (Some(RuntimeReply::Error { body: got, .. }), 202) if error && got == body => Ok(()),
        (Some(RuntimeReply::Response { body: got, .. }), 202) if !error && got == body => Ok(()),
        (Some(RuntimeReply::Stream(_)), 202) if !error => Ok(()),
        (Some(RuntimeReply::ResponseTooLarge { .. }), 413) => Ok(()),
        (None, s) if s >= 400 => Ok(()),
        (reply, status) => Err(format!(
            "{status} to {path}, and the invocation got {reply:?}"
        )),
    }
}

proptest! {
    #![proptest_config(common::config(200, 5000))]

    #[test]
    fn any_request_gets_one_well_formed_answer(
        (method, path, id) in target(),
        headers in headers(),
        body in body(),
    ) {
        let l = listener();
        let _turn = l.turn();
        let held = match &id {
            Some(Id::Held) => Some(l.held_invocation().map_err(TestCaseError::fail)?),
            _ => None,
        };
        let path = match (&id, &held) {
            (Some(Id::Text(text)), _) => path.replace("{id}", text),
            (_, Some(held)) => path.replace("{id}", held),
            _ => path,
        };
        // NOTE: `GET /next` waits for an invocation (without a deadline, as on AWS): one is due.
        if method == "GET" && path.split('?').next() == Some(NEXT) {
            l.deliver(b"{}");
        }
        let answer = exchange(l.api.addr(), &raw(&method, &path, &headers, &body))
            .map_err(|e| TestCaseError::fail(format!("{method} {path}: {e}")))?;
        check_answer(&answer, &method, &path).map_err(TestCaseError::fail)?;
        if let Some(held) = held {
            let answered = method == "POST" && path.split('?').next().is_some_and(|p| {
                p.ends_with(&format!("{held}/response")) || p.ends_with(&format!("{held}/error"))
            });
            if answered {
                check_delivered(l.reply(&held), &path, &body, answer.status)
                    .map_err(TestCaseError::fail)?;
            } else {
                prop_assert!(l.reply(&held).is_none(), "{} {} answered {}", method, path, held);
            }
        }
    }

    #[test]
    fn any_bytes_get_a_well_formed_answer_or_none(
        junk in prop_oneof![
            prop::collection::vec(any::<u8>(), 1..2048),
            (method().prop_filter("answers without a body", |m| m != "HEAD"), segment(30), prop::collection::vec(any::<u8>(), 0..200)).prop_map(|(m, p, rest)| {
                let mut r = format!("{m} /{p} HTTP/1.1\r\n").into_bytes();
                r.extend(rest);
                r.extend_from_slice(b"\r\n\r\n");
                r
            }),
        ],
    ) {
        let l = listener();
        let _turn = l.turn();
        let mut s = TcpStream::connect(l.api.addr()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        s.set_read_timeout(Some(ANSWER_DEADLINE)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        // The peer may close as soon as it sees junk: a failed write is an answer too.
        let _ = s.write_all(&junk);
        let _ = s.shutdown(Shutdown::Write);
        let mut raw = Vec::new();
        match s.read_to_end(&mut raw) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => return Err(TestCaseError::fail(format!("no end within {ANSWER_DEADLINE:?}: {e}"))),
        }
        // Whatever got parsed is answered by whole HTTP responses, one after the other.
        let mut rest = raw.as_slice();
        while !rest.is_empty() {
            let (answer, after) = parse_one(rest).map_err(TestCaseError::fail)?;
            prop_assert!(answer.status >= 200, "{:?}", answer);
            rest = after;
        }
    }
}

/// After everything above (and on its own), the listener still serves a whole invocation.
#[test]
fn the_listener_keeps_serving() {
    let l = listener();
    let _turn = l.turn();
    let id = l
        .held_invocation()
        .expect("GET /next takes a delivered invocation");
    let path = format!("/2018-06-01/runtime/invocation/{id}/response");
    let answer = exchange(l.api.addr(), &raw("POST", &path, &[], b"\"done\"")).expect("an answer");
    assert_eq!(answer.status, 202, "{answer:?}");
    match l.reply(&id) {
        Some(RuntimeReply::Response { body, .. }) => assert_eq!(body.as_ref(), b"\"done\""),
        other => panic!("the invocation got {other:?}"),
    }
    let again = exchange(l.api.addr(), &raw("POST", &path, &[], b"\"again\"")).expect("an answer");
    assert_eq!(again.status, 403);
    assert!(String::from_utf8_lossy(&again.body).contains("InvalidStateTransition"));
}
