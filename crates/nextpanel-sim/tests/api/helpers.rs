//! A test simulator per test, with typed helpers for the calls tests make.

use std::time::Duration;

use nextpanel_sim::{SimConfig, SimHandle};
use reqwest::{Method, Response};
use serde_json::{json, Value};

pub struct TestSim {
    pub sim: SimHandle,
    pub client: reqwest::Client,
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

impl TestSim {
    pub async fn start() -> Self {
        Self::start_with(SimConfig::random().unwrap()).await
    }

    pub async fn start_with(config: SimConfig) -> Self {
        let sim = nextpanel_sim::spawn(config).await.unwrap();
        Self {
            sim,
            client: client(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.base_url())
    }

    /// A request with the main credential.
    pub fn api(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.api_as(method, path, self.sim.api_key(), self.sim.api_secret())
    }

    pub fn api_as(
        &self,
        method: Method,
        path: &str,
        key: &str,
        secret: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("X-API-Key", key)
            .header("X-API-Secret", secret)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.api(Method::GET, path).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.api(Method::POST, path)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.api(Method::DELETE, path).send().await.unwrap()
    }

    pub async fn create(&self, username: &str) -> Response {
        self.post("/api/v1/billing/accounts", create_body(username))
            .await
    }

    /// Creates an account and returns its id.
    pub async fn create_ok(&self, username: &str) -> u64 {
        let response = self.create(username).await;
        assert_eq!(response.status(), 201);
        let body: Value = response.json().await.unwrap();
        body["id"].as_u64().unwrap()
    }

    pub fn control(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(self.sim.control_token())
    }

    pub async fn set_faults(&self, patch: Value) -> Value {
        let response = self
            .control(Method::POST, "/_sim/faults")
            .json(&patch)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn sim_state(&self) -> Value {
        let response = self
            .control(Method::GET, "/_sim/state")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    pub async fn sim_stats(&self) -> Value {
        let response = self
            .control(Method::GET, "/_sim/stats")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// A create body as nextpanel-bill sends it (every key present).
pub fn create_body(username: &str) -> Value {
    json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "password": "Secr3t-Passw0rd",
        "full_name": "Ada Lovelace",
        "phone": null,
        "company": null,
        "package_id": 1,
        "is_admin": false,
        "billing_id": format!("cus_{username}"),
        "metadata": {
            "created_from": "billing_system",
            "billing_customer_id": format!("cus_{username}"),
            "account_type": "panel",
            "is_admin": false,
            "created_at": "2025-01-01T00:00:00Z",
            "hosting_account_id": "ha_1"
        }
    })
}

/// Status and `detail` of an error answer.
pub async fn detail(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["detail"].as_str().unwrap_or_default().to_owned(),
    )
}
