//! The checks of a mapping's members, each in AWS's words: ranges, destinations, response
//! types, filters, scaling, and the rules across members.

use serde_json::{json, Map, Value};

use super::{MAX_FIFO_BATCH_SIZE, MAX_FILTERS};
use crate::aws::ServiceError;
use crate::event_sources::filter::Filters;
use crate::event_sources::source::SourceKind;

/// The numeric member `key` of `req` (camelCase `member` in errors) within `lo..=hi`.
pub(super) fn ranged(
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

pub(super) fn record_age(req: &Map<String, Value>) -> Result<Option<i64>, ServiceError> {
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

pub(super) fn destination_config(d: &Value) -> Result<Value, ServiceError> {
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

pub(super) fn response_types(
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

pub(super) fn filter_criteria(
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

pub(super) fn scaling_config(
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
pub(super) fn check_batching(
    kind: SourceKind,
    doc: &Map<String, Value>,
) -> Result<(), ServiceError> {
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
