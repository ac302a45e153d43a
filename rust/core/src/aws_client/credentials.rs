//! The credential and region chain of the AWS SDKs, cut to what a local emulator needs:
//! environment variables, then the shared credentials and config files (docs/reference.md §16).
//!
//! Not supported: IMDS/ECS container credentials, SSO, `credential_process`, `role_arn`
//! assume-role profiles. A profile that only has those yields no credentials here.

use std::collections::HashMap;
use std::path::PathBuf;

/// A lookup of one environment variable (the process env, or a fixed map in tests).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// One set of AWS credentials.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Credentials {
    /// `AWS_ACCESS_KEY_ID` / `aws_access_key_id`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY` / `aws_secret_access_key`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN` / `aws_session_token`, sent as `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

/// What the chain says when it finds nothing.
pub(crate) const MISSING_CREDENTIALS: &str = "no AWS credentials found: set AWS_ACCESS_KEY_ID and \
     AWS_SECRET_ACCESS_KEY (any values do for a local endpoint such as moto), or AWS_PROFILE naming \
     a profile with aws_access_key_id and aws_secret_access_key in ~/.aws/credentials \
     (AWS_SHARED_CREDENTIALS_FILE) or ~/.aws/config (AWS_CONFIG_FILE)";

/// The profile the chain reads: `AWS_PROFILE`, else `default`.
fn profile_name(env: EnvLookup<'_>) -> String {
    env("AWS_PROFILE").unwrap_or_else(|| "default".to_owned())
}

/// `~/.aws/<name>`, or `None` without a home directory.
fn home_file(env: EnvLookup<'_>, name: &str) -> Option<PathBuf> {
    env("HOME").map(|home| PathBuf::from(home).join(".aws").join(name))
}

/// The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
fn credentials_file(env: EnvLookup<'_>) -> Option<PathBuf> {
    env("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home_file(env, "credentials"))
}

/// The shared config file: `AWS_CONFIG_FILE`, else `~/.aws/config`.
fn config_file(env: EnvLookup<'_>) -> Option<PathBuf> {
    env("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home_file(env, "config"))
}

/// The sections of an INI file: section name → key → value (keys lower-cased, `#`/`;` lines
/// skipped, indented continuation lines ignored).
fn parse_ini(text: &str) -> HashMap<String, HashMap<String, String>> {
    let mut sections: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            sections.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(section), Some((key, value))) = (&current, line.split_once('=')) {
            if raw.starts_with(char::is_whitespace) {
                continue;
            }
            let entry = sections.entry(section.clone()).or_default();
            entry.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    sections
}

/// The keys of `profile` in a file; `config_style` files name it `[profile NAME]`
/// (`[default]` stays bare, though `[profile default]` is read too).
fn profile_section(
    path: Option<PathBuf>,
    profile: &str,
    config_style: bool,
) -> HashMap<String, String> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return HashMap::new();
    };
    let mut sections = parse_ini(&text);
    let prefixed = format!("profile {profile}");
    let names: &[&str] = if !config_style {
        &[profile]
    } else if profile == "default" {
        &["default", "profile default"]
    } else {
        &[&prefixed]
    };
    names
        .iter()
        .find_map(|name| sections.remove(*name))
        .unwrap_or_default()
}

/// Credentials from one profile section, if it has both keys.
fn from_section(section: &HashMap<String, String>) -> Option<Credentials> {
    let key = section.get("aws_access_key_id").filter(|v| !v.is_empty())?;
    let secret = section
        .get("aws_secret_access_key")
        .filter(|v| !v.is_empty())?;
    Some(Credentials {
        access_key_id: key.clone(),
        secret_access_key: secret.clone(),
        session_token: section
            .get("aws_session_token")
            .filter(|v| !v.is_empty())
            .cloned(),
    })
}

/// The first credentials of the chain: env vars, the credentials file, the config file.
pub(crate) fn resolve_credentials(env: EnvLookup<'_>) -> Option<Credentials> {
    if let (Some(key), Some(secret)) = (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        return Some(Credentials {
            access_key_id: key,
            secret_access_key: secret,
            session_token: env("AWS_SESSION_TOKEN"),
        });
    }
    let profile = profile_name(env);
    from_section(&profile_section(credentials_file(env), &profile, false))
        .or_else(|| from_section(&profile_section(config_file(env), &profile, true)))
}

