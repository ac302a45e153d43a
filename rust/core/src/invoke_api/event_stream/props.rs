//! Property tests of the event stream framing: every message decodes back to its headers and
//! payload with both CRCs checking, a stream of messages splits back into them, and any
//! corrupted byte is caught.

use proptest::prelude::*;

use super::{crc32, invoke_complete, message, payload_chunk, STRING_VALUE};
use crate::proptest_cases::config;

/// One decoded message: its string headers and payload.
type Decoded = (Vec<(String, String)>, Vec<u8>);

fn word(bytes: &[u8]) -> Result<u32, String> {
    bytes
        .try_into()
        .map(u32::from_be_bytes)
        .map_err(|_| "truncated".to_owned())
}

/// Decode the first message of `stream` as an event stream reader does (checking the prelude
/// CRC, then the message CRC), returning it and the bytes after it.
fn decode(stream: &[u8]) -> Result<(Decoded, &[u8]), String> {
    let prelude = stream.get(..12).ok_or("no prelude")?;
    let total = word(&prelude[..4])? as usize;
    let headers_len = word(&prelude[4..8])? as usize;
    if word(&prelude[8..12])? != crc32(&prelude[..8]) {
        return Err("prelude CRC".into());
    }
    if total < 16 + headers_len || stream.len() < total {
        return Err(format!("lengths {total}/{headers_len} of {}", stream.len()));
    }
    let (whole, rest) = stream.split_at(total);
    if word(&whole[total - 4..])? != crc32(&whole[..total - 4]) {
        return Err("message CRC".into());
    }
    let mut headers = Vec::new();
    let mut at = &whole[12..12 + headers_len];
    while !at.is_empty() {
        let name_len = usize::from(at[0]);
        let name = at.get(1..=name_len).ok_or("header name")?;
        let after = at.get(1 + name_len..).ok_or("header")?;
        if after.first() != Some(&STRING_VALUE) {
            return Err("header type".into());
        }
        let value_len = usize::from(u16::from_be_bytes(
            after
                .get(1..3)
                .ok_or("value length")?
                .try_into()
                .map_err(|_| "len")?,
        ));
        let value = after.get(3..3 + value_len).ok_or("header value")?;
        headers.push((
            String::from_utf8(name.to_vec()).map_err(|e| e.to_string())?,
            String::from_utf8(value.to_vec()).map_err(|e| e.to_string())?,
        ));
        at = &after[3 + value_len..];
    }
    Ok(((headers, whole[12 + headers_len..total - 4].to_vec()), rest))
}

/// CRC-32 computed bit by bit (no table), the reference the table-driven one must match.
fn crc32_bitwise(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Header names of 1-255 bytes and values of up to 65535 bytes (the field widths), any text.
fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let name = prop_oneof![
        3 => "[:a-z-]{1,20}",
        1 => "\\PC{1,60}".prop_filter("fits a byte", |s: &String| s.len() <= 255),
    ];
    let value = prop_oneof![
        4 => "\\PC{0,40}",
        1 => (0usize..70_000).prop_map(|n| "v".repeat(n.min(usize::from(u16::MAX)))),
    ];
    prop::collection::vec((name, value), 0..6)
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => prop::collection::vec(any::<u8>(), 0..512),
        1 => prop::collection::vec(any::<u8>(), 0..200_000),
    ]
}

fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

proptest! {
    #![proptest_config(config(64, 2000))]

    #[test]
    fn a_message_decodes_back_to_its_headers_and_payload(
        headers in headers(),
        payload in payload(),
    ) {
        let m = message(&borrowed(&headers), &payload);
        let ((got_headers, got_payload), rest) = decode(&m).map_err(TestCaseError::fail)?;
        prop_assert_eq!(got_headers, headers);
        prop_assert_eq!(got_payload, payload);
        prop_assert!(rest.is_empty());
    }

    #[test]
    fn a_stream_of_messages_splits_back_into_them(
        parts in prop::collection::vec((headers(), prop::collection::vec(any::<u8>(), 0..300)), 1..8),
    ) {
        let mut stream = Vec::new();
        for (h, p) in &parts {
            stream.extend_from_slice(&message(&borrowed(h), p));
        }
        let mut at = stream.as_slice();
        for (h, p) in &parts {
            let ((got_h, got_p), rest) = decode(at).map_err(TestCaseError::fail)?;
            prop_assert_eq!(&got_h, h);
            prop_assert_eq!(&got_p, p);
            at = rest;
        }
        prop_assert!(at.is_empty());
    }

    #[test]
    fn any_corrupted_byte_is_caught(
        payload in prop::collection::vec(any::<u8>(), 0..300),
        at in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut m = payload_chunk(&payload).to_vec();
        let i = at.index(m.len());
        m[i] ^= flip;
        prop_assert!(decode(&m).is_err(), "byte {} corrupted and still decoded", i);
    }

    #[test]
    fn the_crc_table_agrees_with_the_bitwise_crc(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        prop_assert_eq!(crc32(&data), crc32_bitwise(&data));
    }
}

#[test]
fn response_stream_events_carry_aws_headers() {
    let ((headers, payload), _) = decode(&payload_chunk(b"abc")).unwrap();
    assert_eq!(payload, b"abc");
    assert_eq!(
        headers,
        [
            (":event-type", "PayloadChunk"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ]
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
    );
    let ((headers, payload), _) = decode(&invoke_complete("{}")).unwrap();
    assert_eq!(payload, b"{}");
    assert_eq!(headers[0], (":event-type".into(), "InvokeComplete".into()));
}
