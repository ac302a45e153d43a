//! The emulator: functions, their schedulers and the Invoke API listener; start and shutdown.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::async_queue::AsyncInvoker;
use crate::config::{EmulatorConfig, FunctionConfig, HandlerRuntime};
use crate::control_plane::{ControlPlane, ControlPlaneSettings};
use crate::environment::FunctionContext;
use crate::invoke_api::{self, InvokeApi};
use crate::logs;
use crate::registry::Registry;
use crate::scheduler::{EnvironmentCap, Scheduler};
use crate::CoreError;

/// A running emulator.
pub struct Emulator {
    registry: Arc<Registry>,
    events: Arc<AsyncInvoker>,
    control: Arc<ControlPlane>,
    invoke_address: SocketAddr,
    http_address: Option<SocketAddr>,
    shutdown: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<()>>>,
    shutdown_timeout: Duration,
}

impl Emulator {
    /// Start serving `functions` (the first is the default `function`).
    pub async fn start(
        config: &EmulatorConfig,
        functions: Vec<FunctionConfig>,
    ) -> Result<Self, CoreError> {
        logs::set_level(config.log_level);
        logs::open();
        let cap = Arc::new(EnvironmentCap::new(config.max_environments));
        let registry = Arc::new(Registry::new(&config.region, &config.account_id));
        let declared: Vec<(String, Vec<serde_json::Value>)> = functions
            .iter()
            .filter(|f| !f.event_sources.is_empty())
            .map(|f| (f.name.clone(), f.event_sources.clone()))
            .collect();
        for f in functions {
            let fixed_address = f.runtime_api_address.is_some();
            let layers = merged_layers(&f)?;
            let snapstart = if f.snapstart {
                snapstart_template(&f, config, layers.as_deref()).await
            } else {
                None
            };
            let context = Arc::new(FunctionContext {
                config: f,
                region: config.region.clone(),
                account_id: config.account_id.clone(),
                layers,
                snapstart,
            });
            let scheduler = Arc::new(Scheduler::new(
                context,
                Arc::clone(&cap),
                config.on_throttle,
            ));
            if scheduler.function().config.provisioned_concurrency > 0 {
                scheduler.provision().await?;
            } else if fixed_address {
                scheduler.reserve_fixed_address()?;
            }
            tokio::spawn(reap_idle(Arc::downgrade(&scheduler)));
            if scheduler.function().config.watch {
                tokio::spawn(crate::code_watch::watch(Arc::downgrade(&scheduler)));
            }
            registry.add(scheduler)?;
        }
        let events = AsyncInvoker::new(
            Arc::clone(&registry),
            config.async_delay_scale,
            config.async_queue_bytes,
            config.async_state.as_deref(),
            crate::aws_client::AwsClient::new(&aws_settings(config)),
        );
        events.restore();
        let listener = TcpListener::bind(config.invoke_address)
            .await
            .map_err(|source| CoreError::Bind {
                addr: config.invoke_address.to_string(),
                source,
            })?;
        let invoke_address = listener.local_addr()?;
        let (shutdown, shutdown_rx) = watch::channel(false);
        let control = Arc::new(control_plane(config, &registry, &cap).await?);
        for (name, bodies) in declared {
            for body in bodies {
                control
                    .declare_event_source(&name, body)
                    .map_err(|e| CoreError::Config(format!("function {name}: {e}")))?;
            }
        }
        let api = Arc::new(InvokeApi {
            registry: Arc::clone(&registry),
            events: Arc::clone(&events),
            control: Arc::clone(&control),
        });
        let options = crate::http::ConnectionOptions::invoke_api();
        let http = match config.http_address {
            Some(address) => Some(http_listener(address, &api, shutdown_rx.clone()).await?),
            None => None,
        };
        let http_address = http.as_ref().map(|(a, _)| *a);
        let service = Arc::new(move |req| invoke_api::route(Arc::clone(&api), req));
        let invoke = crate::http::serve_with(listener, service, shutdown_rx, None, options);
        let server = tokio::spawn(async move {
            match http {
                Some((_, http)) => {
                    tokio::join!(invoke, http);
                }
                None => invoke.await,
            }
        });
        Ok(Self {
            registry,
            events,
            control,
            invoke_address,
            http_address,
            shutdown,
            server: Mutex::new(Some(server)),
            shutdown_timeout: config.shutdown_timeout,
        })
    }

    /// Where the first function's URL is served at the root (`--http-port`), if anywhere.
    pub fn http_address(&self) -> Option<SocketAddr> {
        self.http_address
    }

