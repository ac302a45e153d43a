//! Where a call to an AWS service goes: `--aws-endpoint-url`, then the SDKs' endpoint
//! variables, then the service's regional AWS endpoint (docs/reference.md §16).

use super::credentials::EnvLookup;
use super::Service;

/// The endpoint settings read once, when the client is made.
#[derive(Clone, Debug, Default)]
pub(crate) struct Endpoints {
    /// `--aws-endpoint-url`: every service goes there.
    explicit: Option<String>,
    /// `AWS_ENDPOINT_URL_<SERVICE>` values found, per service.
    per_service: Vec<(Service, String)>,
    /// `AWS_ENDPOINT_URL`.
    global: Option<String>,
}

/// Each service's `AWS_ENDPOINT_URL_<SERVICE>` variable.
// NOTE: the AWS SDKs name it after the service id upper-cased with spaces as underscores
// ("DynamoDB Streams" -> DYNAMODB_STREAMS); source: the AWS SDKs and Tools Reference Guide,
// "Service-specific endpoints" and "Identifiers for service-specific endpoints"
// (docs.aws.amazon.com/sdkref/latest/guide/ss-endpoints-table.html).
const SERVICE_VARIABLES: [(Service, &str); 6] = [
    (Service::Sqs, "AWS_ENDPOINT_URL_SQS"),
    (Service::Kinesis, "AWS_ENDPOINT_URL_KINESIS"),
    (
        Service::DynamoDbStreams,
        "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
    ),
    (Service::Sns, "AWS_ENDPOINT_URL_SNS"),
    (Service::EventBridge, "AWS_ENDPOINT_URL_EVENTBRIDGE"),
    (Service::S3, "AWS_ENDPOINT_URL_S3"),
];

/// A configured URL without its trailing slashes (`http://127.0.0.1:5000/` → `…:5000`).
fn trimmed(url: &str) -> Option<String> {
    let url = url.trim().trim_end_matches('/');
    (!url.is_empty()).then(|| url.to_owned())
}

impl Endpoints {
    /// Read the endpoint settings; `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true` drops the
    /// variables (not the explicit URL), as in the SDKs.
    pub(crate) fn new(explicit: Option<&str>, env: EnvLookup<'_>) -> Self {
        let explicit = explicit.and_then(trimmed);
        let ignore = env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
        if ignore {
            return Self {
                explicit,
                ..Self::default()
            };
        }
        let per_service = SERVICE_VARIABLES
            .iter()
            .filter_map(|(service, variable)| {
                env(variable)
                    .as_deref()
                    .and_then(trimmed)
                    .map(|url| (*service, url))
            })
            .collect();
        let global = env("AWS_ENDPOINT_URL").as_deref().and_then(trimmed);
        Self {
            explicit,
            per_service,
            global,
        }
    }

    /// The base URL of `service` in `region`, without a trailing slash.
    pub(crate) fn resolve(&self, service: Service, region: &str) -> String {
        let configured = self.explicit.as_ref().or_else(|| {
            self.per_service
                .iter()
                .find(|(s, _)| *s == service)
                .map(|(_, url)| url)
                .or(self.global.as_ref())
        });
        if let Some(url) = configured {
            return url.clone();
        }
        // NOTE: the China partition's hosts end in amazonaws.com.cn; every other commercial
        // region's in amazonaws.com.
        let suffix = if region.starts_with("cn-") {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("https://{}.{region}.{suffix}", service.endpoint_prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn endpoints(explicit: Option<&str>, pairs: &[(&str, &str)]) -> Endpoints {
        let map: HashMap<&str, &str> = pairs.iter().copied().collect();
        Endpoints::new(explicit, &|name| map.get(name).map(|v| (*v).to_owned()))
    }

    /// Check where each `(service, region)` of `cases` goes.
    fn assert_resolves(e: &Endpoints, cases: &[(Service, &str, &str)]) {
        for (service, region, url) in cases {
            assert_eq!(e.resolve(*service, region), *url, "{service:?} in {region}");
        }
    }

    #[test]
    fn the_explicit_url_wins_over_every_variable() {
        let e = endpoints(
            Some("http://127.0.0.1:5055/"),
            &[
                ("AWS_ENDPOINT_URL_SQS", "http://sqs.local"),
                ("AWS_ENDPOINT_URL", "http://all.local"),
            ],
        );
        assert_resolves(
            &e,
            &[
                (Service::Sqs, "us-east-1", "http://127.0.0.1:5055"),
                (Service::S3, "us-east-1", "http://127.0.0.1:5055"),
            ],
        );
    }

    #[test]
    fn a_service_variable_wins_over_the_global_one() {
        let e = endpoints(
            None,
            &[
                (
                    "AWS_ENDPOINT_URL_DYNAMODB_STREAMS",
                    "http://streams.local:1",
                ),
                ("AWS_ENDPOINT_URL_EVENTBRIDGE", "http://events.local:2"),
                ("AWS_ENDPOINT_URL", "http://all.local:3"),
            ],
        );
        assert_resolves(
            &e,
            &[
                (
                    Service::DynamoDbStreams,
                    "eu-west-1",
                    "http://streams.local:1",
                ),
                (Service::EventBridge, "eu-west-1", "http://events.local:2"),
                (Service::Kinesis, "eu-west-1", "http://all.local:3"),
            ],
        );
    }

    #[test]
    fn without_settings_the_regional_aws_endpoint() {
        assert_resolves(
            &endpoints(None, &[]),
            &[
                (
                    Service::Sqs,
                    "eu-west-1",
                    "https://sqs.eu-west-1.amazonaws.com",
                ),
                (
                    Service::DynamoDbStreams,
                    "us-east-2",
                    "https://streams.dynamodb.us-east-2.amazonaws.com",
                ),
                (
                    Service::EventBridge,
                    "ap-south-1",
                    "https://events.ap-south-1.amazonaws.com",
                ),
                (
                    Service::Sns,
                    "cn-north-1",
                    "https://sns.cn-north-1.amazonaws.com.cn",
                ),
            ],
        );
    }

    #[test]
    fn every_service_has_its_own_variable() {
        for (service, variable) in SERVICE_VARIABLES {
            let url = format!("http://{variable}.local");
            let e = endpoints(None, &[(variable, url.as_str())]);
            assert_resolves(&e, &[(service, "us-east-1", url.as_str())]);
            let others = SERVICE_VARIABLES.iter().filter(|(s, _)| *s != service);
            for (other, _) in others {
                assert_ne!(e.resolve(*other, "us-east-1"), url, "{other:?}");
            }
        }
    }

    #[test]
    fn ignoring_configured_endpoints_keeps_only_the_explicit_one() {
        let pairs = [
            ("AWS_ENDPOINT_URL", "http://all.local"),
            ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"),
        ];
        assert_resolves(
            &endpoints(None, &pairs),
            &[(
                Service::S3,
                "us-east-1",
                "https://s3.us-east-1.amazonaws.com",
            )],
        );
        assert_resolves(
            &endpoints(Some("http://x:1"), &pairs),
            &[(Service::S3, "us-east-1", "http://x:1")],
        );
    }
}
