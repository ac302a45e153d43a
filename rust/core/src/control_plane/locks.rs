//! Which control-plane calls wait for which: a lock per function, per layer, for the event
//! source mappings and for the account's reserved concurrency. A call takes the locks of what
//! it reads and writes, always in the order of [`keys`], so two calls never deadlock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::OwnedMutexGuard;

use super::ApiRequest;
use crate::invoke_api::routing::{percent_decode, split};

/// Entries kept before unheld ones are dropped (names of calls that are over).
const PRUNE_AT: usize = 256;

/// The locks, made on first use.
#[derive(Default)]
pub(super) struct Locks(Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

impl Locks {
    /// Hold every lock of `keys`, taken in their order.
    pub(super) async fn acquire(&self, keys: &[String]) -> Vec<OwnedMutexGuard<()>> {
        let mut held = Vec::with_capacity(keys.len());
        for key in keys {
            let lock = {
                let mut map = self.0.lock().unwrap_or_else(PoisonError::into_inner);
                if map.len() >= PRUNE_AT {
                    map.retain(|_, l| Arc::strong_count(l) > 1);
                }
                Arc::clone(map.entry(key.clone()).or_default())
            };
            held.push(lock.lock_owned().await);
        }
        held
    }
}

/// The lock keys of a request: `function:<name>` for a call on a function, `layer:<name>`, `event-source-mappings`, and
/// `account-concurrency` after the function for PutFunctionConcurrency, which checks the sum
/// over every function. Reads of lists take none.
pub(super) fn keys(req: &ApiRequest) -> Vec<String> {
    let path = req.path.trim_end_matches('/');
    if path.starts_with("/2015-03-31/event-source-mappings") {
        return vec!["event-source-mappings".to_owned()];
    }
    if let Some(rest) = path.strip_prefix("/2018-10-31/layers/") {
        let name = percent_decode(rest.split('/').next().unwrap_or(""));
        return vec![format!("layer:{name}")];
    }
    if let Some(arn) = path.strip_prefix("/2017-03-31/tags/") {
        let arn = percent_decode(arn);
        // NOTE: a mapping's tags are kept in its record: they take the mappings' lock.
        if arn.contains(":event-source-mapping:") {
            return vec!["event-source-mappings".to_owned()];
        }
        return vec![function_key(&arn)];
    }
    if path == "/2015-03-31/functions" {
        // NOTE: CreateFunction takes its function's lock itself once it has parsed the body
        // (scanning a 70 MB body twice for the name would cost more than the call's work).
        return Vec::new();
    }
    let Some((date, rest)) = path
        .strip_prefix('/')
        .and_then(|p| p.split_once("/functions/"))
    else {
        return Vec::new();
    };
    let mut parts = rest.split('/');
    let id = percent_decode(parts.next().unwrap_or(""));
    let mut keys = vec![function_key(&id)];
    if date == "2017-10-31" && parts.next() == Some("concurrency") {
        keys.push("account-concurrency".to_owned());
    }
    keys
}

/// The lock of the function a name or ARN names.
pub(super) fn function_key(id: &str) -> String {
    format!("function:{}", split(id).name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::Method;

    fn req(method: Method, path: &str, body: &str) -> ApiRequest {
        ApiRequest {
            method,
            path: path.to_owned(),
            query: None,
            host: None,
            body: Bytes::from(body.to_owned()),
        }
    }

    #[test]
    fn calls_lock_what_they_change() {
        for (method, path, body, expected) in [
            (Method::POST, "/2015-03-31/functions", "{}", vec![]),
            (Method::GET, "/2015-03-31/functions", "", vec![]),
            (
                Method::PUT,
                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A012345678912%3Afunction%3Aorders%3A3/configuration",
                "",
                vec!["function:orders"],
            ),
            (
                Method::PUT,
                "/2017-10-31/functions/orders/concurrency",
                "",
                vec!["function:orders", "account-concurrency"],
            ),
            (
                Method::POST,
                "/2017-03-31/tags/arn:aws:lambda:us-east-1:012345678912:function:orders",
                "",
                vec!["function:orders"],
            ),
            (
                Method::POST,
                "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A012345678912%3Aevent-source-mapping%3A14e0db71-5d35-4eb5-b481-8945cf9d10c2",
                "",
                vec!["event-source-mappings"],
            ),
            (
                Method::POST,
                "/2018-10-31/layers/deps/versions",
                "",
                vec!["layer:deps"],
            ),
            (
                Method::DELETE,
                "/2015-03-31/event-source-mappings/abc",
                "",
                vec!["event-source-mappings"],
            ),
        ] {
            assert_eq!(keys(&req(method, path, body)), expected, "{path}");
        }
    }

    #[tokio::test]
    async fn one_function_waits_and_another_does_not() {
        let locks = Arc::new(Locks::default());
        let held = locks.acquire(&["function:a".to_owned()]).await;
        let other = locks.acquire(&["function:b".to_owned()]).await;
        drop(other);
        let waiting = {
            let locks = Arc::clone(&locks);
            tokio::spawn(async move { locks.acquire(&["function:a".to_owned()]).await.len() })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(held);
        assert_eq!(waiting.await.unwrap(), 1);
    }
}