    /// Where the Invoke API listens.
    pub fn invoke_address(&self) -> SocketAddr {
        self.invoke_address
    }

    /// Every function the emulator serves.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The control plane (CreateFunction and the rest of the Lambda API).
    pub fn control_plane(&self) -> &Arc<ControlPlane> {
        &self.control
    }

    /// The queue of `Event` invocations.
    pub fn events(&self) -> &Arc<AsyncInvoker> {
        &self.events
    }

    /// The functions' schedulers, default first.
    pub fn schedulers(&self) -> Vec<Arc<Scheduler>> {
        self.registry.all()
    }

    /// The Prometheus text of every function's metrics.
    pub fn metrics_text(&self) -> String {
        self.registry.metrics_text() + &self.control.event_sources().metrics_text()
    }

    /// Stop accepting invocations, let in-flight ones finish (up to the shutdown timeout),
    /// stop every runtime (SIGTERM, SIGKILL after 2 s), and return once all are answered.
    pub async fn shutdown(&self) {
        let _ = self.shutdown.send(true);
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(mut server) = server else { return };
        let deadline = tokio::time::Instant::now() + self.shutdown_timeout;
        let drained = tokio::time::timeout_at(deadline, &mut server).await.is_ok();
        let left = self
            .events
            .drain(deadline.saturating_duration_since(tokio::time::Instant::now()))
            .await;
        self.events.keep_or_report(&left);
        self.control.event_sources().shutdown();
        // NOTE: every version's and the retired ones', whose invocations may still be running.
        for s in self.registry.every_scheduler() {
            s.shutdown().await;
        }
        if !drained {
            // Invocations cut short by the stop are answered now; give them a moment to be sent.
            let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
        }
        logs::flush().await;
    }
}

/// Where event sources and destinations are.
fn aws_settings(config: &EmulatorConfig) -> crate::aws_client::AwsSettings {
    crate::aws_client::AwsSettings {
        endpoint_url: config.aws_endpoint_url.clone(),
    }
}

/// The control plane over the store of `config.state_dir`, its functions served again.
async fn control_plane(
    config: &EmulatorConfig,
    registry: &Arc<Registry>,
    cap: &Arc<EnvironmentCap>,
) -> Result<ControlPlane, CoreError> {
    let store = crate::store::Store::open(config.state_dir.as_deref())
        .map_err(|e| CoreError::State(e.to_string()))?;
    let handler_runtime = config
        .handler_runtime
        .clone()
        .unwrap_or_else(|| HandlerRuntime {
            python: "python3".to_owned(),
            module: crate::config::BUILTIN_RUNTIME_MODULE.to_owned(),
            execution_env: "AWS_Lambda_python3".to_owned(),
        });
    let control = ControlPlane::new(
        Arc::clone(registry),
        store,
        Arc::clone(cap),
        ControlPlaneSettings {
            handler_runtime,
            runtime_commands: config.runtime_commands.clone(),
            on_throttle: config.on_throttle,
            run_as: config.run_as,
            max_environments: config.max_environments,
            aws: aws_settings(config),
        },
    );
    let restored = control
        .restore()
        .await
        .map_err(|e| CoreError::State(e.to_string()))?;
    if config.state_dir.is_some() {
        logs::message(
            crate::config::LogLevel::Info,
            &format!(
                "Control plane state in {}: {restored} function(s) served again",
                control.state_dir().display()
            ),
        );
    }
    Ok(control)
}

/// Reap idle environments of one function for as long as its scheduler exists.
pub(crate) async fn reap_idle(scheduler: std::sync::Weak<Scheduler>) {
    loop {
        let Some(interval) = scheduler.upgrade().map(|s| s.reap_interval()) else {
            return;
        };
        tokio::time::sleep(interval).await;
        let Some(s) = scheduler.upgrade() else { return };
        s.reap_idle().await;
    }
}

