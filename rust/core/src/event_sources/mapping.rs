//! An event source mapping's document (AWS's `EventSourceMappingConfiguration`): the fields of
//! Create and Update checked against AWS's limits, their per-source defaults, and the typed
//! settings a poller reads (docs/reference.md §16.1).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::filter::Filters;
use super::source::SourceKind;
use crate::aws::ServiceError;

/// The largest batch any source takes.
pub const MAX_BATCH_SIZE: i64 = 10_000;
/// The largest batch of a FIFO queue.
pub const MAX_FIFO_BATCH_SIZE: i64 = 10;
/// The most filters a mapping takes.
const MAX_FILTERS: usize = 5;

/// What a poller needs to know of its mapping; a new value replaces it on every update.
// NOTE: the booleans are AWS's own switches of a mapping (Enabled, BisectBatchOnFunctionError,
// ReportBatchItemFailures) and the deletion flag; each is read on its own.
#[allow(clippy::struct_excessive_bools)]
#[derive(Clone)]
pub struct MappingSettings {
    /// The mapping's id.
    pub uuid: String,
    /// The service it reads.
    pub kind: SourceKind,
    /// The queue or stream.
    pub source_arn: String,
    /// The function (maybe qualified) the batches go to.
    pub function_arn: String,
    /// Whether it polls.
    pub enabled: bool,
    /// Records per batch at most.
    pub batch_size: usize,
    /// How long a batch is gathered.
    pub window: Duration,
    /// `FunctionResponseTypes: ["ReportBatchItemFailures"]`.
    pub report_failures: bool,
    /// The compiled `FilterCriteria`.
    pub filters: Arc<Filters>,
    /// `ScalingConfig.MaximumConcurrency`.
    pub max_concurrency: Option<u32>,
    /// `StartingPosition` (streams).
    pub starting_position: Option<String>,
    /// `StartingPositionTimestamp`, epoch seconds.
    pub starting_timestamp: Option<f64>,
    /// `ParallelizationFactor`.
    pub parallelization: u32,
    /// `MaximumRetryAttempts` (-1: until the record expires).
    pub max_retries: i64,
    /// `MaximumRecordAgeInSeconds` (-1: no limit).
    pub max_record_age: i64,
    /// `BisectBatchOnFunctionError`.
    pub bisect: bool,
    /// `DestinationConfig.OnFailure.Destination`.
    pub on_failure: Option<String>,
    /// `TumblingWindowInSeconds` (zero: no windows).
    pub tumbling_window: Duration,
    /// The mapping was deleted: finish the batch in flight and stop.
    pub deleted: bool,
}

