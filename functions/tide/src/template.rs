//! `tide.merge_commit_template`: Go templates over the pull request, with the field names of
//! Prow's GraphQL `PullRequest` (`{{.Number}}`, `{{.Title}}`, `{{.Body}}`, `{{.Author.Login}}`,
//! `{{.HeadRefName}}`, `{{.HeadRefOID}}`, `{{.BaseRef.Name}}`, `{{.Repository.NameWithOwner}}`...).

use std::collections::HashMap;

use gtmpl_value::Value;

use crate::index::PrFacts;

/// Why a merge commit template did not render.
#[derive(Debug, thiserror::Error)]
#[error("merge commit template {template:?}: {message}")]
pub struct TemplateError {
    pub template: String,
    pub message: String,
}

fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<HashMap<String, Value>>(),
    )
}

/// The template's dot: the PR as Prow's GraphQL struct names its fields.
fn pull_request_value(org: &str, repo: &str, pr: &PrFacts) -> Value {
    let labels: Vec<Value> = pr
        .labels
        .iter()
        .map(|l| object(vec![("Name", Value::from(l.as_str()))]))
        .collect();
    let milestone = match &pr.milestone {
        Some(title) => object(vec![("Title", Value::from(title.as_str()))]),
        None => Value::Nil,
    };
    object(vec![
        ("Number", Value::from(pr.number)),
        ("Title", Value::from(pr.title.as_str())),
        ("Body", Value::from(pr.body.as_str())),
        (
            "Author",
            object(vec![("Login", Value::from(pr.author.as_str()))]),
        ),
        ("HeadRefName", Value::from(pr.head_ref.as_str())),
        ("HeadRefOID", Value::from(pr.head_sha.as_str())),
        (
            "BaseRef",
            object(vec![
                ("Name", Value::from(pr.base_ref.as_str())),
                ("Prefix", Value::from("refs/heads/")),
            ]),
        ),
        ("BaseRefName", Value::from(pr.base_ref.as_str())),
        ("URL", Value::from(pr.html_url.as_str())),
        ("Labels", object(vec![("Nodes", Value::Array(labels))])),
        ("Milestone", milestone),
        (
            "Repository",
            object(vec![
                ("Name", Value::from(repo)),
                ("NameWithOwner", Value::from(format!("{org}/{repo}"))),
                ("Owner", object(vec![("Login", Value::from(org))])),
            ]),
        ),
    ])
}

/// Renders one merge commit template for `pr`.
pub fn render_merge_template(
    template: &str,
    org: &str,
    repo: &str,
    pr: &PrFacts,
) -> Result<String, TemplateError> {
    gtmpl::template(template, pull_request_value(org, repo, pr)).map_err(|err| TemplateError {
        template: template.to_owned(),
        message: err.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn templates_see_prows_field_names() {
        let pr = PrFacts {
            number: 7,
            title: "Add a thing".into(),
            body: "Because.".into(),
            author: "alice".into(),
            head_ref: "feature".into(),
            head_sha: "abc".into(),
            base_ref: "main".into(),
            labels: ["lgtm".to_string()].into(),
            ..PrFacts::default()
        };
        let cases = [
            ("{{.Title}} (#{{.Number}})", "Add a thing (#7)"),
            (
                "{{.Body}}\n\nby @{{.Author.Login}}",
                "Because.\n\nby @alice",
            ),
            (
                "{{.Repository.NameWithOwner}}@{{.BaseRef.Name}} {{.HeadRefOID}}",
                "acme/foo@main abc",
            ),
            ("{{range .Labels.Nodes}}{{.Name}} {{end}}", "lgtm "),
            ("{{if .Milestone}}m{{else}}none{{end}}", "none"),
        ];
        for (template, want) in cases {
            assert_eq!(
                render_merge_template(template, "acme", "foo", &pr).unwrap(),
                want,
                "{template}"
            );
        }
        assert!(render_merge_template("{{.Title", "acme", "foo", &pr).is_err());
    }
}
