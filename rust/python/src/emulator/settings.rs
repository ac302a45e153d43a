//! The emulator-wide arguments of `Emulator()` as a core `EmulatorConfig`, and the URL
//! clients reach its Invoke API on.

use std::net::{SocketAddr, ToSocketAddrs};

use lambda_rie_core::config::{
    check_range, EmulatorConfig, LogLevel, ThrottlePolicy, MAX_ENVIRONMENTS_RANGE,
};
use pyo3::PyResult;

use crate::errors;

/// The emulator-wide keyword arguments of `Emulator()`.
pub struct Settings<'a> {
    pub address: &'a str,
    pub max_environments: Option<u32>,
    pub on_throttle: Option<&'a str>,
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub log_level: Option<&'a str>,
}

impl Settings<'_> {
    /// The core configuration; errors name the argument.
    pub fn emulator_config(self) -> PyResult<EmulatorConfig> {
        let mut config = EmulatorConfig::new(parse_address(self.address)?);
        if let Some(n) = self.max_environments {
            config.max_environments = check_range("max_environments", n, MAX_ENVIRONMENTS_RANGE)
                .map_err(errors::config)?;
        }
        config.on_throttle = match self.on_throttle {
            None | Some("reject") => ThrottlePolicy::Reject,
            Some("queue") => ThrottlePolicy::Queue,
            Some(other) => {
                return Err(errors::config(format!(
                    "on_throttle: {other:?} is not reject or queue"
                )))
            }
        };
        if let Some(level) = self.log_level {
            config.log_level = LogLevel::parse(level).ok_or_else(|| {
                errors::config(format!(
                    "log_level: {level:?} is not error, warn, info or debug"
                ))
            })?;
        }
        if let Some(r) = self.region {
            config.region = r;
        }
        if let Some(a) = self.account_id {
            config.account_id = a;
        }
        Ok(config)
    }
}

fn parse_address(address: &str) -> PyResult<SocketAddr> {
    address
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| errors::config(format!("address: {address:?} is not a HOST:PORT address")))
}

/// `http://HOST:PORT` of a listener, with a wildcard address replaced by loopback.
pub fn endpoint_url(addr: SocketAddr) -> String {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    format!("http://{addr}")
}
