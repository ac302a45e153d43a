//! The core's Prometheus text as a flat map: `name:label1:label2 -> value` (docs/reference.md §12),
//! e.g.
//! `lambda_rie_invocations_total:orders:success`.

/// Parse every sample line of a Prometheus text exposition; comments and malformed lines are
/// skipped. Label values are joined with `:` in the order they appear.
pub fn flatten(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(sample)
        .collect()
}

fn sample(line: &str) -> Option<(String, f64)> {
    let (series, value) = line.trim().rsplit_once(' ')?;
    let value: f64 = value.parse().ok()?;
    let Some((name, labels)) = series.split_once('{') else {
        return Some((series.to_owned(), value));
    };
    let labels = labels.strip_suffix('}')?;
    let mut key = name.to_owned();
    for pair in labels.split("\",").filter(|p| !p.is_empty()) {
        let (_, quoted) = pair.split_once('=')?;
        key.push(':');
        key.push_str(quoted.trim_start_matches('"').trim_end_matches('"'));
    }
    Some((key, value))
}

#[cfg(test)]
mod tests {
    use super::flatten;

    #[test]
    fn joins_label_values() {
        let text = "# HELP x y\n\
            lambda_rie_invocations_total{function=\"f\",outcome=\"success\"} 3\n\
            lambda_rie_duration_seconds_bucket{function=\"f\",le=\"+Inf\"} 2\n\
            lambda_rie_duration_seconds_sum{function=\"f\"} 0.25\n";
        assert_eq!(
            flatten(text),
            vec![
                ("lambda_rie_invocations_total:f:success".to_owned(), 3.0),
                ("lambda_rie_duration_seconds_bucket:f:+Inf".to_owned(), 2.0),
                ("lambda_rie_duration_seconds_sum:f".to_owned(), 0.25),
            ]
        );
    }
}
