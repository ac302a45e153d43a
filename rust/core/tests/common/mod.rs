//! What the property tests under `tests/` share with the crate's own: the case counts and the
//! check of AWS's service error shape (one source, included from the crate).

// NOTE: each test file uses its own part of it.
#[allow(dead_code)]
#[path = "../../src/proptest_cases.rs"]
mod proptest_cases;

#[allow(unused_imports)]
pub use proptest_cases::{config, service_error_message};

#[allow(dead_code)]
pub mod wire;
