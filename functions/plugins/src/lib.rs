//! prow-plugins: Prow's ChatOps plugins (approve, assign, blunderbuss, hold, lgtm, owners-label,
//! verify-owners) as one CloudEvent function.
//!
//! Each plugin ([`plugin::Plugin`]) says which GitHub facts an event needs and decides purely;
//! the shell fetches the union of those facts once per event, then applies every enabled
//! plugin's actions through the narrow [`github::PluginGitHub`] port. Events are delivered at
//! least once, so every action converges on a repeat (labels and assignments are states, and a
//! comment we already made is not made again).
//!
//! [`Flags`] flatten `prow_runtime::ConfigArgs` and `prow_github::GitHubArgs` like every function's.
//!
//! Without the default `function` feature the crate is only the registry ([`registry`], the
//! decisions and [`help`]), which is what Deck's `/plugin-help` reads.

pub mod approve;
pub mod assign;
pub mod blockade;
pub mod blunderbuss;
pub mod branchcleaner;
pub mod dco;
pub mod event;
pub mod help;
pub mod help_wanted;
pub mod hold;
pub mod invalidcommitmsg;
pub mod label;
pub mod lgtm;
pub mod lifecycle;
pub mod mergecommitblocker;
pub mod milestone;
pub mod milestoneapplier;
pub mod override_;
pub mod owners_label;
pub mod plugin;
pub mod registry;
pub mod release_note;
pub mod require_matching_label;
pub mod respond;
pub mod retitle;
pub mod shrug;
pub mod size;
pub mod skip;
pub mod trigger;
pub mod verify_owners;
pub mod welcome;
pub mod wip;

#[cfg(feature = "function")]
pub mod github;
#[cfg(feature = "function")]
pub mod metrics;
#[cfg(feature = "function")]
mod server;
#[cfg(feature = "function")]
pub mod shell;

#[cfg(feature = "function")]
pub use server::{Flags, PluginsState, StartError, app, router};

#[cfg(test)]
mod testing;
