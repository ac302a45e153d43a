//! Which function an Invoke API path names: `function`, a name, a partial or a full ARN,
//! with an optional qualifier (SPEC 2).

use std::sync::Arc;

use crate::aws::LATEST;
use crate::scheduler::Scheduler;

/// A resolved invoke target.
pub struct Target {
    /// The function's scheduler.
    pub scheduler: Arc<Scheduler>,
    /// The ARN the function sees as `invoked_function_arn`.
    pub invoked_arn: String,
}

/// The functions the emulator serves, and the region and account their ARNs carry.
pub struct Directory {
    /// Every function; the first is the default (`function`).
    pub functions: Vec<Arc<Scheduler>>,
    /// The queue of `Event` invocations.
    pub async_invoker: Arc<crate::async_queue::AsyncInvoker>,
    /// Region of every ARN.
    pub region: String,
    /// Account of every ARN.
    pub account_id: String,
}

/// The pieces of a function identifier.
#[derive(Debug, PartialEq, Eq)]
struct Identifier<'a> {
    name: &'a str,
    qualifier: Option<&'a str>,
    region: Option<&'a str>,
    account: Option<&'a str>,
}

fn split(id: &str) -> Identifier<'_> {
    let parts: Vec<&str> = id.split(':').collect();
    match parts.as_slice() {
        ["arn", "aws", "lambda", region, account, "function", name] => Identifier {
            name,
            qualifier: None,
            region: Some(region),
            account: Some(account),
        },
        ["arn", "aws", "lambda", region, account, "function", name, q] => Identifier {
            name,
            qualifier: Some(q),
            region: Some(region),
            account: Some(account),
        },
        [account, "function", name] => Identifier {
            name,
            qualifier: None,
            region: None,
            account: Some(account),
        },
        [account, "function", name, q] => Identifier {
            name,
            qualifier: Some(q),
            region: None,
            account: Some(account),
        },
        [name, q] => Identifier {
            name,
            qualifier: Some(q),
            region: None,
            account: None,
        },
        _ => Identifier {
            name: id,
            qualifier: None,
            region: None,
            account: None,
        },
    }
}

impl Directory {
    /// Prometheus text of every function's metrics.
    pub fn metrics_text(&self) -> String {
        let counts: Vec<_> = self
            .functions
            .iter()
            .map(|s| {
                (
                    s.function().config.name.as_str(),
                    s.metrics(),
                    s.environment_counts(),
                )
            })
            .collect();
        crate::metrics::render_all(&counts)
    }

    /// Queue an `Event` invocation of `payload` for `target`; its request id, or AWS's 429
    /// when the queue is full.
    pub fn enqueue_event(
        &self,
        target: Target,
        payload: bytes::Bytes,
        trace_id: Option<String>,
    ) -> Result<String, crate::aws::ServiceError> {
        let event = crate::async_queue::QueuedEvent {
            function: target.scheduler.function().config.name.clone(),
            request_id: crate::invocation::new_request_id(),
            payload,
            invoked_arn: target.invoked_arn,
            trace_id: trace_id.unwrap_or_else(crate::invocation::new_trace_id),
            accepted_ms: crate::clock::epoch_ms(),
            attempts: 0,
        };
        let id = event.request_id.clone();
        let scheduler = std::sync::Arc::clone(&target.scheduler);
        if self.async_invoker.enqueue(target.scheduler, event).is_err() {
            // NOTE: AWS documents no reason of its own for a full async queue; it is the
            // account's concurrency that such a queue protects.
            scheduler.metrics().throttled();
            return Err(crate::aws::ServiceError::throttled(false));
        }
        Ok(id)
    }

    fn arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            self.region, self.account_id
        )
    }

    /// Resolve a (percent-decoded) path identifier and `Qualifier` query parameter; the error
    /// is the qualified ARN for the 404 message.
    pub fn resolve(&self, id: &str, query_qualifier: Option<&str>) -> Result<Target, String> {
        let ident = split(id);
        let qualifier = ident.qualifier.or(query_qualifier);
        let not_found = || format!("{}:{}", self.arn(ident.name), qualifier.unwrap_or(LATEST));
        if ident.region.is_some_and(|r| r != self.region)
            || ident.account.is_some_and(|a| a != self.account_id)
        {
            return Err(not_found());
        }
        let scheduler = if ident.name == "function" && ident.account.is_none() {
            self.functions.first()
        } else {
            self.functions
                .iter()
                .find(|s| s.function().config.name == ident.name)
        };
        let Some(scheduler) = scheduler else {
            return Err(not_found());
        };
        let aliases = &scheduler.function().config.aliases;
        if qualifier.is_some_and(|q| q != LATEST && !aliases.iter().any(|(a, _)| a == q)) {
            return Err(not_found());
        }
        let base = self.arn(&scheduler.function().config.name);
        let invoked_arn = match qualifier {
            Some(q) => format!("{base}:{q}"),
            None => base,
        };
        Ok(Target {
            scheduler: Arc::clone(scheduler),
            invoked_arn,
        })
    }
}

/// Decode `%XX` escapes (function names and ARNs arrive URL-encoded from SDKs).
pub fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `key` in a query string.
pub fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_every_form() {
        assert_eq!(split("f").name, "f");
        let full = split("arn:aws:lambda:us-east-1:012345678912:function:f:live");
        assert_eq!(full.name, "f");
        assert_eq!(full.qualifier, Some("live"));
        assert_eq!(full.region, Some("us-east-1"));
        let partial = split("012345678912:function:f");
        assert_eq!(partial.account, Some("012345678912"));
        assert_eq!(partial.name, "f");
        assert_eq!(split("f:$LATEST").qualifier, Some("$LATEST"));
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(percent_decode("arn%3Aaws%3Alambda"), "arn:aws:lambda");
        assert_eq!(percent_decode("%24LATEST"), "$LATEST");
        assert_eq!(percent_decode("50%"), "50%");
    }
}
