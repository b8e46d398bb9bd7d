//! `login` and `logout`: the stored bearer token of the CLI.

use anyhow::Context;
use clap::Args;

use crate::client::{ApiArgs, Client};
use crate::credentials::{self, Credentials};

/// `nextpanel-bill login`.
#[derive(Args)]
pub struct LoginArgs {
    /// Admin email [prompted when omitted].
    #[arg(long)]
    pub email: Option<String>,
    /// Read the password from the first line of standard input (for scripts).
    #[arg(long)]
    pub password_stdin: bool,
    /// The code from your authenticator app (or a recovery code) when the account has
    /// two-factor sign-in [prompted when needed].
    #[arg(long)]
    pub code: Option<String>,
}

/// Logs in and stores the token pair in the credentials file (mode 0600).
pub async fn login(api: &ApiArgs, args: LoginArgs) -> anyhow::Result<()> {
    let url = api
        .url
        .clone()
        .or_else(|| Credentials::load().ok().flatten().map(|c| c.url))
        .context("give the server with --url URL (or NEXTPANEL_BILL_URL)")?;
    let email = match args.email {
        Some(e) => e,
        None if super::interactive() => dialoguer::Input::<String>::new()
            .with_prompt("Email")
            .interact_text()
            .map_err(super::prompt_error)?,
        None => anyhow::bail!("give --email (no terminal to ask on)"),
    };
    let password = if args.password_stdin {
        super::read_stdin_line("password")?
    } else if super::interactive() {
        dialoguer::Password::new()
            .with_prompt("Password")
            .interact()
            .map_err(super::prompt_error)?
    } else {
        anyhow::bail!(
            "give --password-stdin and the password on standard input (no terminal to ask on)"
        );
    };
    let mut client = Client::anonymous(&url)?;
    let mut pair = client
        .post(
            "/api/v1/auth/login",
            &serde_json::json!({"email": email, "password": password}),
        )
        .await?;
    if pair["second_factor_required"] == true {
        let code = match args.code {
            Some(c) => c,
            None if super::interactive() => dialoguer::Input::<String>::new()
                .with_prompt("Code from your authenticator app (or a recovery code)")
                .interact_text()
                .map_err(super::prompt_error)?,
            None => anyhow::bail!(
                "this account signs in with a second factor: give --code (no terminal to ask on)"
            ),
        };
        pair = client
            .post(
                "/api/v1/auth/login/second-factor",
                &serde_json::json!({"challenge": pair["challenge"], "code": code}),
            )
            .await?;
    }
    let (Some(access), Some(refresh)) = (
        pair["access_token"].as_str(),
        pair["refresh_token"].as_str(),
    ) else {
        anyhow::bail!("the server's login answer has no tokens");
    };
    let creds = Credentials {
        url: client.base_url().to_owned(),
        access_token: access.to_owned(),
        refresh_token: refresh.to_owned(),
    };
    creds.save()?;
    eprintln!(
        "logged in to {} as {email}; token saved in {}",
        client.base_url(),
        credentials::credentials_path()?.display()
    );
    Ok(())
}

/// Ends the session on the server (best effort) and removes the credentials file.
pub async fn logout(api: &ApiArgs) -> anyhow::Result<()> {
    let path = credentials::credentials_path()?;
    if Credentials::load()?.is_none() && api.token.is_none() {
        eprintln!("not logged in");
        return Ok(());
    }
    let result = match Client::from_args(api) {
        Ok(mut client) => client
            .send(reqwest::Method::POST, "/api/v1/auth/logout", None, &[])
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    // The local file goes whatever the server said: the user asked to be logged out here.
    credentials::remove(&path)?;
    match result {
        Ok(()) => eprintln!("logged out"),
        Err(e) => eprintln!("logged out locally (the server did not confirm: {e:#})"),
    }
    Ok(())
}
