//! Who is asking and whether they may rerun/abort: deployment bearer tokens, signed CSRF tokens,
//! and Prow's rerun authorization (`deck.*rerun_auth_configs` + the job's `rerun_auth_config`).

use std::path::Path;

use prow_core::config::Deck;
use prow_core::prowjob::{ProwJob, RerunAuthConfig};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("reading auth token file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("auth token file {path}:{line}: expected `<token> <user>`")]
    Malformed { path: String, line: usize },
}

/// Bearer tokens of the deployment (`--auth-token-file`, lines `token user`, `#` comments).
#[derive(Clone, Default)]
pub struct Tokens {
    entries: Vec<(Vec<u8>, String)>,
    /// Secret material the CSRF key is derived from, so every replica signs alike.
    digest: [u8; 32],
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field(
                "users",
                &self.entries.iter().map(|e| &e.1).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Tokens {
    pub fn parse(text: &str, path: &str) -> Result<Self, AuthError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(token), Some(user), None) => {
                    entries.push((token.as_bytes().to_vec(), user.to_owned()))
                }
                _ => {
                    return Err(AuthError::Malformed {
                        path: path.to_owned(),
                        line: i + 1,
                    });
                }
            }
        }
        Ok(Self {
            entries,
            digest: Sha256::digest(text.as_bytes()).into(),
        })
    }

    pub fn load(path: &Path) -> Result<Self, AuthError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read {
            path: shown.clone(),
            source,
        })?;
        Self::parse(&text, &shown)
    }

    /// The user a token belongs to; every entry is compared in constant time.
    pub fn user_for(&self, token: &str) -> Option<&str> {
        let mut found = None;
        for (t, user) in &self.entries {
            if bool::from(t.as_slice().ct_eq(token.as_bytes())) {
                found = Some(user.as_str());
            }
        }
        found
    }
}

/// How the caller proved who they are. A header cannot be attached by another site, a cookie can:
/// only cookie-borne identities need a CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    Anonymous,
    Header(String),
    Cookie(String),
}

impl Identity {
    pub fn login(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::Header(u) | Identity::Cookie(u) => Some(u),
        }
    }
}

pub const TOKEN_COOKIE: &str = "deck_token";
pub const SESSION_COOKIE: &str = "deck_sid";

/// A cookie's value from a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Identity from `Authorization: Bearer <token>`, else the login cookie.
pub fn identify(tokens: &Tokens, authorization: Option<&str>, cookies: Option<&str>) -> Identity {
    if let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) {
        return tokens
            .user_for(token.trim())
            .map_or(Identity::Anonymous, |u| Identity::Header(u.to_owned()));
    }
    cookies
        .and_then(|c| cookie(c, TOKEN_COOKIE))
        .and_then(|t| tokens.user_for(t))
        .map_or(Identity::Anonymous, |u| Identity::Cookie(u.to_owned()))
}

/// Signs CSRF tokens: token = HMAC(key, session cookie), checked against the cookie the browser
/// sends with the POST (signed double submit), so a forged form lacks a valid token.
#[derive(Clone)]
pub struct Csrf {
    signer: crate::oauth::Signer,
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf")
    }
}

impl Csrf {
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            signer: crate::oauth::Signer::new(key),
        }
    }

    /// Key derived from the token file, so replicas and restarts accept each other's forms.
    pub fn from_tokens(tokens: &Tokens) -> Self {
        let mut h = Sha256::new();
        h.update(b"prow-deck csrf v1\0");
        h.update(tokens.digest);
        Self::new(h.finalize().into())
    }

    /// Key for a deployment with no token file (anonymous reruns only): per process.
    pub fn random() -> Self {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        key[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self::new(key)
    }

    pub fn token(&self, session: &str) -> String {
        self.signer.tag(session)
    }

    pub fn verify(&self, session: Option<&str>, token: Option<&str>) -> bool {
        let (Some(session), Some(token)) = (session, token) else {
            return false;
        };
        session.len() >= 16 && self.signer.verify_tag(session, token)
    }
}

