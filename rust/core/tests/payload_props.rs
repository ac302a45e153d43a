//! Property tests of the invoke body checks: any bytes are accepted unchanged (or as `{}` when
//! blank), or refused with AWS's 400 or 413 in its JSON shape, never with a panic; whatever is
//! accepted is UTF-8 JSON nested at most 1000 deep.

mod common;

use bytes::Bytes;
use lambda_rie_core::aws::ServiceError;
use lambda_rie_core::config::{MAX_EVENT_BYTES, MAX_REQUEST_BYTES};
use lambda_rie_core::invocation::{check_payload, MAX_PAYLOAD_DEPTH};
use proptest::prelude::*;

/// An RFC 8259 JSON text recogniser, written apart from the code under test: whether `text` is
/// one JSON value with optional whitespace around it, and the deepest nesting it reaches.
mod rfc8259 {
    pub fn check(text: &[u8]) -> Option<usize> {
        let mut p = Parser {
            s: text,
            i: 0,
            deepest: 0,
        };
        p.ws();
        p.value(1)?;
        p.ws();
        (p.i == text.len()).then_some(p.deepest)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
        deepest: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }
        fn eat(&mut self, b: u8) -> Option<()> {
            (self.peek()? == b).then(|| self.i += 1)
        }
        fn ws(&mut self) {
            while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                self.i += 1;
            }
        }
        fn literal(&mut self, word: &[u8]) -> Option<()> {
            self.s[self.i..]
                .starts_with(word)
                .then(|| self.i += word.len())
        }
        fn digits(&mut self) -> Option<()> {
            let start = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            (self.i > start).then_some(())
        }
        fn number(&mut self) -> Option<()> {
            let _ = self.eat(b'-');
            if self.eat(b'0').is_none() {
                if !matches!(self.peek(), Some(b'1'..=b'9')) {
                    return None;
                }
                self.digits()?;
            }
            if self.eat(b'.').is_some() {
                self.digits()?;
            }
            if matches!(self.peek(), Some(b'e' | b'E')) {
                self.i += 1;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.i += 1;
                }
                self.digits()?;
            }
            Some(())
        }
        fn string(&mut self) -> Option<()> {
            self.eat(b'"')?;
            loop {
                match self.peek()? {
                    b'"' => return self.eat(b'"'),
                    b'\\' => {
                        self.i += 1;
                        match self.peek()? {
                            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 1,
                            b'u' => {
                                let hex = self.s.get(self.i + 1..self.i + 5)?;
                                if !hex.iter().all(u8::is_ascii_hexdigit) {
                                    return None;
                                }
                                self.i += 5;
                            }
                            _ => return None,
                        }
                    }
                    0..=0x1f => return None,
                    _ => self.i += 1,
                }
            }
        }
        fn value(&mut self, depth: usize) -> Option<()> {
            match self.peek()? {
                b'{' | b'[' => {
                    self.deepest = self.deepest.max(depth);
                    let close = if self.peek()? == b'{' { b'}' } else { b']' };
                    self.i += 1;
                    self.ws();
                    if self.eat(close).is_some() {
                        return Some(());
                    }
                    loop {
                        if close == b'}' {
                            self.string()?;
                            self.ws();
                            self.eat(b':')?;
                            self.ws();
                        }
                        self.value(depth + 1)?;
                        self.ws();
                        if self.eat(close).is_some() {
                            return Some(());
                        }
                        self.eat(b',')?;
                        self.ws();
                    }
                }
                b'"' => self.string(),
                b't' => self.literal(b"true"),
                b'f' => self.literal(b"false"),
                b'n' => self.literal(b"null"),
                _ => self.number(),
            }
        }
    }
}

/// Any JSON value (objects, arrays, strings with escapes and any characters, numbers).
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        "\\PC*".prop_map(serde_json::Value::String),
        any::<String>().prop_map(serde_json::Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
            prop::collection::btree_map("\\PC{0,8}", inner, 0..8)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `depth` nested arrays and objects around a value, with brackets inside strings on the way.
fn nested() -> impl Strategy<Value = (usize, Vec<u8>)> {
    (1usize..1100, prop::collection::vec(any::<bool>(), 1100)).prop_map(|(depth, kinds)| {
        let mut open = String::new();
        let mut close = Vec::new();
        for &object in &kinds[..depth] {
            if object {
                open.push_str("{\"[{\\\"\": ");
                close.push('}');
            } else {
                open.push_str("[\"]}\", ");
                close.push(']');
            }
        }
        open.push('0');
        open.extend(close.iter().rev());
        (depth, open.into_bytes())
    })
}

/// Any bytes, and bytes that look like JSON: valid documents, deep ones, broken ones, blank.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..256),
        3 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => json_value().prop_map(|v| serde_json::to_vec_pretty(&v).unwrap_or_default()),
        2 => nested().prop_map(|(_, body)| body),
        2 => (json_value(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(v, at, b)| {
            let mut text = v.to_string().into_bytes();
            let i = at.index(text.len());
            text[i] = b;
            text
        }),
        1 => "[ \t\r\n\x0c]{0,20}".prop_map(String::into_bytes),
        1 => (json_value(), "[ \t\r\n]{0,4}", "[ \t\r\n]{0,4}")
            .prop_map(|(v, a, b)| format!("{a}{v}{b}").into_bytes()),
        1 => prop::collection::vec(
            prop::sample::select(&b"{}[]\",:0\\ \x80\xff"[..]), 0..64),
    ]
}

