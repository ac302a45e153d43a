//! `lambda-rie invoke`: start, invoke once, print the payload (stdout) with the function's log
//! on stderr, stop. Exit 1 on a function or service error, like `sam local invoke` but in
//! milliseconds.

use std::io::{Read, Write};

use bytes::Bytes;

use super::args::{Args, OneShot};
use crate::config::{EmulatorConfig, FunctionConfig, LogLevel};
use crate::emulator::Emulator;
use crate::invocation::Invocation;
use crate::logs;

/// Read the event: a file, `-` for stdin, or `{}`.
fn read_event(event: Option<&str>) -> std::io::Result<Vec<u8>> {
    match event {
        None => Ok(b"{}".to_vec()),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::stdin().read_to_end(&mut buf)?;
            Ok(buf)
        }
        Some(path) => std::fs::read(path),
    }
}

/// Run the one-shot invocation; the exit code.
pub async fn run(args: &Args, functions: Vec<FunctionConfig>, shot: &OneShot) -> i32 {
    logs::function_logs_to_stderr(true);
    let event = match read_event(shot.event.as_deref()) {
        Ok(e) if e.iter().all(u8::is_ascii_whitespace) => b"{}".to_vec(),
        Ok(e) => e,
        Err(e) => {
            eprintln!("lambda-rie: --event: {e}");
            return 2;
        }
    };
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&event) {
        eprintln!("lambda-rie: --event: not JSON: {e}");
        return 2;
    }
    let mut config = EmulatorConfig::new(args.invoke_address);
    config.account_id.clone_from(&args.account_id);
    config.region.clone_from(&args.region);
    config.log_level = args.log_level.min(LogLevel::Warn);
    let emulator = match Emulator::start(&config, functions).await {
        Ok(e) => e,
        Err(e) => {
            eprintln!("lambda-rie: {e}");
            return 1;
        }
    };
    let code = invoke_once(&emulator, shot, Bytes::from(event)).await;
    emulator.shutdown().await;
    code
}

async fn invoke_once(emulator: &Emulator, shot: &OneShot, event: Bytes) -> i32 {
    let scheduler = match &shot.function {
        None => emulator.schedulers().into_iter().next(),
        Some(name) => emulator.registry().get(name),
    };
    let Some(scheduler) = scheduler else {
        eprintln!(
            "lambda-rie: --function: no function {}",
            shot.function.as_deref().unwrap_or_default()
        );
        return 2;
    };
    let mut inv = Invocation::new(event, scheduler.function().arn());
    inv.want_log = true;
    match scheduler.invoke(inv).await {
        Ok(outcome) => {
            logs::flush().await; // the log on stderr, then the payload
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&outcome.payload);
            let _ = out.write_all(b"\n");
            let _ = out.flush();
            i32::from(outcome.function_error().is_some())
        }
        Err(e) => {
            eprintln!("lambda-rie: {} {}", e.code(), e.body());
            1
        }
    }
}
