//! The approve plugin's approvals arithmetic (Prow's `approvers` package) as pure functions: which OWNERS files a pull request needs approval in, who approved which, what is still unapproved, whom to suggest.
//!
//! Where Prow draws at random (it shuffles the candidate approvers with the pull request
//! number as seed before picking, greedily, whoever covers most unapproved OWNERS files), we
//! take candidates in alphabetical order: the same greedy cover, with ties always going to
//! the alphabetically first login. Suggestions can therefore name different (equally
//! covering) people than Prow would, but the same pull request always gets the same ones.

use std::collections::{BTreeMap, BTreeSet};

use crate::repo::RepoOwners;

/// Go's `filepath.Dir` for repository-relative paths: `.` when there is no directory.
fn go_dir(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) => "/",
        Some((dir, _)) => dir,
        None => ".",
    }
}

/// The changed files of a pull request against the owners of its base.
#[derive(Debug, Clone)]
pub struct Owners<'a> {
    filenames: Vec<String>,
    repo: &'a RepoOwners,
}

impl<'a> Owners<'a> {
    pub fn new(filenames: Vec<String>, repo: &'a RepoOwners) -> Self {
        Owners { filenames, repo }
    }

    pub fn filenames(&self) -> &[String] {
        &self.filenames
    }

    pub fn repo(&self) -> &'a RepoOwners {
        self.repo
    }

    /// The OWNERS directories the files need approval in: each file's approvers' directory,
    /// minus files under an `auto_approve_unowned_subfolders` directory without OWNERS of
    /// their own, minus directories whose parent is already needed (unless
    /// `no_parent_owners` cuts them off). Prow's `GetOwnersSet`, quirks included (the
    /// auto-approve test is a substring test on the grandparent directory).
    pub fn owners_set(&self) -> BTreeSet<String> {
        let mut owners = BTreeSet::new();
        for file in &self.filenames {
            let owners_dir = self.repo.find_approver_owners_for_file(file);
            if go_dir(go_dir(file)).contains(owners_dir.as_str())
                && self.repo.is_auto_approve_unowned_subfolders(&owners_dir)
            {
                continue;
            }
            owners.insert(owners_dir);
        }
        self.remove_subdirs(&mut owners);
        owners
    }

    fn remove_subdirs(&self, dirs: &mut BTreeSet<String>) {
        let canonical = |p: &str| {
            if p == "." {
                String::new()
            } else {
                p.to_owned()
            }
        };
        for dir in dirs.clone() {
            let mut path = dir.clone();
            while !self.repo.is_no_parent_owners(&path) && !canonical(&path).is_empty() {
                path = go_dir(&path).to_owned();
                if dirs.contains(&canonical(&path)) {
                    dirs.remove(&dir);
                    break;
                }
            }
        }
    }

    fn approvers_by_owners_file(&self, leaf: bool) -> BTreeMap<String, BTreeSet<String>> {
        let mut map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &self.filenames {
            let owners_dir = self.repo.find_approver_owners_for_file(file);
            let approvers = if leaf {
                self.repo.leaf_approvers(file)
            } else {
                self.repo.approvers(file).all()
            };
            map.entry(owners_dir).or_default().extend(approvers);
        }
        let owners = self.owners_set();
        map.retain(|dir, _| owners.contains(dir));
        map
    }

    /// OWNERS directory -> everyone who can approve there (all layers). Prow's `GetApprovers`.
    pub fn approvers(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.approvers_by_owners_file(false)
    }

    /// OWNERS directory -> its nearest approvers. Prow's `GetLeafApprovers`.
    pub fn leaf_approvers(&self) -> BTreeMap<String, BTreeSet<String>> {
        self.approvers_by_owners_file(true)
    }

    /// Every leaf approver, once, alphabetically (Prow shuffles them; see the module docs).
    pub fn potential_approvers(&self) -> Vec<String> {
        self.leaf_approvers()
            .into_values()
            .flatten()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    }

    /// Approver -> the OWNERS directories they can approve.
    pub fn reverse_map(
        approvers: &BTreeMap<String, BTreeSet<String>>,
    ) -> BTreeMap<String, BTreeSet<String>> {
        let mut reverse: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (dir, logins) in approvers {
            for login in logins {
                reverse
                    .entry(login.clone())
                    .or_default()
                    .insert(dir.clone());
            }
        }
        reverse
    }

    fn unapproved_with(&self, approvers: &BTreeSet<String>) -> BTreeSet<String> {
        let mut ap = Approvers::new(self.clone());
        for approver in approvers {
            ap.add_approver(approver, "", false);
        }
        ap.unapproved_files()
    }

    /// A greedy cover of the OWNERS directories by `potential` approvers.
    pub fn suggested_approvers(
        &self,
        reverse: &BTreeMap<String, BTreeSet<String>>,
        potential: &[String],
    ) -> BTreeSet<String> {
        let mut ap = Approvers::new(self.clone());
        while !ap.requirements_met() {
            let current = ap.current_approvers();
            let unapproved = ap.unapproved_files();
            let Some(best) = most_covering(potential, &current, reverse, &unapproved) else {
                return current;
            };
            ap.add_approver(&best, "", false);
        }
        ap.current_approvers()
    }

    /// The suggested approvers who cover something `known` approvers leave unapproved.
    pub fn keep_covering_approvers(
        &self,
        reverse: &BTreeMap<String, BTreeSet<String>>,
        known: &BTreeSet<String>,
        potential: &[String],
    ) -> BTreeSet<String> {
        let unapproved = self.unapproved_with(known);
        self.suggested_approvers(reverse, potential)
            .into_iter()
            .filter(|s| {
                reverse
                    .get(s)
                    .is_some_and(|dirs| !dirs.is_disjoint(&unapproved))
            })
            .collect()
    }
}