impl MappingSettings {
    /// The settings of a stored document.
    pub fn of(doc: &Map<String, Value>) -> Self {
        let kind = doc
            .get("EventSourceArn")
            .and_then(Value::as_str)
            .and_then(SourceKind::of_arn)
            .unwrap_or(SourceKind::Sqs);
        let int = |k: &str, d: i64| doc.get(k).and_then(Value::as_i64).unwrap_or(d);
        let text = |k: &str| doc.get(k).and_then(Value::as_str).map(str::to_owned);
        let filters = doc
            .get("FilterCriteria")
            .and_then(|c| Filters::compile(c, kind).ok())
            .or_else(|| Filters::compile(&json!({}), kind).ok());
        Self {
            uuid: text("UUID").unwrap_or_default(),
            kind,
            source_arn: text("EventSourceArn").unwrap_or_default(),
            function_arn: text("FunctionArn").unwrap_or_default(),
            enabled: text("State").as_deref() != Some("Disabled"),
            batch_size: int("BatchSize", 10).max(1) as usize,
            window: Duration::from_secs(int("MaximumBatchingWindowInSeconds", 0).max(0) as u64),
            report_failures: doc
                .get("FunctionResponseTypes")
                .and_then(Value::as_array)
                .is_some_and(|t| t.iter().any(|t| t == "ReportBatchItemFailures")),
            filters: Arc::new(filters.unwrap_or_else(empty_filters)),
            max_concurrency: doc
                .get("ScalingConfig")
                .and_then(|s| s.get("MaximumConcurrency"))
                .and_then(Value::as_u64)
                .map(|n| n as u32),
            starting_position: text("StartingPosition"),
            starting_timestamp: doc.get("StartingPositionTimestamp").and_then(Value::as_f64),
            parallelization: int("ParallelizationFactor", 1).clamp(1, 10) as u32,
            max_retries: int("MaximumRetryAttempts", -1),
            max_record_age: int("MaximumRecordAgeInSeconds", -1),
            bisect: doc
                .get("BisectBatchOnFunctionError")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            on_failure: doc
                .get("DestinationConfig")
                .and_then(|d| d.get("OnFailure"))
                .and_then(|o| o.get("Destination"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            tumbling_window: Duration::from_secs(
                int("TumblingWindowInSeconds", 0).clamp(0, 900) as u64
            ),
            deleted: false,
        }
    }

    /// Deleted or disabled: nothing more is delivered (a batch in delivery stops).
    pub fn stopped(&self) -> bool {
        self.deleted || !self.enabled
    }
}

fn empty_filters() -> Filters {
    // NOTE: compiling `{}` cannot fail; this is the value of an absent FilterCriteria.
    Filters::compile(&json!({}), SourceKind::Sqs).unwrap_or_else(|_| unreachable!())
}

/// A new mapping's document from a CreateEventSourceMapping body: every field checked, the
/// source's defaults filled in. `function_arn` is the resolved target (its qualifier kept).
pub fn create(
    req: &Map<String, Value>,
    kind: SourceKind,
    uuid: &str,
    function_arn: &str,
    mapping_arn: &str,
) -> Result<Map<String, Value>, ServiceError> {
    let source_arn = req
        .get("EventSourceArn")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut doc = Map::new();
    doc.insert("UUID".into(), json!(uuid));
    doc.insert("EventSourceArn".into(), json!(source_arn));
    doc.insert("EventSourceMappingArn".into(), json!(mapping_arn));
    doc.insert("FunctionArn".into(), json!(function_arn));
    doc.insert("FunctionResponseTypes".into(), json!([]));
    doc.insert("MaximumBatchingWindowInSeconds".into(), json!(0));
    if kind == SourceKind::Sqs {
        doc.insert("BatchSize".into(), json!(10));
        doc.insert("StateTransitionReason".into(), json!("USER_INITIATED"));
        if req.contains_key("DestinationConfig") {
            return Err(ServiceError::invalid_parameter(
                "Unsupported DestinationConfig parameter for given event source mapping type.",
            ));
        }
    } else {
        stream_defaults(&mut doc);
        starting_position(req, kind, source_arn, &mut doc)?;
    }
    let enabled = req.get("Enabled").and_then(Value::as_bool).unwrap_or(true);
    doc.insert(
        "State".into(),
        json!(if enabled { "Enabled" } else { "Disabled" }),
    );
    apply(req, kind, &mut doc)?;
    doc.insert("LastModified".into(), json!(now()));
    Ok(doc)
}

fn stream_defaults(doc: &mut Map<String, Value>) {
    for (k, v) in [
        ("BatchSize", json!(100)),
        ("BisectBatchOnFunctionError", json!(false)),
        ("DestinationConfig", json!({"OnFailure": {}})),
        ("LastProcessingResult", json!("No records processed")),
        ("MaximumRecordAgeInSeconds", json!(-1)),
        ("MaximumRetryAttempts", json!(-1)),
        ("ParallelizationFactor", json!(1)),
        ("StateTransitionReason", json!("User action")),
        ("TumblingWindowInSeconds", json!(0)),
    ] {
        doc.insert(k.into(), v);
    }
}

fn starting_position(
    req: &Map<String, Value>,
    kind: SourceKind,
    source_arn: &str,
    doc: &mut Map<String, Value>,
) -> Result<(), ServiceError> {
    let Some(position) = req.get("StartingPosition").and_then(Value::as_str) else {
        return Err(ServiceError::invalid_parameter(
            "1 validation error detected: Value null at 'startingPosition' failed to satisfy constraint: Member must not be null.",
        ));
    };
    if !["LATEST", "AT_TIMESTAMP", "TRIM_HORIZON"].contains(&position) {
        return Err(ServiceError::validation(
            position,
            "startingPosition",
            "Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]",
        ));
    }
    if position == "AT_TIMESTAMP" && kind == SourceKind::DynamoDbStreams {
        return Err(ServiceError::invalid_parameter(&format!(
            "Unsupported starting position for arn type: {source_arn}"
        )));
    }
    doc.insert("StartingPosition".into(), json!(position));
    if let Some(t) = req.get("StartingPositionTimestamp").and_then(Value::as_f64) {
        doc.insert("StartingPositionTimestamp".into(), json!(t));
    }
    Ok(())
}

/// Apply an UpdateEventSourceMapping body to `doc`; the new document is checked whole.
pub fn update(
    doc: &Map<String, Value>,
    req: &Map<String, Value>,
    kind: SourceKind,
) -> Result<Map<String, Value>, ServiceError> {
    let mut next = doc.clone();
    if kind == SourceKind::Sqs && req.contains_key("DestinationConfig") {
        return Err(ServiceError::invalid_parameter(
            "Unsupported DestinationConfig parameter for given event source mapping type.",
        ));
    }
    if let Some(enabled) = req.get("Enabled").and_then(Value::as_bool) {
        next.insert(
            "State".into(),
            json!(if enabled { "Enabled" } else { "Disabled" }),
        );
    }
    apply(req, kind, &mut next)?;
    next.insert("LastModified".into(), json!(now()));
    Ok(next)
}

/// The members Create and Update share, written into `doc` and checked together.
fn apply(
    req: &Map<String, Value>,
    kind: SourceKind,
    doc: &mut Map<String, Value>,
) -> Result<(), ServiceError> {
    let stream = kind != SourceKind::Sqs;
    let mut set = |k: &str, v: Option<i64>| {
        if let Some(v) = v {
            doc.insert(k.into(), json!(v));
        }
    };
    set(
        "BatchSize",
        ranged(req, "BatchSize", "batchSize", 1, MAX_BATCH_SIZE)?,
    );
    set(
        "MaximumBatchingWindowInSeconds",
        ranged(
            req,
            "MaximumBatchingWindowInSeconds",
            "maximumBatchingWindowInSeconds",
            0,
            300,
        )?,
    );
    if stream {
        set(
            "ParallelizationFactor",
            ranged(req, "ParallelizationFactor", "parallelizationFactor", 1, 10)?,
        );
        set(
            "MaximumRetryAttempts",
            ranged(
                req,
                "MaximumRetryAttempts",
                "maximumRetryAttempts",
                -1,
                10_000,
            )?,
        );
        set("MaximumRecordAgeInSeconds", record_age(req)?);
        set(
            "TumblingWindowInSeconds",
            ranged(
                req,
                "TumblingWindowInSeconds",
                "tumblingWindowInSeconds",
                0,
                900,
            )?,
        );
        if let Some(b) = req
            .get("BisectBatchOnFunctionError")
            .and_then(Value::as_bool)
        {
            doc.insert("BisectBatchOnFunctionError".into(), json!(b));
        }
        if let Some(d) = req.get("DestinationConfig") {
            doc.insert("DestinationConfig".into(), destination_config(d)?);
        }
    }
    response_types(req, doc)?;
    filter_criteria(req, kind, doc)?;
    scaling_config(req, kind, doc)?;
    check_batching(kind, doc)
}

/// `LastModified` of a mapping: epoch seconds with milliseconds.
fn now() -> f64 {
    crate::clock::epoch_ms() as f64 / 1000.0
}

mod checks;
#[cfg(test)]
mod tests;

use checks::{
    check_batching, destination_config, filter_criteria, ranged, record_age, response_types,
    scaling_config,
};
