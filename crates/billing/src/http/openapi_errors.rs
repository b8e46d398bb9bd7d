//! Completes every operation of the OpenAPI document with the error answers the shared
//! machinery gives, so the document lists every status a route can answer (clients and
//! fuzzers can trust it): 400 for a malformed path, query or body and 500 everywhere;
//! 401 wherever a token may be sent (a bad one is refused even on public routes); 403
//! on routes that need a role; 404 and 422 on routes with parameters (a path id, or a
//! filter naming a record or breaking a rule); 413, 415 and 422 on routes with a body.
//! What a route documents itself is kept.

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};

const SHARED: &[(&str, &str)] = &[
    ("400", "malformed path, query string or body"),
    ("401", "missing, invalid or expired credentials"),
    (
        "500",
        "the server could not complete the request (the cause is logged)",
    ),
];
const SECURED: &[(&str, &str)] = &[("403", "the caller's role may not do this")];
const WITH_PARAMETERS: &[(&str, &str)] = &[
    ("404", "no such record, or not the caller's"),
    ("422", "a parameter breaks a rule (named in `error.field`)"),
];
const WITH_BODY: &[(&str, &str)] = &[
    ("413", "the body is larger than 256 KiB"),
    (
        "415",
        "the body is not JSON (Content-Type: application/json)",
    ),
    ("422", "a field breaks a rule (named in `error.field`)"),
];

/// Adds the shared error answers to every operation of `doc`.
pub fn complete(doc: &mut OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            complete_operation(op);
        }
    }
}

fn complete_operation(op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let with_parameters = op.parameters.as_ref().is_some_and(|ps| {
        ps.iter()
            .any(|p| matches!(p.parameter_in, ParameterIn::Path | ParameterIn::Query))
    });
    let with_body = op.request_body.is_some();
    let groups = [
        (true, SHARED),
        (secured, SECURED),
        (with_parameters, WITH_PARAMETERS),
        (with_body, WITH_BODY),
    ];
    for (applies, answers) in groups {
        if !applies {
            continue;
        }
        for (status, description) in answers {
            op.responses
                .responses
                .entry((*status).to_owned())
                .or_insert_with(|| RefOr::T(error_response(description)));
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_operation_lists_the_shared_errors() {
        let doc = super::super::openapi();
        for (path, item) in &doc.paths.paths {
            for op in [&item.get, &item.put, &item.post, &item.delete, &item.patch]
                .into_iter()
                .flatten()
            {
                for status in ["400", "401", "500"] {
                    assert!(
                        op.responses.responses.contains_key(status),
                        "{path} lacks {status}"
                    );
                }
                if op.request_body.is_some() {
                    assert!(
                        op.responses.responses.contains_key("422"),
                        "{path} lacks 422"
                    );
                }
            }
        }
    }
}