/// A fresh session id for the CSRF binding cookie.
pub fn new_session_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// The deck-level rerun config for `pj`: the last matching `default_rerun_auth_configs` entry,
/// else the most specific legacy `rerun_auth_configs` key (`org/repo`, `org`, `*`).
pub fn deck_rerun_config<'a>(deck: &'a Deck, pj: &ProwJob) -> Option<&'a RerunAuthConfig> {
    let (org, org_repo) = pj
        .spec
        .main_refs()
        .map(|r| (r.org.clone(), r.org_repo()))
        .unwrap_or_default();
    let cluster = pj.spec.cluster_alias();
    if !deck.default_rerun_auth_configs.is_empty() {
        return deck
            .default_rerun_auth_configs
            .iter()
            .rev()
            .find(|e| {
                let repo_ok = e.repo.is_empty()
                    || e.repo == "*"
                    || (!org.is_empty() && (e.repo == org || e.repo == org_repo));
                let cluster_ok = e.cluster.is_empty() || e.cluster == "*" || e.cluster == cluster;
                repo_ok && cluster_ok
            })
            .map(|e| &e.rerun_auth_config);
    }
    let keys = [org_repo.as_str(), org.as_str(), "*"];
    keys.iter()
        .filter(|k| !k.is_empty())
        .find_map(|k| deck.rerun_auth_configs.get(*k))
}

/// A GitHub membership that grants rerun/abort rights.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Membership {
    Org(String),
    /// `github_team_ids`: Prow looks the id up in the job's org.
    TeamId {
        org: String,
        id: u64,
    },
    TeamSlug {
        org: String,
        slug: String,
    },
}

/// What rerun auth config says of a user before GitHub is asked anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Denied,
    /// Allowed if GitHub says the user is in any of these (asked in this order).
    IfMemberOfAny(Vec<Membership>),
}

/// Whether `user` (None = not logged in) may rerun or abort `pj`, as Prow's `canTriggerJob`:
/// `allow_anyone` lets everyone in, logged in or not; then `github_users`; then org and team
/// memberships, of the deck-level config first and the job's own second.
pub fn decide(deck: &Deck, pj: &ProwJob, user: Option<&str>) -> Verdict {
    let configs = [
        deck_rerun_config(deck, pj),
        pj.spec.rerun_auth_config.as_ref(),
    ];
    let configs = configs.into_iter().flatten();
    if configs.clone().any(|c| c.allow_anyone) {
        return Verdict::Allowed;
    }
    let Some(user) = user else {
        return Verdict::Denied;
    };
    if configs.clone().any(|c| c.authorizes_user(user)) {
        return Verdict::Allowed;
    }
    let org = pj
        .spec
        .refs
        .as_ref()
        .or(pj.spec.extra_refs.first())
        .map(|r| r.org.clone())
        .unwrap_or_default();
    let mut lookups = Vec::new();
    for c in configs {
        lookups.extend(c.github_orgs.iter().cloned().map(Membership::Org));
        // A team id needs an org to resolve in; a job without refs has none.
        if !org.is_empty() {
            lookups.extend(c.github_team_ids.iter().map(|id| Membership::TeamId {
                org: org.clone(),
                id: *id,
            }));
        }
        lookups.extend(c.github_team_slugs.iter().map(|t| Membership::TeamSlug {
            org: t.org.clone(),
            slug: t.slug.clone(),
        }));
    }
    if lookups.is_empty() {
        Verdict::Denied
    } else {
        Verdict::IfMemberOfAny(lookups)
    }
}