/// Prow's `findMostCoveringApprover`, including its bookkeeping: the bar a candidate must
/// beat becomes the *total* number of directories the last pick can approve, not the
/// number of unapproved ones it covers.
fn most_covering(
    candidates: &[String],
    current: &BTreeSet<String>,
    reverse: &BTreeMap<String, BTreeSet<String>>,
    unapproved: &BTreeSet<String>,
) -> Option<String> {
    let mut bar = 0;
    let mut best = None;
    for candidate in candidates {
        let Some(dirs) = reverse.get(candidate) else {
            continue;
        };
        if dirs.intersection(unapproved).count() > bar && !current.contains(candidate) {
            bar = dirs.len();
            best = Some(candidate.clone());
        }
    }
    best
}

/// How someone's approval was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalKind {
    /// `/approve` or an approving review.
    Approved,
    /// `/lgtm` counted as approval (`lgtm_acts_as_approve`).
    Lgtm,
    /// The author, implicitly (`require_self_approval: false`).
    AuthorSelfApproved,
}

impl ApprovalKind {
    /// The words Prow's notification shows (the link title).
    pub fn how(self) -> &'static str {
        match self {
            ApprovalKind::Approved => "Approved",
            ApprovalKind::Lgtm => "LGTM",
            ApprovalKind::AuthorSelfApproved => "Author self-approved",
        }
    }
}

/// One approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// As the approver wrote it (case kept).
    pub login: String,
    pub kind: ApprovalKind,
    /// Where it was given (a comment or review URL).
    pub reference: String,
    /// Also waives the associated-issue requirement (`/approve no-issue`).
    pub no_issue: bool,
}

impl Approval {
    /// Prow's rendering in the notification: `*<a href="ref" title="how">login</a>*`.
    pub fn markdown(&self) -> String {
        format!(
            "*<a href=\"{}\" title=\"{}\">{}</a>*",
            self.reference,
            self.kind.how(),
            self.login
        )
    }
}

/// One OWNERS file the pull request needs approval in, and who of its approvers approved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnersFileStatus {
    /// The OWNERS directory (`""` for the root) or `.md` file.
    pub path: String,
    pub approved: bool,
    /// Approvers of this file who approved, as they wrote their logins.
    pub approvers: BTreeSet<String>,
}

impl OwnersFileStatus {
    /// Prow's line for this file in the approve notification: struck through when approved,
    /// bold otherwise, linking to the OWNERS file at `branch` under `base_url`
    /// (`https://github.com/org/repo`).
    pub fn markdown(&self, base_url: &str, branch: &str, owners_filename: &str) -> String {
        let full = if self.path.ends_with(".md") {
            self.path.clone()
        } else if self.path.is_empty() {
            owners_filename.to_owned()
        } else {
            format!("{}/{owners_filename}", self.path)
        };
        let link = format!("{base_url}/blob/{branch}/{full}");
        let approvers = self.approvers.iter().cloned().collect::<Vec<_>>().join(",");
        if self.approved {
            format!("- ~~[{full}]({link})~~ [{approvers}]\n")
        } else if self.approvers.is_empty() {
            format!("- **[{full}]({link})**\n")
        } else {
            format!(
                "- **[{full}]({link})** [{approvers}]\n  > Need more approvers for rest parts.\n"
            )
        }
    }
}

