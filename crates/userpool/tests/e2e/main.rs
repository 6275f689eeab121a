//! The one Rust end-to-end test binary (kanidm's rule): the real `userpool` binary started
//! on a free loopback port, driven by the official AWS SDK for Rust
//! (`aws-sdk-cognitoidentityprovider`), as a Rust backend would: admin user and device
//! operations, an MFA settings round trip, and errors arriving as the SDK's modelled types.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use aws_sdk_cognitoidentityprovider as cip;
use base64::Engine as _;
use cip::types::{
    AuthFlowType, DeviceConfigurationType, DeviceRememberedStatusType, DeviceSecretVerifierConfigType,
    ExplicitAuthFlowsType, SoftwareTokenMfaConfigType, SoftwareTokenMfaSettingsType, UserPoolMfaType,
};
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// A userpool process on a free port, stopped when dropped.
struct Server {
    child: Child,
    endpoint: String,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_userpool"))
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(dir.path().join("userpool.db"))
            .env("USERPOOL_LOG", "info")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let endpoint = loop {
            let line = lines.next().expect("userpool exited before listening").unwrap();
            if let Some(at) = line.find("endpoint=http://") {
                let rest = &line[at + "endpoint=".len()..];
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep draining the log so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server {
            child,
            endpoint,
            _dir: dir,
        }
    }

    fn client(&self) -> cip::Client {
        let config = cip::Config::builder()
            .behavior_version(cip::config::BehaviorVersion::latest())
            .region(cip::config::Region::new("us-east-1"))
            .credentials_provider(cip::config::Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(&self.endpoint)
            .build();
        cip::Client::from_conf(config)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PASSWORD: &str = "Passw0rd!Example";

#[tokio::test]
async fn admin_users_and_devices() {
    let server = Server::start();
    let idp = server.client();
    let pool = idp
        .create_user_pool()
        .pool_name("rust-sdk")
        .device_configuration(
            DeviceConfigurationType::builder()
                .challenge_required_on_new_device(true)
                .device_only_remembered_on_user_prompt(true)
                .build(),
        )
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap();
    let pool_id = pool.id.unwrap();
    let client_id = idp
        .create_user_pool_client()
        .user_pool_id(&pool_id)
        .client_name("backend")
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
        .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
        .send()
        .await
        .unwrap()
        .user_pool_client
        .unwrap()
        .client_id
        .unwrap();
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username("alice")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    idp.admin_set_user_password()
        .user_pool_id(&pool_id)
        .username("alice")
        .password(PASSWORD)
        .permanent(true)
        .send()
        .await
        .unwrap();
    let user = idp
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(user.user_status, Some(cip::types::UserStatusType::Confirmed));

    // A sign-in issues a device; ConfirmDevice with a verifier made by the SRP math.
    let auth = idp
        .admin_initiate_auth()
        .user_pool_id(&pool_id)
        .client_id(&client_id)
        .auth_flow(AuthFlowType::AdminUserPasswordAuth)
        .auth_parameters("USERNAME", "alice")
        .auth_parameters("PASSWORD", PASSWORD)
        .send()
        .await
        .unwrap()
        .authentication_result
        .unwrap();
    let meta = auth.new_device_metadata.unwrap();
    let (key, group) = (meta.device_key.unwrap(), meta.device_group_key.unwrap());
    let salt = [7u8; 16];
    let v = userpool_srp::verifier(&salt, &group, &key, "device-secret");
    // Java's BigInteger.toByteArray(), as the clients send it: a 0 byte before a set top bit.
    let mut v_bytes = userpool_srp::to_bytes_be(&v);
    if v_bytes[0] & 0x80 != 0 {
        v_bytes.insert(0, 0);
    }
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let confirmed = idp
        .confirm_device()
        .access_token(auth.access_token.unwrap())
        .device_key(&key)
        .device_name("server")
        .device_secret_verifier_config(
            DeviceSecretVerifierConfigType::builder()
                .password_verifier(b64(&v_bytes))
                .salt(b64(&salt))
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert!(confirmed.user_confirmation_necessary);

    let device = idp
        .admin_get_device()
        .user_pool_id(&pool_id)
        .username("alice")
        .device_key(&key)
        .send()
        .await
        .unwrap()
        .device
        .unwrap();
    assert_eq!(device.device_key.as_deref(), Some(key.as_str()));
    let attrs: Vec<(String, String)> = device
        .device_attributes
        .unwrap()
        .into_iter()
        .map(|a| (a.name, a.value.unwrap_or_default()))
        .collect();
    let names: Vec<&str> = attrs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "device_status",
            "device_name",
            "dev:device_arn",
            "dev:device_owner",
            "last_ip_used",
            "dev:device_remembered_status",
            "dev:device_sdk"
        ]
    );
    assert!(attrs.contains(&("dev:device_remembered_status".into(), "not_remembered".into())));
    assert!(device.device_create_date.is_some() && device.device_last_authenticated_date.is_some());

    // Not remembered yet: the list is empty; remembered: listed.
    let listed = |idp: cip::Client, pool_id: String| async move {
        idp.admin_list_devices()
            .user_pool_id(pool_id)
            .username("alice")
            .send()
            .await
            .unwrap()
            .devices
            .unwrap_or_default()
            .len()
    };
    assert_eq!(listed(idp.clone(), pool_id.clone()).await, 0);
    idp.admin_update_device_status()
        .user_pool_id(&pool_id)
        .username("alice")
        .device_key(&key)
        .device_remembered_status(DeviceRememberedStatusType::Remembered)
        .send()
        .await
        .unwrap();
    assert_eq!(listed(idp.clone(), pool_id.clone()).await, 1);

    // Forgotten: the SDK's modelled error type, with Cognito's message.
    idp.admin_forget_device()
        .user_pool_id(&pool_id)
        .username("alice")
        .device_key(&key)
        .send()
        .await
        .unwrap();
    let err = idp
        .admin_get_device()
        .user_pool_id(&pool_id)
        .username("alice")
        .device_key(&key)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    assert_eq!(err.meta().message(), Some("Device does not exist."));
}

#[tokio::test]
async fn mfa_settings_round_trip() {
    let server = Server::start();
    let idp = server.client();
    let pool_id = idp
        .create_user_pool()
        .pool_name("rust-mfa")
        .send()
        .await
        .unwrap()
        .user_pool
        .unwrap()
        .id
        .unwrap();
    let fresh = idp
        .get_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.mfa_configuration, Some(UserPoolMfaType::Off));
    let set = idp
        .set_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .mfa_configuration(UserPoolMfaType::Optional)
        .software_token_mfa_configuration(SoftwareTokenMfaConfigType::builder().enabled(true).build())
        .send()
        .await
        .unwrap();
    assert_eq!(set.mfa_configuration, Some(UserPoolMfaType::Optional));
    let got = idp
        .get_user_pool_mfa_config()
        .user_pool_id(&pool_id)
        .send()
        .await
        .unwrap();
    assert_eq!(got.software_token_mfa_configuration.map(|t| t.enabled), Some(true));
    idp.admin_create_user()
        .user_pool_id(&pool_id)
        .username("bob")
        .message_action(cip::types::MessageActionType::Suppress)
        .send()
        .await
        .unwrap();
    // TOTP cannot be turned on before a token is verified.
    let err = idp
        .admin_set_user_mfa_preference()
        .user_pool_id(&pool_id)
        .username("bob")
        .software_token_mfa_settings(SoftwareTokenMfaSettingsType::builder().enabled(true).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_exception(), "{err:?}");
    assert_eq!(
        err.meta().message(),
        Some("User does not have delivery config set to turn on SOFTWARE_TOKEN_MFA")
    );
    let user = idp
        .admin_get_user()
        .user_pool_id(&pool_id)
        .username("bob")
        .send()
        .await
        .unwrap();
    assert!(user.user_mfa_setting_list.is_none() && user.preferred_mfa_setting.is_none());
}
