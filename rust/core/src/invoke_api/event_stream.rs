//! The AWS event stream binary encoding of InvokeWithResponseStream's answer: each message is
//! a prelude (total length, headers length, CRC32 of both), string headers, the payload and a
//! CRC32 of everything before it.

use bytes::{BufMut, Bytes, BytesMut};

/// Header value type 7: a string with a 2-byte length.
const STRING_VALUE: u8 = 7;
/// Prelude (8 bytes and its CRC) plus the message CRC.
const FRAMING: usize = 16;

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320), the checksum event streams use.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xFF) as usize] ^ (crc >> 8);
    }
    !crc
}

const CRC_TABLE: [u32; 256] = crc_table();

const fn crc_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// One message with string `headers` and `payload`.
pub fn message(headers: &[(&str, &str)], payload: &[u8]) -> Bytes {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let total = FRAMING + headers_len + payload.len();
    let mut out = BytesMut::with_capacity(total);
    out.put_u32(total as u32);
    out.put_u32(headers_len as u32);
    out.put_u32(crc32(&out[..8]));
    for (name, value) in headers {
        out.put_u8(name.len() as u8);
        out.put_slice(name.as_bytes());
        out.put_u8(STRING_VALUE);
        out.put_u16(value.len() as u16);
        out.put_slice(value.as_bytes());
    }
    out.put_slice(payload);
    out.put_u32(crc32(&out));
    out.freeze()
}

/// A `PayloadChunk` event carrying raw response bytes.
pub fn payload_chunk(chunk: &[u8]) -> Bytes {
    message(
        &[
            (":event-type", "PayloadChunk"),
            (":content-type", "application/octet-stream"),
            (":message-type", "event"),
        ],
        chunk,
    )
}

/// The final `InvokeComplete` event with its JSON payload.
pub fn invoke_complete(json: &str) -> Bytes {
    message(
        &[
            (":event-type", "InvokeComplete"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        json.as_bytes(),
    )
}

#[cfg(test)]
mod props;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn message_frames_its_headers_and_payload() {
        let m = message(&[("a", "bc")], b"xyz");
        let total = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize;
        assert_eq!(total, m.len());
        assert_eq!(&m[4..8], &7u32.to_be_bytes());
        assert_eq!(&m[8..12], &crc32(&m[..8]).to_be_bytes());
        assert_eq!(&m[12..19], &[1, b'a', 7, 0, 2, b'b', b'c'][..]);
        assert_eq!(&m[19..22], b"xyz");
        assert_eq!(&m[22..], &crc32(&m[..22]).to_be_bytes());
    }
}