/// The default region: `AWS_REGION`, `AWS_DEFAULT_REGION`, the profile's `region` in the
/// config file (then the credentials file, as the CLI reads it), else `us-east-1`.
pub(crate) fn resolve_region(env: EnvLookup<'_>) -> String {
    let profile = profile_name(env);
    env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .or_else(|| profile_section(config_file(env), &profile, true).remove("region"))
        .or_else(|| profile_section(credentials_file(env), &profile, false).remove("region"))
        .filter(|region| !region.is_empty())
        .unwrap_or_else(|| "us-east-1".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        move |name| map.get(name).cloned()
    }

    fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write fixture");
        path.to_string_lossy().into_owned()
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("lambda-rie-aws-{tag}-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn environment_variables_come_first() {
        let env = env_of(&[
            ("AWS_ACCESS_KEY_ID", "AKENV".into()),
            ("AWS_SECRET_ACCESS_KEY", "secret-env".into()),
            ("AWS_SESSION_TOKEN", "token-env".into()),
            (
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/credentials".into(),
            ),
        ]);
        assert_eq!(
            resolve_credentials(&env),
            Some(Credentials {
                access_key_id: "AKENV".into(),
                secret_access_key: "secret-env".into(),
                session_token: Some("token-env".into()),
            })
        );
    }

    #[test]
    fn the_named_profile_is_read_from_the_credentials_file() {
        let dir = temp_dir("creds");
        let file = write(
            &dir,
            "credentials",
            "[default]\naws_access_key_id = AKDEFAULT\naws_secret_access_key = s0\n\n\
             # a comment\n[work]\naws_access_key_id=AKWORK\naws_secret_access_key = s1\naws_session_token = t1\n",
        );
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", file.clone()),
            ("AWS_CONFIG_FILE", "/nonexistent/config".into()),
            ("AWS_PROFILE", "work".into()),
        ]);
        let found = resolve_credentials(&env).expect("work profile");
        assert_eq!(
            (found.access_key_id.as_str(), found.session_token.as_deref()),
            ("AKWORK", Some("t1"))
        );
        let env = env_of(&[
            ("AWS_SHARED_CREDENTIALS_FILE", file),
            ("AWS_CONFIG_FILE", "/x".into()),
        ]);
        assert_eq!(
            resolve_credentials(&env).expect("default").access_key_id,
            "AKDEFAULT"
        );
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn the_config_file_names_profiles_with_a_prefix() {
        let dir = temp_dir("config");
        let config = write(
            &dir,
            "config",
            "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\n\
             aws_access_key_id = AKDEV\naws_secret_access_key = sdev\n[dev]\naws_access_key_id = WRONG\n",
        );
        let env = env_of(&[
            ("AWS_CONFIG_FILE", config.clone()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent".into()),
            ("AWS_PROFILE", "dev".into()),
        ]);
        assert_eq!(
            resolve_credentials(&env)
                .expect("dev profile")
                .access_key_id,
            "AKDEV"
        );
        assert_eq!(resolve_region(&env), "ap-south-1");
        let env = env_of(&[
            ("AWS_CONFIG_FILE", config),
            ("AWS_SHARED_CREDENTIALS_FILE", "/x".into()),
        ]);
        assert_eq!(
            resolve_credentials(&env),
            None,
            "[default] in config has no keys"
        );
        assert_eq!(resolve_region(&env), "eu-west-1");
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn home_directory_files_are_the_fallback() {
        let home = temp_dir("home");
        std::fs::create_dir_all(home.join(".aws")).expect("mkdir");
        write(
            &home.join(".aws"),
            "credentials",
            "[default]\naws_access_key_id=AKHOME\naws_secret_access_key=sh\n",
        );
        let env = env_of(&[("HOME", home.to_string_lossy().into_owned())]);
        assert_eq!(
            resolve_credentials(&env).expect("home").access_key_id,
            "AKHOME"
        );
        std::fs::remove_dir_all(home).ok();
    }

    #[test]
    fn nothing_found_is_none_and_the_region_defaults() {
        let env = env_of(&[("HOME", "/nonexistent-home".into())]);
        assert_eq!(resolve_credentials(&env), None);
        assert_eq!(resolve_region(&env), "us-east-1");
        assert!(MISSING_CREDENTIALS.contains("AWS_ACCESS_KEY_ID"));
    }

    #[test]
    fn region_variables_win_in_order() {
        let env = env_of(&[
            ("AWS_REGION", "eu-central-1".into()),
            ("AWS_DEFAULT_REGION", "us-west-2".into()),
        ]);
        assert_eq!(resolve_region(&env), "eu-central-1");
        let env = env_of(&[
            ("AWS_DEFAULT_REGION", "us-west-2".into()),
            ("HOME", "/nonexistent".into()),
        ]);
        assert_eq!(resolve_region(&env), "us-west-2");
    }
}