/// Start `f`'s SnapStart template; `None` (with a log line saying why) serves ordinary cold
/// starts instead.
async fn snapstart_template(
    f: &FunctionConfig,
    config: &EmulatorConfig,
    layers: Option<&crate::layers::MergedLayers>,
) -> Option<Arc<crate::snapstart::SnapStartTemplate>> {
    if f.watch {
        // NOTE: a template holds the code it imported; reloading means ordinary cold starts.
        logs::message(
            crate::config::LogLevel::Warn,
            &format!(
                "--watch reloads {} with ordinary cold starts: --snapstart is off for it",
                f.name
            ),
        );
        return None;
    }
    let builtin = f.command.len() == 4 && f.command[2] == crate::config::BUILTIN_RUNTIME_LAUNCH;
    if !builtin {
        logs::message(
            crate::config::LogLevel::Warn,
            &format!(
                "--snapstart needs a HANDLER served by the built-in Python runtime; {} gets ordinary cold starts",
                f.name
            ),
        );
        return None;
    }
    let mut env = crate::environment::variables::runtime_environment(
        &crate::environment::variables::EnvironmentFacts {
            function: f,
            region: &config.region,
            runtime_api: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            log_stream_name: "",
            initialization_type: crate::environment::InitializationType::SnapStart.as_str(),
        },
    );
    env.retain(|(k, _)| k != "AWS_LAMBDA_RUNTIME_API" && k != "AWS_LAMBDA_LOG_STREAM_NAME");
    if let Some(layers) = layers {
        let paths = layers.python_path_at(layers.dir());
        crate::environment::variables::add_python_path(&mut env, &paths);
    }
    let started = std::time::Instant::now();
    match crate::snapstart::SnapStartTemplate::start(
        &f.command[0],
        &f.command[3],
        &f.code_dir,
        &env,
    )
    .await
    {
        Ok(template) => {
            logs::message(
                crate::config::LogLevel::Info,
                &format!(
                    "SnapStart: {} initialised once in {:.2} ms; environments are restored from it",
                    f.name,
                    started.elapsed().as_secs_f64() * 1000.0
                ),
            );
            template.ready_spare(f.clone(), true).await;
            Some(template)
        }
        Err(e) => {
            logs::message(
                crate::config::LogLevel::Error,
                &format!(
                    "SnapStart: the init of {} failed ({e}); it gets ordinary cold starts",
                    f.name
                ),
            );
            None
        }
    }
}

/// The listener of `--http-port`: the API Gateway routes of the functions, or else the first
/// function's URL, at the root.
async fn http_listener(
    address: SocketAddr,
    api: &Arc<InvokeApi>,
    shutdown: watch::Receiver<bool>,
) -> Result<(SocketAddr, impl std::future::Future<Output = ()>), CoreError> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| CoreError::Bind {
            addr: address.to_string(),
            source,
        })?;
    let bound = listener.local_addr()?;
    let api = Arc::clone(api);
    let functions: Vec<FunctionConfig> = api
        .registry
        .all()
        .iter()
        .map(|s| s.function().config.clone())
        .collect();
    let routes = Arc::new(crate::api_gateway::route_table(&functions));
    let name: Arc<str> = functions
        .first()
        .map_or_else(|| "function".into(), |f| f.name.as_str().into());
    let service = Arc::new(move |req: hyper::Request<hyper::body::Incoming>| {
        let api = Arc::clone(&api);
        let name = Arc::clone(&name);
        let routes = Arc::clone(&routes);
        async move {
            // NOTE: with API Gateway routes (SAM `Api`/`HttpApi` events) the port serves
            // them; otherwise it is the first function's URL.
            if routes.is_empty() {
                let path = req.uri().path().to_owned();
                crate::function_url::serve(&api, &name, &path, req).await
            } else {
                crate::api_gateway::serve(&api, &routes, req).await
            }
        }
    });
    let mut options = crate::http::ConnectionOptions::invoke_api();
    // NOTE: only payload 1.0 events read the client's spelling of header names.
    options.preserve_header_case = functions
        .iter()
        .any(|f| f.http_routes.iter().any(|r| r.payload_v1));
    Ok((
        bound,
        crate::http::serve_with(listener, service, shutdown, None, options),
    ))
}

/// A function's layers, merged (presented at `/opt` where mount namespaces are allowed).
fn merged_layers(
    f: &FunctionConfig,
) -> Result<Option<Arc<crate::layers::MergedLayers>>, CoreError> {
    if f.layers.is_empty() {
        return Ok(None);
    }
    let mounted = crate::environment::sandbox::Capabilities::get().namespaces;
    let merged = crate::layers::MergedLayers::merge(&f.name, &f.layers, mounted)
        .map_err(|e| CoreError::Config(format!("function {}: {e}", f.name)))?;
    if !mounted {
        logs::message(
            crate::config::LogLevel::Warn,
            &format!(
                "layers of {} are at {} (not /opt: mount namespaces are refused here)",
                f.name,
                merged.dir().display()
            ),
        );
    }
    Ok(Some(Arc::new(merged)))
}
