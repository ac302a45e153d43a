//! API Gateway routes: `METHOD /path/{param}/{proxy+}` keys, matched as API Gateway matches them
//! (docs/reference.md §15): a route with more literal segments wins over one with parameters,
//! a greedy `{proxy+}` loses to both, `ANY` loses to the request's own method, and `$default`
//! catches what nothing else does.

use serde_json::{Map, Value};

use crate::config::HttpRoute;

/// One route of the table: its key and the function behind it.
#[derive(Debug, Clone)]
pub struct Route {
    /// The function it invokes.
    pub function: String,
    /// The route as declared.
    pub route: HttpRoute,
}

/// What a request matched: the route, and the values of its path parameters.
#[derive(Debug)]
pub struct Matched<'a> {
    /// The route.
    pub route: &'a Route,
    /// `{name}` and `{name+}` values, by name; none when the route has no parameter.
    pub parameters: Option<Map<String, Value>>,
}

/// Every route of the served functions.
#[derive(Debug, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

/// How well a route fits a request: larger is better.
type Score = (bool, bool, usize, usize);

/// A path that fits a route's pattern.
struct PathMatch {
    parameters: Option<Map<String, Value>>,
    literals: usize,
    greedy: bool,
}

impl RouteTable {
    /// The routes of `functions` (name, its routes).
    pub fn new(routes: Vec<Route>) -> Self {
        Self { routes }
    }

    /// Whether there is no route at all.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// The route serving `method` `path`, if any.
    pub fn find(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut best: Option<(Score, Matched<'_>)> = None;
        for route in &self.routes {
            let method_fits = match &route.route.method {
                None => false,
                Some(m) if m.eq_ignore_ascii_case(method) => true,
                Some(_) => continue,
            };
            let Some(path_pattern) = &route.route.path else {
                // `$default`: the weakest match there is.
                if best.is_none() {
                    best = Some((
                        (false, false, 0, 0),
                        Matched {
                            route,
                            parameters: None,
                        },
                    ));
                }
                continue;
            };
            let Some(m) = match_path(path_pattern, &segments) else {
                continue;
            };
            let score = (true, !m.greedy, m.literals, usize::from(method_fits));
            if best.as_ref().is_none_or(|(s, _)| score > *s) {
                let parameters = m.parameters;
                best = Some((score, Matched { route, parameters }));
            }
        }
        best.map(|(_, m)| m)
    }
}

/// Match `segments` against `pattern`: the parameters, how many literal segments matched, and
/// whether a greedy parameter took the rest.
fn match_path(pattern: &str, segments: &[&str]) -> Option<PathMatch> {
    let parts: Vec<&str> = pattern.split('/').filter(|s| !s.is_empty()).collect();
    let mut parameters = Map::new();
    let mut literals = 0;
    for (i, part) in parts.iter().enumerate() {
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix("+}")) {
            // A greedy parameter is last and takes at least one segment.
            if i + 1 != parts.len() || segments.len() <= i {
                return None;
            }
            parameters.insert(name.to_owned(), Value::String(segments[i..].join("/")));
            return Some(PathMatch {
                parameters: Some(parameters),
                literals,
                greedy: true,
            });
        }
        let segment = segments.get(i)?;
        if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            parameters.insert(
                name.to_owned(),
                Value::String(crate::invoke_api::routing::percent_decode(segment)),
            );
        } else if part == segment {
            literals += 1;
        } else {
            return None;
        }
    }
    (parts.len() == segments.len()).then(|| PathMatch {
        parameters: (!parameters.is_empty()).then_some(parameters),
        literals,
        greedy: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiKind, HttpRoute};

    fn route(function: &str, method: Option<&str>, path: Option<&str>) -> Route {
        Route {
            function: function.to_owned(),
            route: HttpRoute {
                method: method.map(str::to_owned),
                path: path.map(str::to_owned),
                api: ApiKind::Http,
                payload_v1: false,
                settings: crate::config::gateway::ApiSettings::implicit(ApiKind::Http),
                authorizer: None,
            },
        }
    }

    fn table() -> RouteTable {
        RouteTable::new(vec![
            route("list", Some("GET"), Some("/items")),
            route("get", Some("GET"), Some("/items/{id}")),
            route("special", Some("GET"), Some("/items/special")),
            route("any", None, Some("/items/{id}")),
            route("files", Some("GET"), Some("/files/{path+}")),
            route("fallback", None, None),
        ])
    }

    fn found(method: &str, path: &str) -> (String, Option<Map<String, Value>>) {
        let t = table();
        let m = t.find(method, path).expect("a route");
        (m.route.function.clone(), m.parameters)
    }

    #[test]
    fn literal_beats_parameter_and_method_beats_any() {
        assert_eq!(found("GET", "/items").0, "list");
        assert_eq!(found("GET", "/items/special").0, "special");
        let (f, p) = found("GET", "/items/42");
        assert_eq!(f, "get");
        assert_eq!(p.unwrap()["id"], "42");
        assert_eq!(found("DELETE", "/items/42").0, "any");
    }

    #[test]
    fn greedy_parameters_take_the_rest_and_default_catches_all() {
        let (f, p) = found("GET", "/files/a/b/c.txt");
        assert_eq!(f, "files");
        assert_eq!(p.unwrap()["path"], "a/b/c.txt");
        // A greedy parameter needs at least one segment.
        assert_eq!(found("GET", "/files").0, "fallback");
        assert_eq!(found("POST", "/nowhere").0, "fallback");
        assert_eq!(found("GET", "/items/1/2").0, "fallback");
    }

    #[test]
    fn without_default_nothing_matches_an_unknown_path() {
        let t = RouteTable::new(vec![route("list", Some("GET"), Some("/items"))]);
        assert!(t.find("GET", "/other").is_none());
        assert!(t.find("POST", "/items").is_none());
        assert!(t.find("get", "/items/").is_some());
    }
}
