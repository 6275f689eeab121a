//! Lambda invocation, a port: [`Invoker`] is what the triggers call; [`AwsLambda`] is the
//! one real implementation, the AWS SDK's Lambda client (the `Invoke` API, SigV4 for
//! `lambda` in the function's region, credentials from the standard chain or the flags,
//! `--lambda-endpoint` as its endpoint URL).
//!
//! Cognito's limits: each attempt may take 5 s, and a call that times out or cannot
//! connect is tried 3 times in all. The SDK's standard retry mode does that (it also
//! retries throttling and 5xx answers, which Cognito does not: a difference only in how
//! long a failing call takes). The SDK and its credential chain are loaded at the first
//! invocation: a server whose pools name no function never touches them.

use async_trait::async_trait;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::OnceCell;

/// What came back from a function.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// `X-Amz-Function-Error` (`Unhandled`, `Handled`): the function failed and `payload`
    /// is its error document.
    pub function_error: Option<String>,
    /// The function's answer (for an asynchronous call, nothing).
    pub payload: Vec<u8>,
}

/// Why a function could not be called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// No answer within the time limit, on every attempt.
    Timeout,
    /// The Lambda service refused the call (its error code: `AccessDeniedException`,
    /// `ResourceNotFoundException`...), or the endpoint could not be reached (a message).
    Failed(String),
}

/// Calls Lambda functions.
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Invokes `function` (an ARN) in `region` with `payload`; `asynchronous` is
    /// `InvocationType: Event` (no answer awaited beyond the service's acceptance).
    async fn invoke(
        &self,
        function: &str,
        region: &str,
        payload: Vec<u8>,
        asynchronous: bool,
    ) -> Result<Invoked, InvokeError>;
}

/// Static credentials given by flags, instead of the standard chain.
#[derive(Clone)]
pub struct StaticCredentials {
    /// Access key id.
    pub access_key_id: String,
    /// Secret access key.
    pub secret_access_key: String,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The AWS SDK's Lambda client, one per region, made on first use.
pub struct AwsLambda {
    endpoint: Option<String>,
    credentials: Option<StaticCredentials>,
    attempt_timeout: Duration,
    base: OnceCell<aws_config::SdkConfig>,
    clients: std::sync::RwLock<HashMap<String, aws_sdk_lambda::Client>>,
}

/// Cognito's time limit per invocation.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);

/// Cognito's attempts per invocation.
pub const ATTEMPTS: u32 = 3;

impl AwsLambda {
    /// A client for `endpoint` (`None`: the real Lambda service of each function's region).
    pub fn new(endpoint: Option<String>, credentials: Option<StaticCredentials>) -> Self {
        AwsLambda {
            endpoint,
            credentials,
            attempt_timeout: ATTEMPT_TIMEOUT,
            base: OnceCell::new(),
            clients: std::sync::RwLock::new(HashMap::new()),
        }
    }

    async fn client(&self, region: &str) -> aws_sdk_lambda::Client {
        if let Some(c) = self.clients.read().ok().and_then(|m| m.get(region).cloned()) {
            return c;
        }
        let base = self
            .base
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
                if let Some(c) = &self.credentials {
                    loader = loader.credentials_provider(aws_sdk_lambda::config::Credentials::new(
                        c.access_key_id.clone(),
                        c.secret_access_key.clone(),
                        None,
                        None,
                        "userpool-flags",
                    ));
                }
                loader.load().await
            })
            .await;
        let mut config = aws_sdk_lambda::config::Builder::from(base)
            .region(aws_sdk_lambda::config::Region::new(region.to_string()))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(ATTEMPTS))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(self.attempt_timeout)
                    .operation_attempt_timeout(self.attempt_timeout)
                    .build(),
            );
        if let Some(e) = &self.endpoint {
            config = config.endpoint_url(e.clone());
        }
        let client = aws_sdk_lambda::Client::from_conf(config.build());
        if let Ok(mut m) = self.clients.write() {
            m.insert(region.to_string(), client.clone());
        }
        client
    }
}

#[async_trait]
impl Invoker for AwsLambda {
    async fn invoke(
        &self,
        function: &str,
        region: &str,
        payload: Vec<u8>,
        asynchronous: bool,
    ) -> Result<Invoked, InvokeError> {
        use aws_sdk_lambda::error::SdkError;
        use aws_sdk_lambda::types::InvocationType;
        let client = self.client(region).await;
        let call = client
            .invoke()
            .function_name(function)
            .invocation_type(if asynchronous {
                InvocationType::Event
            } else {
                InvocationType::RequestResponse
            })
            .payload(aws_sdk_lambda::primitives::Blob::new(payload))
            .send()
            .await;
        match call {
            Ok(out) => Ok(Invoked {
                function_error: out.function_error().map(str::to_string),
                payload: out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default(),
            }),
            Err(SdkError::TimeoutError(_)) => Err(InvokeError::Timeout),
            Err(SdkError::ServiceError(e)) => {
                use aws_sdk_lambda::error::ProvideErrorMetadata as _;
                let code = e.err().code().unwrap_or("ServiceException").to_string();
                Err(InvokeError::Failed(code))
            }
            Err(e) => {
                let message = userpool_store::error_chain(&e);
                if message.contains("timed out") || message.contains("timeout") {
                    return Err(InvokeError::Timeout);
                }
                // The chain (addresses, DNS, credential providers) is for the log only; the
                // caller of the operation gets a fixed reason.
                tracing::warn!(function, region, error = %message, "the Lambda Invoke API could not be reached");
                Err(InvokeError::Failed("ServiceException".to_string()))
            }
        }
    }
}
