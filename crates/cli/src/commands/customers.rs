//! `customers list|create|show`: customer records.

use clap::Subcommand;
use serde_json::{json, Value};

use crate::client::{query, Client};
use crate::output::{items, print_json, print_page, text, Table};

/// What to do with customers.
#[derive(Subcommand)]
pub enum CustomersCommand {
    /// List customers, newest first.
    #[command(after_help = "Example:\n  nextpanel-bill customers list --search example.com")]
    List {
        /// Text matched against email, name and company.
        #[arg(long)]
        search: Option<String>,
        /// Include deactivated customers.
        #[arg(long)]
        all: bool,
        /// Page number.
        #[arg(long)]
        page: Option<i64>,
        /// Items per page (1 to 200).
        #[arg(long)]
        per_page: Option<i64>,
    },
    /// Create a customer.
    #[command(
        after_help = "Example:\n  nextpanel-bill customers create --email ann@example.com --name 'Ann Lee' --company Acme"
    )]
    Create {
        /// Login and contact email.
        #[arg(long)]
        email: String,
        /// Full name.
        #[arg(long)]
        name: String,
        /// Company.
        #[arg(long)]
        company: Option<String>,
        /// Phone.
        #[arg(long)]
        phone: Option<String>,
        /// Read a portal password from standard input (without one the customer cannot log in yet).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Show a customer and their licenses.
    #[command(after_help = "Example:\n  nextpanel-bill customers show 12")]
    Show {
        /// Customer id or exact email.
        customer: String,
    },
    /// Deactivate a customer: no more logins; their records stay.
    #[command(after_help = "Example:\n  nextpanel-bill customers deactivate ann@example.com")]
    Deactivate {
        /// Customer id or exact email.
        customer: String,
    },
    /// Reactivate a deactivated customer.
    #[command(after_help = "Example:\n  nextpanel-bill customers activate 12")]
    Activate {
        /// Customer id or exact email.
        customer: String,
    },
}

/// The id of a customer given by id or exact email.
pub async fn customer_id(client: &mut Client, customer: &str) -> anyhow::Result<String> {
    if customer.parse::<i64>().is_ok() {
        return Ok(customer.to_owned());
    }
    let found = find_by_email(client, customer)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no customer with email {customer:?}"))?;
    Ok(text(&found["id"]))
}

/// Finds a customer by exact email (case-insensitive), `None` when there is none.
pub async fn find_by_email(client: &mut Client, email: &str) -> anyhow::Result<Option<Value>> {
    let path = format!(
        "/api/v1/customers{}",
        query(&[
            ("search", Some(email.to_owned())),
            ("include_inactive", Some("true".into())),
            ("per_page", Some("200".into())),
        ])
    );
    let list = client.get(&path).await?;
    Ok(list["items"]
        .as_array()
        .and_then(|items| {
            items.iter().find(|c| {
                c["email"]
                    .as_str()
                    .is_some_and(|e| e.eq_ignore_ascii_case(email.trim()))
            })
        })
        .cloned())
}

/// Runs a `customers` command.
pub async fn run(cmd: CustomersCommand, client: &mut Client, json: bool) -> anyhow::Result<()> {
    match cmd {
        CustomersCommand::List {
            search,
            all,
            page,
            per_page,
        } => {
            let path = format!(
                "/api/v1/customers{}",
                query(&[
                    ("search", search),
                    ("include_inactive", all.then(|| "true".to_owned())),
                    ("page", page.map(|p| p.to_string())),
                    ("per_page", per_page.map(|p| p.to_string())),
                ])
            );
            let list = client.get(&path).await?;
            if json {
                return print_json(&list);
            }
            let mut t = Table::new(&["ID", "EMAIL", "NAME", "COMPANY", "ACTIVE", "CREATED"]);
            for c in items(&list["items"]) {
                t.row(vec![
                    text(&c["id"]),
                    text(&c["email"]),
                    text(&c["full_name"]),
                    text(&c["company_name"]),
                    text(&c["is_active"]),
                    text(&c["created_at"]),
                ]);
            }
            t.print("customers");
            print_page(&list);
        }
        CustomersCommand::Create {
            email,
            name,
            company,
            phone,
            password_stdin,
        } => {
            let password = if password_stdin {
                Some(super::read_stdin_line("password")?)
            } else {
                None
            };
            let body = json!({"email": email, "full_name": name, "company_name": company,
                "phone": phone, "password": password});
            let customer = client.post("/api/v1/customers", &body).await?;
            if json {
                return print_json(&customer);
            }
            println!(
                "created customer {} ({})",
                text(&customer["id"]),
                text(&customer["email"])
            );
            if customer["has_password"].as_bool() != Some(true) {
                println!(
                    "no portal password yet: the customer can set one through a password reset"
                );
            }
        }
        CustomersCommand::Deactivate { customer } => {
            let id = customer_id(client, &customer).await?;
            let done = client
                .post(&format!("/api/v1/customers/{id}/deactivate"), &json!({}))
                .await?;
            if json {
                return print_json(&done);
            }
            println!("customer {id} ({}) is deactivated", text(&done["email"]));
        }
        CustomersCommand::Activate { customer } => {
            let id = customer_id(client, &customer).await?;
            let done = client
                .post(&format!("/api/v1/customers/{id}/activate"), &json!({}))
                .await?;
            if json {
                return print_json(&done);
            }
            println!("customer {id} ({}) is active", text(&done["email"]));
        }
        CustomersCommand::Show { customer } => {
            let found = match customer.parse::<i64>() {
                Ok(id) => client.get(&format!("/api/v1/customers/{id}")).await?,
                Err(_) => find_by_email(client, &customer)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no customer with email {customer:?}"))?,
            };
            let id = text(&found["id"]);
            let licenses = client
                .get(&format!("/api/v1/customers/{id}/licenses?per_page=200"))
                .await?;
            if json {
                let mut out = found.clone();
                out["licenses"] = licenses["items"].clone();
                return print_json(&out);
            }
            for (label, key) in [
                ("id", "id"),
                ("email", "email"),
                ("name", "full_name"),
                ("company", "company_name"),
                ("phone", "phone"),
                ("active", "is_active"),
                ("portal password", "has_password"),
                ("created", "created_at"),
            ] {
                println!("{label:<16} {}", text(&found[key]));
            }
            println!();
            let mut t = Table::new(&["LICENSE", "KEY", "PLAN", "CYCLE", "STATUS", "EXPIRES"]);
            for l in items(&licenses["items"]) {
                t.row(vec![
                    text(&l["id"]),
                    text(&l["license_key"]),
                    text(&l["plan_id"]),
                    text(&l["billing_cycle"]),
                    text(&l["status"]),
                    text(&l["expires_at"]),
                ]);
            }
            t.print("licenses");
        }
    }
    Ok(())
}
