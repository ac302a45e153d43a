//! Event source mappings: the pure parts (sources, filters, records, batch responses).

pub mod batch_response;
pub mod filter;
pub mod source;
pub mod stream_records;