/// The approvals given on a pull request and what they add up to (Prow's
/// `approvers.Approvers`).
#[derive(Debug, Clone)]
pub struct Approvers<'a> {
    owners: Owners<'a>,
    /// Lower-cased login -> approval.
    approvals: BTreeMap<String, Approval>,
    assignees: BTreeSet<String>,
    /// The issue number the pull request body links, if any.
    pub associated_issue: Option<u64>,
    /// `issue_required` of the approve config.
    pub require_issue: bool,
    /// The `approved` label was added by hand by someone allowed to.
    pub manually_approved: bool,
}

impl<'a> Approvers<'a> {
    pub fn new(owners: Owners<'a>) -> Self {
        Approvers {
            owners,
            approvals: BTreeMap::new(),
            assignees: BTreeSet::new(),
            associated_issue: None,
            require_issue: false,
            manually_approved: false,
        }
    }

    pub fn owners(&self) -> &Owners<'a> {
        &self.owners
    }

    fn add(&mut self, login: &str, kind: ApprovalKind, reference: &str, no_issue: bool) {
        let key = login.to_lowercase();
        // A `no-issue` approval is not downgraded by a later plain one.
        if self
            .approvals
            .get(&key)
            .is_some_and(|a| a.no_issue && !no_issue)
        {
            return;
        }
        self.approvals.insert(
            key,
            Approval {
                login: login.to_owned(),
                kind,
                reference: reference.to_owned(),
                no_issue,
            },
        );
    }

    pub fn add_approver(&mut self, login: &str, reference: &str, no_issue: bool) {
        self.add(login, ApprovalKind::Approved, reference, no_issue);
    }

    pub fn add_lgtmer(&mut self, login: &str, reference: &str, no_issue: bool) {
        self.add(login, ApprovalKind::Lgtm, reference, no_issue);
    }

    pub fn add_author_self_approver(&mut self, login: &str, reference: &str, no_issue: bool) {
        self.add(login, ApprovalKind::AuthorSelfApproved, reference, no_issue);
    }

    pub fn remove_approver(&mut self, login: &str) {
        self.approvals.remove(&login.to_lowercase());
    }

    pub fn add_assignees<I, S>(&mut self, logins: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.assignees
            .extend(logins.into_iter().map(|l| l.as_ref().to_lowercase()));
    }

    /// Lower-cased logins of everyone who approved.
    pub fn current_approvers(&self) -> BTreeSet<String> {
        self.approvals.keys().cloned().collect()
    }

    /// Logins of everyone who approved, as written.
    pub fn current_approvers_cased(&self) -> BTreeSet<String> {
        self.approvals.values().map(|a| a.login.clone()).collect()
    }

    /// OWNERS directory -> the approvals that count there (logins as written).
    pub fn files_approvers(&self) -> BTreeMap<String, BTreeSet<String>> {
        let current = self.current_approvers_cased();
        self.owners
            .approvers()
            .into_iter()
            .map(|(dir, potential)| (dir, case_insensitive_intersection(&current, &potential)))
            .collect()
    }

    /// `no-issue` approvals by people who can approve some needed OWNERS file.
    pub fn no_issue_approvers(&self) -> BTreeMap<String, Approval> {
        let reverse = Owners::reverse_map(&self.owners.approvers());
        self.approvals
            .iter()
            .filter(|(login, a)| a.no_issue && reverse.get(*login).is_some_and(|d| !d.is_empty()))
            .map(|(login, a)| (login.clone(), a.clone()))
            .collect()
    }

    /// OWNERS directories no approver has approved yet.
    pub fn unapproved_files(&self) -> BTreeSet<String> {
        let owners = self.owners.owners_set();
        let current = self.current_approvers_cased();
        let mut unapproved = BTreeSet::new();
        for file in &self.owners.filenames {
            let dir = self.owners.repo.find_approver_owners_for_file(file);
            if !owners.contains(&dir) {
                continue;
            }
            let approvers = self.owners.repo.approvers(file).all();
            if case_insensitive_intersection(&approvers, &current).is_empty() {
                unapproved.insert(dir);
            }
        }
        unapproved
    }

    /// Every needed OWNERS file with its approval state, in path order (Prow's `GetFiles`).
    pub fn files(&self) -> Vec<OwnersFileStatus> {
        let approvers = self.files_approvers();
        let unapproved = self.unapproved_files();
        self.owners
            .owners_set()
            .into_iter()
            .map(|path| OwnersFileStatus {
                approved: !unapproved.contains(&path),
                approvers: approvers.get(&path).cloned().unwrap_or_default(),
                path,
            })
            .collect()
    }

    /// Whom the notification asks to approve: suggested leaf approvers covering what is left
    /// unapproved, plus assignees who would cover something (Prow's `GetCCs`).
    pub fn ccs(&self) -> Vec<String> {
        let potential = self.owners.potential_approvers();
        let current = self.current_approvers();
        let approvers_and_assignees: BTreeSet<String> =
            current.union(&self.assignees).cloned().collect();
        let leaf_reverse = Owners::reverse_map(&self.owners.leaf_approvers());
        let suggested = self.owners.keep_covering_approvers(
            &leaf_reverse,
            &approvers_and_assignees,
            &potential,
        );
        let approvers_and_suggested: BTreeSet<String> =
            current.union(&suggested).cloned().collect();
        let everyone: Vec<String> = approvers_and_suggested
            .union(&self.assignees)
            .cloned()
            .collect();
        let full_reverse = Owners::reverse_map(&self.owners.approvers());
        let keep_assignees =
            self.owners
                .keep_covering_approvers(&full_reverse, &approvers_and_suggested, &everyone);
        suggested.union(&keep_assignees).cloned().collect()
    }

    /// CCs who are already assigned.
    pub fn assigned_ccs(&self) -> Vec<String> {
        self.ccs()
            .into_iter()
            .filter(|cc| self.assignees.contains(cc))
            .collect()
    }

    /// CCs to suggest assigning.
    pub fn suggested_ccs(&self) -> Vec<String> {
        self.ccs()
            .into_iter()
            .filter(|cc| !self.assignees.contains(cc))
            .collect()
    }

    /// Every needed OWNERS file is approved (and there are files at all).
    pub fn are_files_approved(&self) -> bool {
        !self.owners.filenames.is_empty() && self.unapproved_files().is_empty()
    }

    /// Files approved and, when an issue is required, one linked or waived.
    pub fn requirements_met(&self) -> bool {
        self.are_files_approved()
            && (!self.require_issue
                || self.associated_issue.is_some_and(|n| n != 0)
                || !self.no_issue_approvers().is_empty())
    }

    /// Whether the `approved` label belongs on the pull request.
    pub fn is_approved(&self) -> bool {
        self.requirements_met() || self.manually_approved
    }

    /// Approvals in login order.
    pub fn list_approvals(&self) -> Vec<Approval> {
        self.approvals.values().cloned().collect()
    }

    pub fn list_no_issue_approvals(&self) -> Vec<Approval> {
        self.no_issue_approvers().into_values().collect()
    }
}

