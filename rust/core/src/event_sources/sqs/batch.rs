//! One batch of messages on its way to the function, and the deletes of what it processed.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{json, Value};

use super::queue::delete;
use super::Groups;
use crate::aws_client::AwsClient;
use crate::event_sources::batch_response::{parse_batch_response, BatchResponse};
use crate::event_sources::invoke::{self, BatchOutcome};
use crate::event_sources::{MappingSettings, MappingStatus};

/// One batch on its way to the function.
pub(super) struct Batch {
    pub(super) client: AwsClient,
    pub(super) region: String,
    pub(super) url: String,
    pub(super) settings: Arc<MappingSettings>,
    pub(super) status: Arc<MappingStatus>,
    pub(super) groups: Arc<Groups>,
}

impl Batch {
    /// Invoke the function with `records` and delete what it processed.
    pub(super) async fn process(&self, registry: &crate::registry::Registry, records: Vec<Value>) {
        let s = &self.settings;
        MappingStatus::add(&self.status.batches, 1);
        MappingStatus::add(&self.status.records, records.len() as u64);
        if let Some(oldest) = records
            .iter()
            .filter_map(|r| {
                r["attributes"]["SentTimestamp"]
                    .as_str()?
                    .parse::<u64>()
                    .ok()
            })
            .min()
        {
            let age = crate::clock::epoch_ms().saturating_sub(oldest);
            self.status
                .oldest_age_ms
                .store(age, std::sync::atomic::Ordering::Relaxed);
        }
        let payload = Bytes::from(json!({ "Records": records }).to_string());
        let processed: Vec<Value> = match invoke::batch(registry, &s.function_arn, payload).await {
            BatchOutcome::Answered { payload, .. } if s.report_failures => {
                let ids: Vec<&str> = records
                    .iter()
                    .filter_map(|r| r["messageId"].as_str())
                    .collect();
                match parse_batch_response(&payload, &ids) {
                    BatchResponse::AllSucceeded => {
                        self.status.ok();
                        records
                    }
                    BatchResponse::Failed(failed) => {
                        MappingStatus::add(&self.status.failures, 1);
                        self.status.ok();
                        records
                            .into_iter()
                            .filter(|r| {
                                r["messageId"]
                                    .as_str()
                                    .is_some_and(|id| !failed.iter().any(|f| f == id))
                            })
                            .collect()
                    }
                    BatchResponse::Invalid => {
                        MappingStatus::add(&self.status.failures, 1);
                        self.status.quiet_problem("PROBLEM: Function call failed");
                        Vec::new()
                    }
                }
            }
            BatchOutcome::Answered { .. } => {
                self.status.ok();
                records
            }
            BatchOutcome::FunctionError { .. } => {
                MappingStatus::add(&self.status.failures, 1);
                self.status.quiet_problem("PROBLEM: Function call failed");
                Vec::new()
            }
            BatchOutcome::NotInvoked(why) => {
                MappingStatus::add(&self.status.failures, 1);
                self.status.quiet_problem(&format!("PROBLEM: {why}"));
                Vec::new()
            }
        };
        delete(&self.client, &self.region, &self.url, &s.uuid, &processed).await;
    }
}
