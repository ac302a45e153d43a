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
            deleted: false,
        }
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

/// The numeric member `key` of `req` (camelCase `member` in errors) within `lo..=hi`.
fn ranged(
    req: &Map<String, Value>,
    key: &str,
    member: &'static str,
    lo: i64,
    hi: i64,
) -> Result<Option<i64>, ServiceError> {
    let Some(v) = req.get(key) else {
        return Ok(None);
    };
    let n = v.as_i64().ok_or_else(|| {
        ServiceError::validation(&v.to_string(), member, "Member must be a number")
    })?;
    if n < lo {
        return Err(ServiceError::validation(
            &n.to_string(),
            member,
            format!("Member must have value greater than or equal to {lo}"),
        ));
    }
    if n > hi {
        return Err(ServiceError::validation(
            &n.to_string(),
            member,
            format!("Member must have value less than or equal to {hi}"),
        ));
    }
    Ok(Some(n))
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

fn record_age(req: &Map<String, Value>) -> Result<Option<i64>, ServiceError> {
    let age = ranged(
        req,
        "MaximumRecordAgeInSeconds",
        "maximumRecordAgeInSeconds",
        -1,
        604_800,
    )?;
    if let Some(a) = age.filter(|a| (0..60).contains(a)) {
        return Err(ServiceError::validation(
            &a.to_string(),
            "maximumRecordAgeInSeconds",
            "Member must have value greater than or equal to 60",
        ));
    }
    Ok(age)
}

fn destination_config(d: &Value) -> Result<Value, ServiceError> {
    let target = d
        .get("OnFailure")
        .and_then(|o| o.get("Destination"))
        .and_then(Value::as_str);
    match target {
        None => Ok(json!({"OnFailure": {}})),
        Some(arn)
            if arn.starts_with("arn:aws:sqs:")
                || arn.starts_with("arn:aws:sns:")
                || arn.starts_with("arn:aws:s3:::") =>
        {
            Ok(json!({"OnFailure": {"Destination": arn}}))
        }
        Some(arn) => Err(ServiceError::invalid_parameter(&format!(
            "The provided destination config DestinationConfig(onSuccess=null, onFailure=OnFailure(destination={arn})) is invalid."
        ))),
    }
}

fn response_types(
    req: &Map<String, Value>,
    doc: &mut Map<String, Value>,
) -> Result<(), ServiceError> {
    let Some(types) = req.get("FunctionResponseTypes") else {
        return Ok(());
    };
    let list = types.as_array().cloned().unwrap_or_default();
    for t in &list {
        if t != "ReportBatchItemFailures" {
            return Err(ServiceError::validation(
                &t.to_string(),
                "functionResponseTypes",
                "Member must satisfy enum value set: [ReportBatchItemFailures]",
            ));
        }
    }
    doc.insert("FunctionResponseTypes".into(), Value::Array(list));
    Ok(())
}

fn filter_criteria(
    req: &Map<String, Value>,
    kind: SourceKind,
    doc: &mut Map<String, Value>,
) -> Result<(), ServiceError> {
    let Some(criteria) = req.get("FilterCriteria") else {
        return Ok(());
    };
    let count = criteria
        .get("Filters")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if count > MAX_FILTERS {
        // NOTE: AWS's text for too many filters is not on record; this one says the limit.
        return Err(ServiceError::invalid_parameter(
            "Invalid filter pattern definition. The maximum number of filters is 5.",
        ));
    }
    Filters::compile(criteria, kind).map_err(|m| ServiceError::invalid_parameter(&m))?;
    if count == 0 {
        // `FilterCriteria: {}` clears the filters.
        doc.remove("FilterCriteria");
    } else {
        doc.insert("FilterCriteria".into(), criteria.clone());
    }
    Ok(())
}

fn scaling_config(
    req: &Map<String, Value>,
    kind: SourceKind,
    doc: &mut Map<String, Value>,
) -> Result<(), ServiceError> {
    let Some(cfg) = req.get("ScalingConfig").and_then(Value::as_object) else {
        return Ok(());
    };
    if kind != SourceKind::Sqs {
        return Err(ServiceError::invalid_parameter(
            "Unsupported ScalingConfig parameter for given event source mapping type.",
        ));
    }
    match ranged(
        cfg,
        "MaximumConcurrency",
        "scalingConfig.maximumConcurrency",
        2,
        1000,
    )? {
        Some(n) => doc.insert("ScalingConfig".into(), json!({"MaximumConcurrency": n})),
        None => doc.remove("ScalingConfig"),
    };
    Ok(())
}

/// AWS's cross-field rules: an SQS batch over 10 needs a batching window, a FIFO queue takes
/// at most 10 per batch.
fn check_batching(kind: SourceKind, doc: &Map<String, Value>) -> Result<(), ServiceError> {
    if kind != SourceKind::Sqs {
        return Ok(());
    }
    let batch = doc.get("BatchSize").and_then(Value::as_i64).unwrap_or(10);
    let window = doc
        .get("MaximumBatchingWindowInSeconds")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let fifo = doc
        .get("EventSourceArn")
        .and_then(Value::as_str)
        .is_some_and(|a| a.strip_suffix(".fifo").is_some());
    if fifo && batch > MAX_FIFO_BATCH_SIZE {
        // NOTE: AWS's text for this limit is not on record; this one names the limit.
        return Err(ServiceError::invalid_parameter(
            "Batch size for a FIFO queue must be less than or equal to 10.",
        ));
    }
    if batch > 10 && window == 0 {
        return Err(ServiceError::invalid_parameter(
            "Maximum batch window in seconds must be greater than 0 if maximum batch size is greater than 10",
        ));
    }
    Ok(())
}

/// `LastModified` of a mapping: epoch seconds with milliseconds.
fn now() -> f64 {
    crate::clock::epoch_ms() as f64 / 1000.0
}

#[cfg(test)]
mod tests;