/// Where the approve notification's links point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationLinks {
    /// The GitHub web host, e.g. `https://github.com` (OWNERS file links go under it).
    pub github_url: String,
    /// The approve config's `commandHelpLink` (Deck's `/command-help`).
    pub command_help_link: String,
    /// The approve config's `pr_process_link`.
    pub pr_process_link: String,
}

/// Prow's approve notification comment marker (the comment starts with it).
pub const APPROVAL_NOTIFIER: &str = "[APPROVALNOTIFIER]";

fn user_links(logins: &[String]) -> String {
    logins
        .iter()
        .map(|l| format!("[{l}](https://github.com/{l})"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn approval_list(approvals: &[Approval]) -> String {
    approvals
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{}{}", if i == 0 { " " } else { ", " }, a.markdown()))
        .collect()
}

impl Approvers<'_> {
    /// The approve plugin's notification comment for `org/repo` at `branch`, as Prow's
    /// `GetMessage` writes it (title, approvals, whom to ask, the associated issue, the
    /// OWNERS files with links, and the `<!-- META -->` line listing the CCs).
    pub fn notification(
        &self,
        links: &NotificationLinks,
        org: &str,
        repo: &str,
        branch: &str,
    ) -> String {
        let manual = self.manually_approved;
        let files_approved = self.are_files_approved();
        let ccs = self.ccs();
        let assigned = self.assigned_ccs();
        let suggested = self.suggested_ccs();
        let review = |link: &str| {
            format!(
                "**Once this PR has been reviewed and has the lgtm label**, {link}. For more information see [the Code Review Process]({})",
                links.pr_process_link
            )
        };
        let mut message = String::new();
        if !self.requirements_met() && manual {
            message.push_str("Approval requirements bypassed by manually added approval.\n\n");
        }
        message.push_str("This pull-request has been approved by:");
        message.push_str(&approval_list(&self.list_approvals()));
        if !files_approved && !manual {
            message.push('\n');
            match (suggested.is_empty(), assigned.is_empty()) {
                (false, false) => message.push_str(&review(&format!(
                    "please ask for approval from {} and additionally assign {} for approval",
                    user_links(&assigned),
                    user_links(&suggested)
                ))),
                (false, true) => message.push_str(&review(&format!(
                    "please assign {} for approval",
                    user_links(&suggested)
                ))),
                (true, false) => message.push_str(&review(&format!(
                    "please ask for approval from {}",
                    user_links(&assigned)
                ))),
                (true, true) => {}
            }
            if !(suggested.is_empty() && assigned.is_empty()) {
                message.push('.');
            }
        }
        message.push_str("\n\n");
        if self.require_issue {
            let no_issue = self.list_no_issue_approvals();
            match self.associated_issue.filter(|n| *n != 0) {
                Some(issue) => message.push_str(&format!("Associated issue: *#{issue}*\n\n")),
                None if !no_issue.is_empty() => message.push_str(&format!(
                    "Associated issue requirement bypassed by:{}\n\n",
                    approval_list(&no_issue)
                )),
                None if manual => message.push_str(
                    "*No associated issue*. Requirement bypassed by manually added approval.\n\n",
                ),
                None => message.push_str(
                    "*No associated issue*. Update pull-request body to add a reference to an issue, or get approval with `/approve no-issue`\n\n",
                ),
            }
        }
        message.push_str(&format!(
            "The full list of commands accepted by this bot can be found [here]({}?repo={org}%2F{repo}).\n\n",
            links.command_help_link
        ));
        if files_approved || manual {
            message.push_str(&format!(
                "The pull request process is described [here]({})\n\n",
                links.pr_process_link
            ));
        }
        let open = if !files_approved && !manual {
            "open"
        } else {
            ""
        };
        message.push_str(&format!(
            "<details {open}>\nNeeds approval from an approver in each of these files:\n\n"
        ));
        let base = format!("{}/{org}/{repo}", links.github_url.trim_end_matches('/'));
        let owners_filename = &self.owners.repo.filenames().owners;
        for file in self.files() {
            message.push_str(&file.markdown(&base, branch, owners_filename));
        }
        message.push_str("\nApprovers can indicate their approval by writing `/approve` in a comment\nApprovers can cancel approval by writing `/approve cancel` in a comment\n</details>");
        let meta = serde_json::json!({ "approvers": ccs });
        message.push_str(&format!("\n<!-- META={meta} -->"));
        let title = if self.is_approved() {
            "This PR is **APPROVED**"
        } else {
            "This PR is **NOT APPROVED**"
        };
        format!("{APPROVAL_NOTIFIER} {title}\n\n{}", message.trim())
    }
}

/// The items of `one` whose lower-cased form is in `other` (lower-cased).
fn case_insensitive_intersection(
    one: &BTreeSet<String>,
    other: &BTreeSet<String>,
) -> BTreeSet<String> {
    let lower: BTreeSet<String> = other.iter().map(|s| s.to_lowercase()).collect();
    one.iter()
        .filter(|item| lower.contains(&item.to_lowercase()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dir_matches_filepath_dir() {
        assert_eq!(go_dir("a/b/c.go"), "a/b");
        assert_eq!(go_dir("c.go"), ".");
        assert_eq!(go_dir("."), ".");
        assert_eq!(go_dir(go_dir("a/b.go")), ".");
    }
}