/// [`decide`] without GitHub: memberships count as not held.
pub fn may_act(deck: &Deck, pj: &ProwJob, user: Option<&str>) -> bool {
    decide(deck, pj, user) == Verdict::Allowed
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use prow_core::config::DefaultRerunAuthConfigEntry;
    use prow_core::prowjob::{ProwJobType, Refs};

    fn users(list: &[&str]) -> RerunAuthConfig {
        RerunAuthConfig {
            github_users: list.iter().map(|s| (*s).to_owned()).collect(),
            ..RerunAuthConfig::default()
        }
    }

    fn anyone() -> RerunAuthConfig {
        RerunAuthConfig {
            allow_anyone: true,
            ..RerunAuthConfig::default()
        }
    }

    fn job(org: &str, repo: &str) -> ProwJob {
        ProwJob::builder("pull-foo", ProwJobType::Presubmit)
            .refs(Refs::new(org, repo))
            .build()
    }

    #[test]
    fn tokens_file_maps_tokens_to_users() {
        let tokens = Tokens::parse("# comment\n\ns3cret alice\nother  bob\n", "f").unwrap();
        assert_eq!(tokens.user_for("s3cret"), Some("alice"));
        assert_eq!(tokens.user_for("other"), Some("bob"));
        assert_eq!(tokens.user_for("s3cre"), None);
        assert_eq!(tokens.user_for(""), None);
        let err = Tokens::parse("ok alice\nbroken\n", "f").unwrap_err();
        assert_eq!(
            err.to_string(),
            "auth token file f:2: expected `<token> <user>`"
        );
    }

    #[test]
    fn identity_prefers_the_header_and_falls_back_to_the_cookie() {
        let tokens = Tokens::parse("t1 alice\nt2 bob\n", "f").unwrap();
        let table = [
            (Some("Bearer t1"), None, Identity::Header("alice".into())),
            (
                Some("Bearer nope"),
                Some("deck_token=t2"),
                Identity::Anonymous,
            ),
            (
                None,
                Some("a=b; deck_token=t2"),
                Identity::Cookie("bob".into()),
            ),
            (None, Some("deck_token=zz"), Identity::Anonymous),
            (Some("Basic t1"), None, Identity::Anonymous),
            (None, None, Identity::Anonymous),
        ];
        for (auth, cookies, want) in table {
            assert_eq!(
                identify(&tokens, auth, cookies),
                want,
                "{auth:?} {cookies:?}"
            );
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session_and_key() {
        let csrf = Csrf::new([7; 32]);
        let sid = "0123456789abcdef0123";
        let token = csrf.token(sid);
        assert!(csrf.verify(Some(sid), Some(&token)));
        assert!(!csrf.verify(Some("0123456789abcdef0124"), Some(&token)));
        assert!(!Csrf::new([8; 32]).verify(Some(sid), Some(&token)));
        assert!(!csrf.verify(None, Some(&token)));
        assert!(!csrf.verify(Some(sid), None));
        assert!(!csrf.verify(Some(sid), Some("zz")));
        assert!(!csrf.verify(Some("short"), Some(&csrf.token("short"))));
    }

    #[test]
    fn default_rerun_configs_last_match_wins() {
        let deck = Deck {
            default_rerun_auth_configs: vec![
                DefaultRerunAuthConfigEntry {
                    repo: "*".into(),
                    cluster: String::new(),
                    rerun_auth_config: users(&["root"]),
                },
                DefaultRerunAuthConfigEntry {
                    repo: "acme".into(),
                    cluster: String::new(),
                    rerun_auth_config: users(&["alice"]),
                },
                DefaultRerunAuthConfigEntry {
                    repo: "acme/foo".into(),
                    cluster: "other".into(),
                    rerun_auth_config: users(&["nobody"]),
                },
            ],
            ..Deck::default()
        };
        let table = [
            ("acme", "foo", "alice", true),
            ("acme", "foo", "root", false),
            ("acme", "foo", "nobody", false),
            ("other", "bar", "root", true),
            ("other", "bar", "alice", false),
        ];
        for (org, repo, user, want) in table {
            assert_eq!(
                may_act(&deck, &job(org, repo), Some(user)),
                want,
                "{org}/{repo} {user}"
            );
        }
    }

    #[test]
    fn legacy_map_most_specific_wins_and_job_config_adds_users() {
        let deck = Deck {
            rerun_auth_configs: [
                ("*".to_owned(), users(&["root"])),
                ("acme".to_owned(), users(&["alice"])),
                ("acme/foo".to_owned(), users(&["bob"])),
            ]
            .into(),
            ..Deck::default()
        };
        let mut with_job_config = job("acme", "foo");
        with_job_config.spec.rerun_auth_config = Some(users(&["carol"]));
        let table = [
            (job("acme", "foo"), Some("bob"), true),
            (job("acme", "foo"), Some("alice"), false),
            (job("acme", "bar"), Some("alice"), true),
            (job("zzz", "bar"), Some("root"), true),
            (job("zzz", "bar"), None, false),
            (with_job_config.clone(), Some("carol"), true),
            (with_job_config.clone(), Some("bob"), true),
            (with_job_config, Some("mallory"), false),
        ];
        for (pj, user, want) in table {
            assert_eq!(
                may_act(&deck, &pj, user),
                want,
                "{:?} {user:?}",
                pj.spec.refs
            );
        }
    }

    #[test]
    fn orgs_and_teams_become_lookups_in_prow_order() {
        use prow_core::prowjob::GitHubTeamSlug;
        let deck_config = RerunAuthConfig {
            github_users: vec!["root".into()],
            github_orgs: vec!["acme-admins".into()],
            github_team_ids: vec![7],
            github_team_slugs: vec![GitHubTeamSlug {
                org: "acme".into(),
                slug: "release".into(),
            }],
            ..RerunAuthConfig::default()
        };
        let deck = Deck {
            rerun_auth_configs: [("acme".to_owned(), deck_config)].into(),
            ..Deck::default()
        };
        let mut with_job_config = job("acme", "foo");
        with_job_config.spec.rerun_auth_config = Some(RerunAuthConfig {
            github_orgs: vec!["friends".into()],
            ..RerunAuthConfig::default()
        });
        let mut no_refs = ProwJob::builder("ci-x", ProwJobType::Periodic).build();
        no_refs.spec.rerun_auth_config = Some(RerunAuthConfig {
            github_team_ids: vec![9],
            github_team_slugs: vec![GitHubTeamSlug {
                org: "acme".into(),
                slug: "ops".into(),
            }],
            ..RerunAuthConfig::default()
        });
        let mut anyone_job = job("acme", "foo");
        anyone_job.spec.rerun_auth_config = Some(anyone());
        let org = |o: &str| Membership::Org(o.into());
        let slug = |o: &str, s: &str| Membership::TeamSlug {
            org: o.into(),
            slug: s.into(),
        };
        let team_7 = Membership::TeamId {
            org: "acme".into(),
            id: 7,
        };
        let table = [
            (job("acme", "foo"), Some("root"), Verdict::Allowed),
            (job("acme", "foo"), Some("@ROOT"), Verdict::Allowed),
            (
                job("acme", "foo"),
                Some("bob"),
                Verdict::IfMemberOfAny(vec![
                    org("acme-admins"),
                    team_7.clone(),
                    slug("acme", "release"),
                ]),
            ),
            (job("acme", "foo"), None, Verdict::Denied),
            (
                with_job_config,
                Some("bob"),
                Verdict::IfMemberOfAny(vec![
                    org("acme-admins"),
                    team_7,
                    slug("acme", "release"),
                    org("friends"),
                ]),
            ),
            // No org to resolve the team id in: only the slug is asked.
            (
                no_refs,
                Some("bob"),
                Verdict::IfMemberOfAny(vec![slug("acme", "ops")]),
            ),
            (job("other", "x"), Some("bob"), Verdict::Denied),
            (anyone_job.clone(), None, Verdict::Allowed),
            (anyone_job, Some("bob"), Verdict::Allowed),
        ];
        for (i, (pj, user, want)) in table.into_iter().enumerate() {
            assert_eq!(decide(&deck, &pj, user), want, "case {i}: {user:?}");
        }
    }

    #[test]
    fn allow_anyone_admits_anonymous_users() {
        let deck = Deck {
            rerun_auth_configs: [("*".to_owned(), anyone())].into(),
            ..Deck::default()
        };
        assert!(may_act(&deck, &job("a", "b"), None));
        assert!(may_act(&deck, &job("a", "b"), Some("x")));
        assert!(!may_act(&Deck::default(), &job("a", "b"), Some("x")));
    }
}