fn checked(body: &[u8], event: bool) -> Result<Bytes, ServiceError> {
    check_payload(Bytes::copy_from_slice(body), event)
}

/// A refusal must be AWS's 400 (not JSON) or 413, in AWS's shape.
fn refusal_shape(e: &ServiceError) -> Result<(), TestCaseError> {
    let message = common::service_error_message(e.status(), e.body().as_bytes())
        .map_err(TestCaseError::fail)?;
    prop_assert_eq!(&message, &e.message());
    match e.status() {
        400 => {
            prop_assert_eq!(e.code(), "InvalidRequestContentException");
            prop_assert!(message.starts_with("Could not parse request body into json: "));
        }
        413 => prop_assert_eq!(e.code(), "RequestEntityTooLargeException"),
        other => prop_assert!(false, "status {} for a body", other),
    }
    Ok(())
}

proptest! {
    #![proptest_config(common::config(512, 20_000))]

    #[test]
    fn any_body_is_accepted_as_json_or_refused_in_aws_shape(body in body(), event in any::<bool>()) {
        let blank = body.iter().all(u8::is_ascii_whitespace);
        let valid = std::str::from_utf8(&body).is_ok()
            && rfc8259::check(&body).is_some_and(|depth| depth <= MAX_PAYLOAD_DEPTH);
        match checked(&body, event) {
            Ok(accepted) if blank => prop_assert_eq!(accepted.as_ref(), b"{}"),
            Ok(accepted) => {
                prop_assert_eq!(accepted.as_ref(), body.as_slice());
                prop_assert!(valid, "accepted a body that is not JSON nested at most 1000 deep");
            }
            Err(e) => {
                refusal_shape(&e)?;
                prop_assert_eq!(e.status(), 400);
                prop_assert!(!valid, "refused valid JSON: {}", e.message());
            }
        }
    }

    #[test]
    fn nesting_is_taken_up_to_1000_levels(case in nested(), event in any::<bool>()) {
        let (depth, body) = case;
        prop_assert_eq!(rfc8259::check(&body), Some(depth));
        match checked(&body, event) {
            Ok(accepted) => {
                prop_assert!(depth <= MAX_PAYLOAD_DEPTH);
                prop_assert_eq!(accepted.as_ref(), body.as_slice());
            }
            Err(e) => {
                refusal_shape(&e)?;
                prop_assert!(depth > MAX_PAYLOAD_DEPTH);
                let limit = format!("exceeds the maximum allowed ({MAX_PAYLOAD_DEPTH})");
                prop_assert!(e.message().ends_with(&limit), "{}", e.message());
            }
        }
    }
}

proptest! {
    #![proptest_config(common::config(8, 64))]

    /// Sizes around both limits, whatever the body holds: the size is checked first.
    #[test]
    fn sizes_around_the_limits_get_aws_413(
        around in prop::sample::select(vec![MAX_EVENT_BYTES, MAX_REQUEST_BYTES]),
        delta in -2i64..=2,
        event in any::<bool>(),
        fill in prop::sample::select(&b" x[\xff"[..]),
    ) {
        let size = usize::try_from(around as i64 + delta).unwrap_or(0);
        let mut body = vec![fill; size];
        if fill == b'x' && size >= 2 {
            body[0] = b'"';
            body[size - 1] = b'"';
        }
        let result = checked(&body, event);
        let limit = if event { MAX_EVENT_BYTES } else { MAX_REQUEST_BYTES };
        if size > limit {
            let e = result.expect_err("over the limit");
            refusal_shape(&e)?;
            prop_assert_eq!(e.status(), 413);
            let want = if event {
                format!("{size} byte payload is too large for the Event invocation type (limit 1048576 bytes)")
            } else {
                "Request must be smaller than 6291456 bytes for the InvokeFunction operation".to_owned()
            };
            prop_assert_eq!(e.message(), want);
        } else if let Err(e) = result {
            refusal_shape(&e)?;
            prop_assert_eq!(e.status(), 400);
        }
    }
}
