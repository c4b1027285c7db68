//! prow-core: the kube-free domain of prow-rs (ProwJob types, Prow config, job selection, events).

pub mod clock;
pub mod commands;
pub mod config;
pub mod cron;
pub mod duration;
pub mod events;
pub mod gotemplate;
pub mod jobspec;
pub mod naming;
pub mod prowjob;
pub mod prowjob_new;
pub mod respond;
pub mod selection;
pub mod status_description;
